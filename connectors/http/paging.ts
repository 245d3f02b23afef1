/**
 * Page-numbered reads that always end. Counts are a hint, not a promise: records are added and removed while a run
 * pages through them, so reading stops at the first short or empty page even when the count said more, keeps going
 * while pages stay full (records were added) — but never more than a few pages past what the count implied.
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

export interface PagingOptions {
  pageSize: number;
  /** From a separate count request, if any. */
  total?: number | undefined;
  fetchPage(page: number, signal: AbortSignal): Promise<Page>;
  signal?: AbortSignal | undefined;
  lookahead?: boolean;
  /** Full pages tolerated past ceil(total / pageSize). */
  extraPages?: number;
  /** The error for a server that keeps sending full pages past the limit (it probably ignores `page`). */
  overrun(pagesRead: number, total: number | undefined): Error;
}

const NO_COUNT_LIMIT = 100_000;

export async function* readPages(opts: PagingOptions): AsyncGenerator<readonly unknown[]> {
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const extra = opts.extraPages ?? 3;
  let total = opts.total;
  let size = opts.pageSize;
  const expectedPages = () => (total === undefined ? undefined : Math.ceil(total / size));
  const start = (page: number): Promise<Page> => {
    const p = opts.fetchPage(page, signal);
    p.catch(() => undefined); // a look-ahead the consumer never awaits must not become an unhandled rejection
    return p;
  };

  let page = 1;
  let pending: Promise<Page> | undefined = start(1);
  try {
    while (pending) {
      const current: Page = await pending;
      pending = undefined;
      if (page === 1) {
        total ??= current.total;
        if (current.pageSize !== undefined && current.pageSize > 0 && current.pageSize < size) size = current.pageSize;
      }
      const n = current.records.length;
      const full = n >= size;
      if (full) {
        const expected = expectedPages();
        if (page >= (expected === undefined ? NO_COUNT_LIMIT : Math.max(expected, 1) + extra)) throw opts.overrun(page, total);
        if (opts.lookahead && expected !== undefined && page + 1 <= expected) pending = start(page + 1);
      }
      // A page that arrived just as the run was stopped is not handed on.
      opts.signal?.throwIfAborted();
      if (n > 0) yield current.records;
      if (!full) return;
      page++;
      pending ??= start(page);
    }
  } finally {
    stop.abort(); // a look-ahead still in flight when the consumer stops
  }
}
