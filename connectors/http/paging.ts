import { setMaxListeners } from 'node:events';
import crypto from 'node:crypto';
import { FerryError } from '../../src/core/errors.js';

/**
 * Page-numbered reads that end complete or fail. The source's count is what the file must add up to: a short page does
 * not end the read while the count says more records exist (a server may clip pages to a size it never reports), only
 * an empty page does, or a short one once the count is reached. Full pages past the count are read on (records were
 * added), but never more than a few pages past what the count implied.
 *
 * Offset paging cannot see a record deleted (or added) before the page being read: the rest shift by one, and a
 * still-enrolled record is skipped without any page looking wrong, even when the total is unchanged (one deleted, one
 * added). So the read is checked twice at the end: what was read against the count (within `tolerance`), and each
 * page seam (the last record of every page but the last, fetched again as a one-record page) against what was read
 * there. Either check failing means the data moved during the read: the error is for the caller to make retryable.
 *
 * With `lookahead`, the next page (when the count says it exists) is requested while the consumer handles this one,
 * so at most two pages are held at once.
 */
export interface Page {
  readonly records: readonly unknown[];
  /** Total the server reports alongside the page (eSchoolData's pagingInfo.totalCount). */
  readonly total?: number | undefined;
  /** Page size the server says it used, when it may have clipped the one asked for. */
  readonly pageSize?: number | undefined;
}

/** Why a finished read does not add up. */
export type Incomplete =
  | { readonly reason: 'count'; readonly read: number; readonly total: number; readonly tolerance: number }
  /** `page`'s last record is no longer where it was: records moved between reading it and the next page. */
  | { readonly reason: 'moved'; readonly read: number; readonly total: number | undefined; readonly page: number };

export interface PagingOptions {
  pageSize: number;
  /** From a separate count request, if any. */
  total?: number | undefined;
  /** `size` is the page size to ask for: the configured one, or the smaller one the server turned out to use. */
  fetchPage(page: number, size: number, signal: AbortSignal): Promise<Page>;
  signal?: AbortSignal | undefined;
  lookahead?: boolean;
  /** Full pages tolerated past ceil(total / pageSize). */
  extraPages?: number;
  /** Records the read may differ from the count by and still pass. Default 0. */
  tolerance?: number | undefined;
  /** The error for a server that keeps sending full pages past the limit (it probably ignores `page`). */
  overrun(pagesRead: number, total: number | undefined): Error;
  /** The error for a read that does not add up (see Incomplete). */
  incomplete(problem: Incomplete): Error;
}

const NO_COUNT_LIMIT = 100_000;

const fingerprint = (record: unknown): string => crypto.createHash('sha1').update(JSON.stringify(record) ?? '').digest('base64');

export async function* readPages(opts: PagingOptions): AsyncGenerator<readonly unknown[]> {
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  // Every request in flight or waiting for the connection limit listens on this signal until it ends: more than
  // Node's default of 10 is normal here, not a leak, and its warning would print outside the JSON log stream.
  setMaxListeners(0, signal);
  const extra = opts.extraPages ?? 3;
  let total = opts.total;
  let size = opts.pageSize;
  const expectedPages = () => (total === undefined ? undefined : Math.ceil(total / size));
  const start = (page: number): Promise<Page> => {
    const p = opts.fetchPage(page, size, signal);
    p.catch(() => undefined); // a look-ahead the consumer never awaits must not become an unhandled rejection
    return p;
  };

  let page = 1;
  let read = 0;
  /** Fingerprint of the last record of each page followed by another, by the position it was read at (1-based). */
  const seams: { page: number; position: number; print: string }[] = [];
  let pending: Promise<Page> | undefined = start(1);
  try {
    while (pending) {
      const current: Page = await pending;
      pending = undefined;
      const n = current.records.length;
      if (page === 1) {
        total ??= current.total;
        if (current.pageSize !== undefined && current.pageSize > 0 && current.pageSize < size) size = current.pageSize;
        // Fewer than asked while more exist: a clipped page. Page on with the size the server used.
        else if (n > 0 && n < size && (total === undefined || n < total)) size = n;
      }
      read += n;
      const full = n >= size;
      const more = n > 0 && (full || (total !== undefined && read < total));
      if (more) {
        const expected = expectedPages();
        if (full && page >= (expected === undefined ? NO_COUNT_LIMIT : Math.max(expected, 1) + extra)) throw opts.overrun(page, total);
        if (opts.lookahead && expected !== undefined && page + 1 <= expected) pending = start(page + 1);
        seams.push({ page, position: page * size, print: fingerprint(current.records[n - 1]) });
      }
      // A page that arrived just as the run was stopped is not handed on.
      opts.signal?.throwIfAborted();
      if (n > 0) yield current.records;
      if (!more) break;
      page++;
      pending ??= start(page);
    }
    if (total !== undefined && Math.abs(read - total) > (opts.tolerance ?? 0)) {
      throw opts.incomplete({ reason: 'count', read, total, tolerance: opts.tolerance ?? 0 });
    }
    // Seams are checked after the whole read: a shift at any time before a page was read shows at its seam.
    const moved = await Promise.all(
      seams.map(async (s) => {
        const again = await opts.fetchPage(s.position, 1, signal);
        const record = again.records.length === 1 ? again.records[0] : undefined;
        return record === undefined || fingerprint(record) !== s.print ? s.page : undefined;
      }),
    );
    const first = moved.find((p) => p !== undefined);
    if (first !== undefined) throw opts.incomplete({ reason: 'moved', read, total, page: first });
  } finally {
    stop.abort(); // a look-ahead still in flight when the consumer stops
  }
}

/** The retryable error for a read that does not add up: the data moved during the read, so a later try should not. */
export function incompleteRead(who: string, resource: string, problem: Incomplete, integration: string | undefined): FerryError {
  const what =
    problem.reason === 'count'
      ? `read ${problem.read} records but ${resource} counted ${problem.total}${problem.tolerance > 0 ? ` (more than completeness.tolerance ${problem.tolerance} apart)` : ''}; nothing was delivered (records changed during the read, or the server clipped pages; a retry reads it again)`
      : `records of ${resource} moved while it was paged (page ${problem.page} no longer ends with the record read there), so a record may have been skipped; nothing was delivered (a retry reads it again)`;
  return new FerryError('source_transient', `${who}: ${what}`, {
    integration,
    counts: { rows: problem.read, expected: problem.total },
  });
}
