import type { ApiSourceOptions } from '../http/api-source-options.js';
import { FerryError } from '../../src/core/errors.js';
import { abortedError } from '../aborted.js';
import { classifyStatus } from '../http/http-errors.js';
import type { BindValue, BoundQuery, CellValue, ConnectionInfo, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { createHttpClient, type HttpResponse } from '../http/http-client.js';
import { createTokenProvider, sendAuthorized } from '../http/oauth-token.js';
import { incompleteRead, readPages, type Page } from '../http/paging.js';
import { columnPaths, isObject, parseRequestBlock, substituteParams } from '../http/records.js';
import { afterFetchFilter, wantedFilters, type FilterName, type FilterPaths } from '../http/standard-filters.js';
import { eSchoolDataRequestSchema, type ESchoolDataPart } from './eschooldata-request.js';
import { compilePart } from './record-mapping.js';

export { eSchoolDataRequestSchema, type ESchoolDataRequest } from './eschooldata-request.js';

export interface ESchoolDataSourceOptions extends ApiSourceOptions {
  /** e.g. https://guru.eschooldata.com/api/v1/auth/token */
  tokenUrl: string;
  /** e.g. https://guru.eschooldata.com/api/v1 (the district's "Client API URL"); a smaller pageSize echoed in pagingInfo wins. */
  apiBase: string;
}

/**
 * eSchoolData's GURU API: OAuth2 client credentials posted as a form (client_id/client_secret in the body, as the one
 * observed client does), then `GET {apiBase}/{endpoint}?pageNo=&pageSize=` answering
 * `{"pagingInfo":{"totalCount","pageNo","pageSize"},"data":[…]}`. A request may have several parts (endpoints read
 * one after the other into one file); each record becomes rows by the part's `each`, filters, `where` and column
 * sources (record-mapping.ts).
 */
export function createESchoolDataSource(opts: ESchoolDataSourceOptions): Source {
  const who = `${opts.integration ? `integration ${opts.integration}: ` : ''}source ${opts.id}`;
  const integration = opts.integration;
  const apiBase = opts.apiBase.replace(/\/+$/, '');
  const http = createHttpClient({
    who,
    integration,
    field: `sources.${opts.id}.apiBase`,
    timeoutMs: opts.timeoutSeconds * 1000,
    maxConcurrency: opts.maxConcurrency,
    retries: opts.retries ?? 4,
    sleep: opts.sleep,
  });
  const malformed = (path: string, detail: string) => new FerryError('source_query', `${who}: malformed response from ${path} (${detail})`, { integration });

  const tokens = createTokenProvider(async (signal) => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: opts.clientId(), client_secret: opts.clientSecret() });
    const res = await http.send({
      method: 'POST',
      url: opts.tokenUrl,
      field: `sources.${opts.id}.tokenUrl`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      signal,
    });
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new FerryError('source_auth', `${who} field clientSecret: eSchoolData refused the client credentials (HTTP ${res.status}); check the client ID and secret the district provisioned`, {
        integration,
        field: `sources.${opts.id}.clientSecret`,
      });
    }
    if (res.status !== 200) {
      throw new FerryError('source_connect', `${who}: no token endpoint at ${res.path} (HTTP ${res.status}) — check tokenUrl`, { integration, field: `sources.${opts.id}.tokenUrl` });
    }
    const body = res.json;
    if (!isObject(body) || typeof body['access_token'] !== 'string') throw malformed(res.path, 'no access_token');
    return { accessToken: body['access_token'], expiresInSeconds: Number(body['expires_in']) };
  }, opts.now);

  const get = async (endpoint: string, params: Record<string, string | number>, signal: AbortSignal | undefined, options: StreamOptions = {}, field = 'request.endpoint'): Promise<HttpResponse> => {
    const res = await sendAuthorized(http, tokens, { method: 'GET', url: `${apiBase}/${endpoint}`, params, headers: { Accept: 'application/json' }, signal, logger: options.logger });
    if (res.status === 200) return res;
    const base = { integration, cause: new Error(`HTTP ${res.status} from ${res.path}`) };
    if (res.status === 401) {
      throw new FerryError('source_auth', `${who}: eSchoolData rejected a freshly issued access token for ${res.path}`, { ...base, field: `sources.${opts.id}.clientSecret` });
    }
    if (res.status === 403 || res.status === 404) {
      throw new FerryError('source_query', `${who}: endpoint ${endpoint} is not enabled for this district (HTTP ${res.status})`, { ...base, field });
    }
    throw new FerryError(classifyStatus(res.status)?.kind ?? 'source_query', `${who}: ${res.path} answered HTTP ${res.status}`, base);
  };

  const pageOf = (res: HttpResponse, recordsKey: string): Page => {
    const body = res.json;
    if (!isObject(body)) throw malformed(res.path, 'not an object');
    const records = body[recordsKey];
    if (!Array.isArray(records)) throw malformed(res.path, `no "${recordsKey}" list`);
    const info = isObject(body['pagingInfo']) ? body['pagingInfo'] : {};
    const num = (v: unknown) => (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v)) ? Number(v) : undefined);
    return { records, total: num(info['totalCount']), pageSize: num(info['pageSize']) };
  };

  /** The rows of one extract: each part's pages in turn (see paging.ts), mapped and filtered record by record. */
  async function* readRows(query: BoundQuery, options: StreamOptions): AsyncGenerator<RowBatch> {
    const request = parseRequestBlock(eSchoolDataRequestSchema, query.request, who, integration);
    const { names } = columnPaths(query.columns, who, integration);
    const columns = query.columns!;
    const multi = request.parts.length > 1;
    // Every part is checked before the first request, so a config mistake in part 3 costs no reads.
    const plans = request.parts.map((part, i) => {
      const at = multi ? `request.parts.${i}` : 'request';
      const { params, filterPaths, pushed } = planRead(part, query.values, at);
      return { part, at, params, keep: afterFetchFilter(filterPaths, wantedFilters(query.values), pushed, who, integration), mapping: compilePart(part, at, columns, query.values, who, integration) };
    });
    const pageSize = opts.pageSize ?? 100;
    let kept = 0;
    /** The sum of the parts' totals; undefined when any part's server sent none. */
    let expected: number | undefined = 0;
    for (const { part, at, params, keep, mapping } of plans) {
      let total: number | undefined;
      let read = 0;
      let partKept = 0;
      for await (const records of readPages({
        pageSize,
        signal: options.signal,
        lookahead: opts.maxConcurrency > 1,
        tolerance: opts.tolerance,
        fetchPage: async (pageNo, size, s) => {
          const page = pageOf(await get(part.endpoint, { ...params, pageNo, pageSize: size }, s, options, `${at}.endpoint`), part.recordsKey);
          total ??= page.total;
          return page;
        },
        overrun: (n, t) => new FerryError('source_query', `${who}: endpoint ${part.endpoint} kept returning full pages past its totalCount of ${t ?? '?'} (stopped after ${n} pages)`, { integration }),
        incomplete: (problem) => incompleteRead(who, `endpoint ${part.endpoint}`, problem, integration),
      })) {
        read += records.length;
        const rows: CellValue[][] = [];
        for (const record of records) {
          for (const row of mapping.flatten(record)) {
            if ((keep === undefined || keep.keep(row)) && (mapping.where === undefined || mapping.where(row))) rows.push(mapping.cells(row));
          }
        }
        partKept += rows.length;
        if (rows.length > 0) yield { columns: names, rows };
      }
      if (read > 0 && partKept === 0) keep?.throwIfUnmatched(read);
      kept += partKept;
      expected = total === undefined || expected === undefined ? undefined : expected + total;
      options.logger?.info('api read complete', { endpoint: part.endpoint, read, tokenRequests: tokens.fetches });
    }
    options.logger?.info('api rows kept', { parts: plans.length, kept });
    // The last batch carries the count the read was reconciled against.
    yield { columns: names, rows: [], expected };
  }

  return {
    kind: 'eschooldata',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      try {
        yield* readRows(query, options);
      } catch (err) {
        throw options.signal?.aborted ? abortedError(options.signal, who, integration) : err;
      }
    },

    async testConnection(o = {}): Promise<ConnectionInfo> {
      await tokens.get(o.signal); // proves the credentials
      const details: Record<string, string | number> = { apiBase: new URL(apiBase).host };
      try {
        // Schools, not students: a connection test reads no student data.
        const page = pageOf(await get('schools', { pageNo: 1, pageSize: 1 }, o.signal), 'data');
        if (page.total !== undefined) details['schools'] = page.total;
      } catch (err) {
        if (!(err instanceof FerryError) || err.kind !== 'source_query') throw err;
        details['schoolsEndpoint'] = 'not enabled';
      }
      return { server: 'eSchoolData GURU API', details };
    },

    async close() {
      http.close();
    },
  };

  function planRead(request: ESchoolDataPart, values: Readonly<Record<string, BindValue>>, at: string) {
    const fail = (p: string): never => {
      throw new FerryError('config', `${who}: ${at}.params uses {{${p}}}, which is not a parameter of this extract`, { integration, field: `${at}.params` });
    };
    const params: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(request.params)) params[k] = String(substituteParams(v, values, fail));
    const wanted = wantedFilters(values);
    const f = request.filters;
    const pushed = new Set<FilterName>();
    if (wanted.schoolYear !== undefined && f.schoolYear?.param) params[f.schoolYear.param] = wanted.schoolYear;
    if (wanted.buildings?.length === 1 && f.buildings?.param) {
      params[f.buildings.param] = wanted.buildings[0]!;
      if (!f.buildings.path) pushed.add('buildings');
    }
    if (wanted.activeOnly && f.activeOnly?.param && f.activeOnly.active.length === 1) params[f.activeOnly.param] = String(f.activeOnly.active[0]);
    const filterPaths: FilterPaths = {
      grades: f.grades,
      buildings: f.buildings?.path,
      activeOnly: f.activeOnly && { path: f.activeOnly.path, active: f.activeOnly.active },
      schoolYear: f.schoolYear?.path,
      asOf: f.asOf,
    };
    return { params, filterPaths, pushed };
  }
}
