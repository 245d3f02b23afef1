import { FerryError } from '../../src/core/errors.js';
import type { HttpResponse } from '../http/http-client.js';
import { classifyStatus } from '../http/http-errors.js';
import { isObject } from '../http/records.js';

/** Reading PowerSchool's response shapes, and turning its error answers into one clear sentence each. */

export interface Ctx {
  who: string;
  integration: string | undefined;
  id: string;
}

/**
 * `/ws/v1` collections answer `{plural: {"@expansions": …, singular: [...]}}`. One record comes as an object instead of
 * a one-element array, and an empty page has no singular key at all.
 */
export function recordsOfEnvelope(res: HttpResponse, recordKey: string, ctx: Ctx): unknown[] {
  const body = res.json;
  const plural = isObject(body) ? body[`${recordKey}s`] : undefined;
  if (!isObject(plural)) throw malformed(res.path, `no "${recordKey}s" object`, ctx);
  const items = plural[recordKey];
  if (items === undefined || items === null) return [];
  if (Array.isArray(items)) return items;
  if (isObject(items)) return [items];
  throw malformed(res.path, `"${recordKey}s.${recordKey}" is neither a list nor a record`, ctx);
}

/** `/ws/v1/…/count` → `{"resource":{"count":N}}`; PowerQuery `/count` → `{"count":N}`. */
export function countOf(res: HttpResponse, ctx: Ctx): number {
  const body = res.json;
  const raw = isObject(body) ? (isObject(body['resource']) ? body['resource']['count'] : body['count']) : undefined;
  const n = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw malformed(res.path, 'no count', ctx);
  return n;
}

/** PowerQuery pages: `{"name": …, "record": [flat rows]}`; `record` is absent when there are none. */
export function recordsOfQuery(res: HttpResponse, ctx: Ctx): unknown[] {
  const body = res.json;
  if (!isObject(body)) throw malformed(res.path, 'not an object', ctx);
  const records = body['record'];
  if (records === undefined || records === null) return [];
  if (Array.isArray(records)) return records;
  if (isObject(records)) return [records];
  throw malformed(res.path, '"record" is not a list', ctx);
}

export function malformed(path: string, detail: string, ctx: Ctx): FerryError {
  return new FerryError('source_query', `${ctx.who}: malformed response from ${path} (${detail})`, { integration: ctx.integration });
}

/** The error for a non-200 answer to an authorised request (after the one re-authentication). */
export function statusError(res: HttpResponse, ctx: Ctx, powerQuery?: string): FerryError {
  const base = { integration: ctx.integration, cause: new Error(`HTTP ${res.status} from ${res.path}`) };
  if (res.status === 401) {
    return new FerryError('source_auth', `${ctx.who}: PowerSchool rejected a freshly issued access token for ${res.path}`, {
      ...base,
      field: `sources.${ctx.id}.clientSecret`,
    });
  }
  const fields = validationFailedFields(res);
  if (fields && powerQuery) {
    const denied = fields.filter((f) => /no access/i.test(f.code)).map((f) => f.field);
    const message =
      denied.length > 0
        ? `PowerQuery ${powerQuery}: no access to field ${denied.join(', ')} — grant it in the plugin's access_request`
        : `PowerQuery ${powerQuery}: validation failed (${fields.map((f) => `${f.field}: ${f.code}`).join('; ')})`;
    return new FerryError('source_query', `${ctx.who}: ${message}`, { ...base, field: 'request.powerQuery' });
  }
  if (powerQuery) {
    if (res.status === 404) {
      return new FerryError('source_query', `${ctx.who}: PowerQuery ${powerQuery} not found (is the plugin that defines it installed and enabled?)`, {
        ...base,
        field: 'request.powerQuery',
      });
    }
    if (res.status === 400) return new FerryError('source_query', `${ctx.who}: PowerQuery ${powerQuery} rejected its arguments (HTTP 400)`, { ...base, field: 'request.args' });
  }
  if (res.status === 404 || res.status === 403) {
    return new FerryError('source_query', `${ctx.who}: endpoint not enabled/not found: ${res.path} (HTTP ${res.status})`, { ...base, field: 'request.resource' });
  }
  return new FerryError(classifyStatus(res.status)?.kind ?? 'source_query', `${ctx.who}: ${res.path} answered HTTP ${res.status}`, base);
}

/** `{"message":"Validation Failed","errors":[{"resource","field","code"}]}` → the field/code pairs. */
function validationFailedFields(res: HttpResponse): { field: string; code: string }[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return undefined;
  }
  if (!isObject(body) || !Array.isArray(body['errors']) || !/validation/i.test(String(body['message'] ?? ''))) return undefined;
  // Field names and codes are identifiers; anything else the server put there is not repeated.
  const word = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_. -]{1,60}$/.test(v) ? v : '?');
  return body['errors'].filter(isObject).map((e) => ({ field: word(e['field']), code: word(e['code']) }));
}
