import type { FakeReply } from './fake-http.js';

/**
 * Faults a test can switch on for the fake SIS APIs, through `server.faults` (a live object: set fields between or
 * during reads). Page-keyed faults are one-shot: they fire on the first request for that page (a 500 fires
 * `serverErrorTimes` times) and then clear themselves from the plan.
 */
export interface FaultPlan {
  /** Answer the first request for this page 401 with `WWW-Authenticate: … expired …`, and revoke the token in use. */
  expireTokenOnPage?: number;
  /** Answer this page 429 with `Retry-After: retryAfter` (default "1"). */
  rateLimitOnPage?: number;
  retryAfter?: string;
  /** Answer this page 500, `serverErrorTimes` times in a row (default 1). */
  serverErrorOnPage?: number;
  serverErrorTimes?: number;
  /** Answer this page 200 with a truncated JSON body, `malformedTimes` times in a row (default 1). */
  malformedOnPage?: number;
  malformedTimes?: number;
  /** Answer this page 200 with its real body, but close the connection half-way through it (a network drop). */
  dropOnPage?: number;
  /** Never answer this page: the request stays open until the client gives up on it. */
  stallOnPage?: number;
  /**
   * Records change right after the count is served (PowerSchool /count, eSchoolData page 1):
   * `remove` drops that many from the start of the list, `add` appends that many new students. With `afterPage`, they
   * change right after that page is served instead (mid-paging: the pages after it shift).
   */
  countDrift?: { remove?: number; add?: number; afterPage?: number };
  /** Delay every authorised API response by this long. */
  delayMs?: number;
  /** Paths (as requested, e.g. /ws/v1/district/student or /api/v1/students) answered `disabledStatus` (default 404). */
  disabledEndpoints?: string[];
  disabledStatus?: 403 | 404;
}

/**
 * The page-keyed fault for this request, if any; 'expire' means "revoke the token and answer 401 expired"; 'cut' and
 * 'stall' are for the fake to set on the request (`FakeRequest.fault`), so the page's real reply is cut or withheld.
 */
export function takePageFault(f: FaultPlan, page: number): FakeReply | 'expire' | 'cut' | 'stall' | undefined {
  if (f.expireTokenOnPage === page) {
    delete f.expireTokenOnPage;
    return 'expire';
  }
  if (f.rateLimitOnPage === page) {
    delete f.rateLimitOnPage;
    return { status: 429, body: { message: 'Too Many Requests' }, headers: { 'Retry-After': f.retryAfter ?? '1' } };
  }
  if (f.serverErrorOnPage === page) {
    const left = (f.serverErrorTimes ?? 1) - 1;
    if (left <= 0) {
      delete f.serverErrorOnPage;
      delete f.serverErrorTimes;
    } else {
      f.serverErrorTimes = left;
    }
    return { status: 500, body: { message: 'Internal Server Error' } };
  }
  if (f.dropOnPage === page) {
    delete f.dropOnPage;
    return 'cut';
  }
  if (f.stallOnPage === page) {
    delete f.stallOnPage;
    return 'stall';
  }
  if (f.malformedOnPage === page) {
    const left = (f.malformedTimes ?? 1) - 1;
    if (left <= 0) {
      delete f.malformedOnPage;
      delete f.malformedTimes;
    } else {
      f.malformedTimes = left;
    }
    return { status: 200, raw: '{"record":[{"id":101,"name":' };
  }
  return undefined;
}

export function disabledReply(f: FaultPlan, path: string): FakeReply | undefined {
  if (!f.disabledEndpoints?.includes(path)) return undefined;
  const status = f.disabledStatus ?? 404;
  return { status, body: { message: status === 403 ? 'Forbidden: endpoint not enabled' : 'Not Found' } };
}
