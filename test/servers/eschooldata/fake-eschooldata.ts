import { DEFAULT_DISTRICT, demoStudents, type DemoStudent } from '../demo-students.js';
import { bearerToken, startFakeHttp, type FakeReply, type FakeRequest, type RequestLog } from '../fake-http.js';
import { disabledReply, takePageFault, type FaultPlan } from '../fault-plan.js';
import { createTokenStore } from '../fake-tokens.js';
import { esdRecords, gradeCode } from './esd-records.js';

export { esdStudentId, gradeCode } from './esd-records.js';

/**
 * A fake eSchoolData GURU API after the one observed client (reference §2.1): `POST /api/v1/auth/token` with
 * client_id/client_secret in a form body, `GET /api/v1/<endpoint>?pageNo=&pageSize=` answering
 * `{"pagingInfo":{"totalCount","pageNo","pageSize"},"data":[…]}`. The record fields are this fake's own choice
 * (studentStatus as Operoo shows it; the rest is UNCONFIRMED): eSD's real schemas are not public.
 *
 * Endpoints (every one but students and schools is an UNCONFIRMED path, see extracts/eschooldata/README.md):
 * students, schools, districts, schoolyears, staff, courses, sections, foodservice/accounts, attendance/daily.
 * Each honours the query parameters listed in `routes` (e.g. buildingCode, schoolYear); others are ignored, as many
 * APIs do.
 * Any of them can be switched off for the district with `faults.disabledEndpoints`.
 */
export interface FakeESchoolDataOptions {
  clientId: string;
  clientSecret: string;
  students?: DemoStudent[];
  district?: string;
  /** Larger pageSize requests are clipped to this (default 100); pagingInfo.pageSize says what was used. */
  maxPageSize?: number;
  /** Leave pageSize out of pagingInfo, so a clipped page shows only in its length. */
  hidePageSize?: boolean;
  tokenTtlSeconds?: number;
  faults?: FaultPlan;
}

export interface FakeESchoolData {
  url: string;
  /** `${url}/api/v1/auth/token` */
  tokenUrl: string;
  /** `${url}/api/v1` */
  apiBase: string;
  requests: RequestLog[];
  faults: FaultPlan;
  readonly tokensIssued: number;
  readonly peakInFlight: number;
  whenIdle(): Promise<void>;
  whenStalled(): Promise<void>;
  close(): Promise<void>;
}

export function esdStudent(s: DemoStudent): Record<string, unknown> {
  return {
    studentId: 50_000 + s.seq,
    districtStudentId: s.studentNumber,
    stateStudentId: s.stateId,
    firstName: s.firstName,
    middleName: s.middleName,
    lastName: s.lastName,
    gender: s.gender,
    birthDate: s.birthDate,
    email: s.email,
    schoolYear: s.schoolYear,
    buildingCode: s.schoolCode,
    gradeLevel: gradeCode(s.gradeLevel),
    studentStatus: s.active ? 'Active' : 'Inactive',
    entryDate: s.entryDate,
    exitDate: s.exitDate,
  };
}

export async function startFakeESchoolData(opts: FakeESchoolDataOptions): Promise<FakeESchoolData> {
  const district = opts.district ?? DEFAULT_DISTRICT;
  const esd = esdRecords(district);
  /** Path → the records and which query parameters filter on which field (compared as text). */
  const routes: Record<string, { list: () => readonly Record<string, unknown>[]; query: Record<string, string> }> = {
    '/api/v1/schools': { list: () => esd.schools, query: {} },
    '/api/v1/districts': { list: () => esd.districts, query: {} },
    '/api/v1/schoolyears': { list: () => esd.schoolYears, query: { schoolYear: 'schoolYear' } },
    '/api/v1/staff': { list: () => esd.staff, query: { buildingCode: 'buildingCode', staffStatus: 'staffStatus' } },
    '/api/v1/courses': { list: () => esd.courses, query: {} },
    '/api/v1/sections': { list: () => esd.sections, query: { schoolYear: 'schoolYear', buildingCode: 'buildingCode' } },
    '/api/v1/foodservice/accounts': { list: () => esd.lunchAccounts, query: { buildingCode: 'student.buildingCode' } },
    '/api/v1/attendance/daily': { list: () => esd.dailyAttendance, query: { date: 'attendanceDate', buildingCode: 'buildingCode' } },
  };
  const field = (r: Record<string, unknown>, path: string): string => {
    let v: unknown = r;
    for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    return v === undefined || v === null ? '' : String(v);
  };
  const queried = (req: FakeRequest, list: readonly Record<string, unknown>[], query: Record<string, string>) =>
    list.filter((r) => Object.entries(query).every(([param, path]) => {
      const want = req.query.get(param);
      return want === null || field(r, path) === want;
    }));
  let students = [...(opts.students ?? demoStudents(district))];
  const maxPageSize = opts.maxPageSize ?? 100;
  const faults: FaultPlan = opts.faults ?? {};
  const tokens = createTokenStore(opts.tokenTtlSeconds ?? 3600);

  /** The total goes out with every page; without `afterPage`, records change right after page 1. */
  const drift = (pageNo: number) => {
    const d = faults.countDrift;
    if (!d || (d.afterPage ?? 1) !== pageNo) return;
    delete faults.countDrift;
    students = students.slice(d.remove ?? 0);
    const last = students[students.length - 1] ?? demoStudents(district)[0]!;
    const top = Math.max(0, ...students.map((s) => s.seq));
    for (let i = 1; i <= (d.add ?? 0); i++) students.push({ ...last, seq: top + i, studentId: `NEW-${top + i}`, studentNumber: `N${top + i}`, stateId: `990${top + i}` });
  };

  const page = (req: FakeRequest, list: readonly Record<string, unknown>[]): FakeReply => {
    const pageNo = Number(req.query.get('pageNo') ?? '1');
    const asked = Number(req.query.get('pageSize') ?? String(maxPageSize));
    if (!Number.isInteger(pageNo) || pageNo < 1 || !Number.isInteger(asked) || asked < 1) {
      return { status: 400, body: { message: 'pageNo and pageSize must be positive integers' } };
    }
    const size = Math.min(asked, maxPageSize);
    const data = list.slice((pageNo - 1) * size, pageNo * size);
    return { status: 200, body: { pagingInfo: { totalCount: list.length, pageNo, ...(opts.hidePageSize ? {} : { pageSize: size }) }, data } };
  };

  const server = await startFakeHttp(async (req) => {
    if (req.method === 'POST' && req.path === '/api/v1/auth/token') {
      const form = new URLSearchParams(req.body);
      req.log.auth = 'form';
      if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type' } };
      if (form.get('client_id') !== opts.clientId || form.get('client_secret') !== opts.clientSecret) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      const t = tokens.issue();
      req.log.tokenSeq = tokens.issued;
      return { status: 200, body: { access_token: t.token, token_type: 'Bearer', expires_in: t.expiresIn } };
    }
    if (!req.path.startsWith('/api/v1/')) return { status: 404, body: { message: 'Not Found' } };
    const token = bearerToken(req.headers);
    req.log.auth = token ? 'bearer' : 'none';
    const check = tokens.check(token);
    if (!check.ok) return unauthorized(check.expired);
    req.log.tokenSeq = check.seq;
    const disabled = disabledReply(faults, req.path);
    if (disabled) return { ...disabled, body: { message: 'This endpoint is not enabled for the district' } };
    const pageNo = Number(req.query.get('pageNo') ?? '1');
    const fault = takePageFault(faults, pageNo);
    if (fault === 'expire') {
      tokens.revoke();
      return unauthorized(true);
    }
    if (fault === 'cut' || fault === 'stall') req.fault = fault;
    else if (fault) return fault.raw ? { ...fault, raw: '{"pagingInfo":{"totalCount":' } : fault;
    if (faults.delayMs) await server.delay(faults.delayMs);

    if (req.method === 'GET' && req.path === '/api/v1/students') {
      const year = req.query.get('schoolYear');
      const building = req.query.get('buildingCode');
      const status = req.query.get('studentStatus');
      const contacts = req.query.get('includeContacts') === 'true';
      const list = students
        .map((s): Record<string, unknown> => {
          const extra = esd.studentExtras.get(s.studentId);
          return { ...esdStudent(s), displayName: extra?.displayName ?? `${s.firstName} ${s.lastName}`, ...(contacts ? { contacts: extra?.contacts ?? [] } : {}) };
        })
        .filter((r) => (year === null || String(r['schoolYear']) === year) && (building === null || r['buildingCode'] === building) && (status === null || r['studentStatus'] === status));
      const reply = page(req, list);
      drift(pageNo);
      return reply;
    }
    const route = req.method === 'GET' ? routes[req.path] : undefined;
    if (route) return page(req, queried(req, route.list(), route.query));
    return { status: 404, body: { message: 'Not Found' } };
  });

  return {
    url: server.url,
    tokenUrl: `${server.url}/api/v1/auth/token`,
    apiBase: `${server.url}/api/v1`,
    requests: server.requests,
    faults,
    get tokensIssued() {
      return tokens.issued;
    },
    get peakInFlight() {
      return server.peakInFlight;
    },
    whenIdle: () => server.whenIdle(),
    whenStalled: () => server.whenStalled(),
    close: () => server.close(),
  };
}

function unauthorized(expired: boolean): FakeReply {
  return {
    status: 401,
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${expired ? 'The access token expired' : 'Invalid token'}"` },
    body: { message: 'Authorization has been denied for this request.' },
  };
}
