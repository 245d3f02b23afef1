import type { ApiSourceOptions } from '../http/api-source-options.js';
import { FerryError } from '../../src/core/errors.js';
import { abortedError } from '../aborted.js';
import type { BindValue, BoundQuery, ConnectionInfo, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { createHttpClient, type HttpResponse } from '../http/http-client.js';
import { createTokenProvider, sendAuthorized } from '../http/oauth-token.js';
import { incompleteRead, readPages } from '../http/paging.js';
import { columnPaths, isObject, parseRequestBlock, rowsOf, substituteParams } from '../http/records.js';
import { afterFetchFilter, missingFilterPath, wantedFilters, type FilterName } from '../http/standard-filters.js';
import { powerSchoolRequestSchema, type PowerSchoolRequest } from './powerschool-request.js';
import { countOf, malformed, recordsOfEnvelope, recordsOfQuery, statusError, type Ctx } from './powerschool-responses.js';

export { powerSchoolRequestSchema, type PowerSchoolRequest } from './powerschool-request.js';

export interface PowerSchoolSourceOptions extends ApiSourceOptions {
  /** e.g. https://district.powerschool.com (no trailing path); the plugin's maximum page size from /ws/v1/metadata caps pageSize. */
  baseUrl: string;
}

type Metadata = Readonly<Record<string, unknown>>;

/** PowerSchool SIS over its plugin API: OAuth2 client credentials, `/ws/v1` resources and PowerQueries. */
export function createPowerSchoolSource(opts: PowerSchoolSourceOptions): Source {
  const who = `${opts.integration ? `integration ${opts.integration}: ` : ''}source ${opts.id}`;
  const ctx: Ctx = { who, integration: opts.integration, id: opts.id };
  const base = opts.baseUrl.replace(/\/+$/, '');
  const http = createHttpClient({
    who,
    integration: opts.integration,
    field: `sources.${opts.id}.baseUrl`,
    timeoutMs: opts.timeoutSeconds * 1000,
    maxConcurrency: opts.maxConcurrency,
    retries: opts.retries ?? 4,
    sleep: opts.sleep,
  });
  const authField = `sources.${opts.id}.clientSecret`;

  const tokens = createTokenProvider(async (signal) => {
    const basic = Buffer.from(`${opts.clientId()}:${opts.clientSecret()}`).toString('base64');
    const res = await http.send({
      method: 'POST',
      url: `${base}/oauth/access_token`,
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8', Accept: 'application/json' },
      body: 'grant_type=client_credentials',
      signal,
    });
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new FerryError('source_auth', `${who} field clientSecret: PowerSchool refused the client credentials${oauthError(res)}; check the plugin's client ID and secret`, {
        integration: opts.integration,
        field: authField,
        cause: new Error(`HTTP ${res.status} from ${res.path}`),
      });
    }
    if (res.status !== 200) {
      throw new FerryError('source_connect', `${who}: no OAuth token endpoint at ${res.path} (HTTP ${res.status}) — check baseUrl and that the plugin enables <oauth/>`, {
        integration: opts.integration,
        field: `sources.${opts.id}.baseUrl`,
      });
    }
    const body = res.json;
    if (!isObject(body) || typeof body['access_token'] !== 'string') throw malformed(res.path, 'no access_token', ctx);
    // expires_in arrives as a string ("1814654").
    return { accessToken: body['access_token'], expiresInSeconds: Number(body['expires_in']) };
  }, opts.now);

  const call = async (
    method: 'GET' | 'POST',
    path: string,
    o: { params?: Record<string, string | number>; json?: unknown; signal?: AbortSignal | undefined; options?: StreamOptions; powerQuery?: string },
  ): Promise<HttpResponse> => {
    const res = await sendAuthorized(http, tokens, {
      method,
      url: `${base}${path}`,
      params: o.params,
      headers: { Accept: 'application/json', ...(o.json === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: o.json === undefined ? undefined : JSON.stringify(o.json),
      signal: o.signal,
      logger: o.options?.logger,
    });
    if (res.status !== 200) throw statusError(res, ctx, o.powerQuery);
    return res;
  };

  let metadata: Promise<Metadata> | undefined;
  const readMetadata = (signal?: AbortSignal): Promise<Metadata> => {
    metadata ??= call('GET', '/ws/v1/metadata', { signal }).then((res) => {
      const body = res.json;
      if (!isObject(body) || !isObject(body['metadata'])) throw malformed(res.path, 'no "metadata" object', ctx);
      return body['metadata'];
    });
    metadata.catch(() => (metadata = undefined)); // a failed read is tried again next time
    return metadata;
  };
  const pageSizeFor = (meta: Metadata, key: string): number => {
    const max = Number(meta[key]);
    const wanted = opts.pageSize ?? 100;
    return Number.isInteger(max) && max > 0 ? Math.min(wanted, max) : wanted;
  };

  /** The rows of one extract: count, then pages (see paging.ts), filtered where the API cannot filter. */
  async function* readRows(query: BoundQuery, options: StreamOptions): AsyncGenerator<RowBatch> {
    const request = parseRequestBlock(powerSchoolRequestSchema, query.request, who, opts.integration);
    const { names, paths } = columnPaths(query.columns, who, opts.integration);
    const signal = options.signal;
    const meta = await readMetadata(signal);
    const plan = planRead(request, query.values, meta);
    const filter = afterFetchFilter(request.filters, wantedFilters(query.values), plan.pushed, who, opts.integration);
    const total = countOf(await call(plan.method, `${plan.path}/count`, { ...plan.common, params: plan.countParams, signal, options }), ctx);
    const types = query.columns!.map((c) => c.type);
    let read = 0;
    let kept = 0;
    let pages = 0;
    for await (const records of readPages({
      pageSize: plan.pageSize,
      total,
      signal,
      lookahead: opts.maxConcurrency > 1,
      tolerance: opts.tolerance,
      fetchPage: async (page, size, s) => {
        const res = await call(plan.method, plan.path, { ...plan.common, params: { ...plan.common.params, page, pagesize: size }, signal: s, options });
        return { records: plan.records(res) };
      },
      overrun: (n) => new FerryError('source_query', `${who}: ${plan.path} kept returning full pages past the ${total} records its count reported (stopped after ${n} pages)`, { integration: opts.integration }),
      incomplete: (problem) => incompleteRead(who, plan.path, problem, opts.integration),
    })) {
      pages++;
      read += records.length;
      const rows = filter ? records.filter(filter.keep) : records;
      kept += rows.length;
      if (rows.length > 0) yield { columns: names, rows: rowsOf(rows, paths, types) };
    }
    if (read > 0 && kept === 0) filter?.throwIfUnmatched(read);
    options.logger?.info('api read complete', { path: plan.path, pages, read, kept, tokenRequests: tokens.fetches });
    // The last batch carries the count the read was reconciled against.
    yield { columns: names, rows: [], expected: total };
  }

  return {
    kind: 'powerschool',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      try {
        yield* readRows(query, options);
      } catch (err) {
        throw options.signal?.aborted ? abortedError(options.signal, who, opts.integration) : err;
      }
    },

    async testConnection(o = {}): Promise<ConnectionInfo> {
      const time = await http.send({ method: 'GET', url: `${base}/ws/v1/time`, headers: { Accept: 'application/json' }, signal: o.signal });
      const meta = await readMetadata(o.signal); // needs a token: proves the credentials
      const details: Record<string, string | number> = {};
      const put = (k: string, v: unknown) => {
        if (typeof v === 'string' || typeof v === 'number') details[k] = v;
      };
      put('pluginId', meta['plugin_id']);
      put('districtUuid', meta['district_uuid']);
      put('districtTimezone', meta['district_timezone']);
      put('state', meta['state']);
      put('maxPageSize', meta['student_max_page_size']);
      if (time.status === 200) put('serverTime', serverTimeOf(time.body));
      return { server: `PowerSchool ${String(meta['powerschool_version'] ?? 'unknown version')}`, details };
    },

    async close() {
      http.close();
    },
  };

  function planRead(request: PowerSchoolRequest, values: Readonly<Record<string, BindValue>>, meta: Metadata) {
    const pushed = new Set<FilterName>();
    if (request.powerQuery !== undefined) {
      const name = request.powerQuery;
      const args = substituteParams(request.args, values, (p) => {
        throw new FerryError('config', `${who}: request.args uses {{${p}}}, which is not a parameter of this extract`, { integration: opts.integration, field: 'request.args' });
      });
      return {
        method: 'POST' as const,
        path: `/ws/schema/query/${name}`,
        common: { json: args, powerQuery: name, params: {} as Record<string, string | number> },
        countParams: {},
        pageSize: pageSizeFor(meta, 'schema_table_query_max_page_size'),
        records: (res: HttpResponse) => recordsOfQuery(res, ctx),
        pushed,
      };
    }
    const resource = request.resource!.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_m, p: string) => {
      const v = values[p];
      if (v === undefined || v === null || Array.isArray(v)) {
        throw new FerryError('config', `${who}: request.resource uses {${p}}, which needs a single-valued parameter of that name`, { integration: opts.integration, field: 'request.resource' });
      }
      return encodeURIComponent(String(v));
    });
    const recordKey = request.recordKey ?? request.resource!.split('/').filter((s) => s && !s.startsWith('{')).pop()!;
    const wanted = wantedFilters(values);
    const q = request.q ? [request.q] : [];
    if (wanted.grades) {
      const path = request.filters.grades;
      if (!path) throw missingFilterPath('grades', who, opts.integration);
      if (Number.isFinite(wanted.grades.min)) q.push(`${path}=ge=${wanted.grades.min}`);
      if (Number.isFinite(wanted.grades.max)) q.push(`${path}=le=${wanted.grades.max}`);
      pushed.add('grades');
    }
    const active = request.filters.activeOnly;
    if (wanted.activeOnly && active && active.active.length === 1) {
      q.push(`${active.path}==${String(active.active[0])}`);
      pushed.add('activeOnly');
    }
    const params: Record<string, string | number> = {};
    if (q.length > 0) params['q'] = q.join(';');
    const countParams = { ...params };
    if (request.expansions.length > 0) params['expansions'] = request.expansions.join(',');
    if (request.extensions.length > 0) params['extensions'] = request.extensions.join(',');
    return {
      method: 'GET' as const,
      path: resource,
      common: { params },
      countParams,
      pageSize: pageSizeFor(meta, `${recordKey}_max_page_size`),
      records: (res: HttpResponse) => recordsOfEnvelope(res, recordKey, ctx),
      pushed,
    };
  }
}

/** The `error` code of an OAuth error body (`invalid_client`), never the rest of it. */
function oauthError(res: HttpResponse): string {
  try {
    const body = JSON.parse(res.body) as unknown;
    const code = isObject(body) ? body['error'] : undefined;
    return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? ` (${code})` : '';
  } catch {
    return '';
  }
}

function serverTimeOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    const t = isObject(parsed) ? (isObject(parsed['time']) ? parsed['time']['time'] ?? parsed['time']['iso'] : parsed['time']) : undefined;
    return typeof t === 'string' ? t.slice(0, 40) : undefined;
  } catch {
    return undefined;
  }
}
