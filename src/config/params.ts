import { FerryError } from '../core/errors.js';
import type { BindValue } from '../core/source.js';
import type { District, Extract, Integration } from './model.js';
import type { ParamDecl, StandardFilter } from './schema.js';

/**
 * Parameters: the standard filters every extract may support (school year, buildings, grades, active-only,
 * as-of date) plus the extract's own declared parameters. Values are checked and coerced here, then bound
 * by name; nothing is ever pasted into SQL text.
 */

export interface ResolvedParams {
  /** What the user asked for, after defaults: recorded on the run. */
  readonly values: Readonly<Record<string, unknown>>;
  /** What the SQL placeholders receive (for a bundle: those of its first member, `integration.extract`). */
  readonly binds: Readonly<Record<string, BindValue>>;
  /** Bundles: each member extract's own resolution, by extract name. */
  readonly members?: ReadonlyMap<string, ResolvedParams> | undefined;
}

/**
 * An integration's parameters. For a OneRoster bundle each member extract is resolved with the parameters it declares
 * (its filters and params) and ignores the rest; a parameter that no member declares is an error, so a typo is never
 * silently dropped. `values` (recorded on the run) is the union of the members' values.
 */
export function resolveIntegrationParams(
  integration: Pick<Integration, 'id' | 'extract' | 'bundle' | 'district'>,
  supplied: Readonly<Record<string, unknown>>,
  now: Date,
  timezone: string,
): ResolvedParams {
  const { bundle } = integration;
  if (!bundle) return resolveParams(integration.id, integration.extract, integration.district, supplied, now, timezone);
  const declared = (e: Extract) => new Set<string>([...e.filters, ...Object.keys(e.params)]);
  for (const name of Object.keys(supplied)) {
    if (!bundle.files.some((f) => declared(f.extract).has(name))) {
      throw new FerryError('params', `integration ${integration.id}: parameter ${name}: no extract of the bundle declares it`, { integration: integration.id, field: `params.${name}` });
    }
  }
  const members = new Map<string, ResolvedParams>();
  const values: Record<string, unknown> = {};
  for (const { extract } of bundle.files) {
    if (members.has(extract.name)) continue;
    const names = declared(extract);
    const own = Object.fromEntries(Object.entries(supplied).filter(([k]) => names.has(k)));
    const r = resolveParams(integration.id, extract, integration.district, own, now, timezone);
    members.set(extract.name, r);
    Object.assign(values, r.values);
  }
  const first = members.get(integration.extract.name)!;
  return { values: Object.freeze(values), binds: first.binds, members };
}

/** Placeholder names each standard filter binds. */
export const FILTER_BINDS: Record<StandardFilter, readonly string[]> = {
  schoolYear: ['schoolYear'],
  buildings: ['buildings'],
  grades: ['gradeMin', 'gradeMax'],
  activeOnly: ['activeOnly'],
  asOf: ['asOf'],
};

export function bindNamesOf(extract: Pick<Extract, 'filters' | 'params'>): Set<string> {
  const names = new Set<string>(Object.keys(extract.params));
  for (const f of extract.filters) for (const b of FILTER_BINDS[f]) names.add(b);
  return names;
}

class ParamError extends Error {}

/**
 * The extract parameter that selects a district's rows in a SIS shared by several districts. Its value comes from the
 * integration's district block; a parameter of that name set to anything else is refused.
 */
export const DISTRICT_PARAM = 'districtId';

/**
 * @param supplied parameter values from the integration, then overrides (e.g. `ferry run --param k=v`) on top.
 * @param now the run's reference time (scheduled time for scheduled runs); `asOf` defaults to its date in `timezone`.
 */
export function resolveParams(
  integrationId: string,
  extract: Extract,
  district: District,
  supplied: Readonly<Record<string, unknown>>,
  now: Date,
  timezone: string,
): ResolvedParams {
  const values: Record<string, unknown> = {};
  const binds: Record<string, BindValue> = {};
  const fail = (name: string, message: string, cause?: unknown): never => {
    throw new FerryError('params', `integration ${integrationId}: parameter ${name}: ${message}`, {
      integration: integrationId,
      field: `params.${name}`,
      cause,
    });
  };
  const supports = (f: StandardFilter) => extract.filters.includes(f);
  const isFilter = (name: string): name is StandardFilter => (['schoolYear', 'buildings', 'grades', 'activeOnly', 'asOf'] as string[]).includes(name);

  // Checked first, as the gravest mistake: the district parameter is always the district block's id, whoever asks
  // (config, `--param`, `--force`, a retry or a release re-resolving recorded values).
  const askedDistrict = supplied[DISTRICT_PARAM];
  if (DISTRICT_PARAM in extract.params && askedDistrict !== undefined && askedDistrict !== null && String(askedDistrict) !== district.id) {
    fail(
      DISTRICT_PARAM,
      `"${String(askedDistrict)}" is not this integration's district: it belongs to district ${district.id} (its district: block), and that id is always used; remove ${DISTRICT_PARAM} (no override, not even with --force, sends another district's data)`,
    );
  }
  for (const name of Object.keys(supplied)) {
    if (isFilter(name)) {
      if (!supports(name)) fail(name, `extract ${extract.name} does not support the ${name} filter`);
    } else if (!(name in extract.params)) {
      const known = [...extract.filters, ...Object.keys(extract.params)];
      fail(name, `extract ${extract.name} declares no such parameter (it takes: ${known.join(', ') || 'none'})`);
    }
  }

  const attempt = <T>(name: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ParamError) return fail(name, err.message);
      throw err;
    }
  };

  if (supports('asOf') || supports('schoolYear')) {
    const raw = supplied['asOf'];
    const asOf = attempt('asOf', () => (raw === undefined || raw === 'today' ? dateInZone(now, timezone) : coerceDate(raw)));
    if (supports('asOf')) {
      values['asOf'] = asOf;
      binds['asOf'] = asOf;
    }
    if (supports('schoolYear')) {
      const sy = supplied['schoolYear'] === undefined ? schoolYearOf(asOf) : attempt('schoolYear', () => coerceSchoolYear(supplied['schoolYear']));
      values['schoolYear'] = sy;
      binds['schoolYear'] = sy;
    }
  }
  if (supports('buildings')) {
    const b = attempt('buildings', () => coerceList(supplied['buildings'] ?? []));
    values['buildings'] = b;
    binds['buildings'] = b;
  }
  if (supports('grades')) {
    const spec = supplied['grades'] ?? 'PK-12';
    const [min, max] = attempt('grades', () => parseGrades(String(spec), district.gradeBands));
    values['grades'] = String(spec);
    binds['gradeMin'] = min;
    binds['gradeMax'] = max;
  }
  if (supports('activeOnly')) {
    const a = attempt('activeOnly', () => coerceBoolean(supplied['activeOnly'] ?? true));
    values['activeOnly'] = a;
    binds['activeOnly'] = a;
  }

  for (const [name, decl] of Object.entries(extract.params)) {
    if (name === DISTRICT_PARAM) {
      values[name] = district.id;
      binds[name] = district.id;
      continue;
    }
    const raw = supplied[name] ?? decl.default;
    if (raw === undefined || raw === null) {
      if (decl.required) fail(name, `is required by extract ${extract.name} and has no value`);
      binds[name] = null;
      values[name] = null;
      continue;
    }
    const v = attempt(name, () => coerceParam(raw, decl));
    values[name] = v;
    binds[name] = v;
  }
  return { values: Object.freeze(values), binds: Object.freeze(binds) };
}

function coerceParam(raw: unknown, decl: ParamDecl): BindValue {
  let v: BindValue;
  switch (decl.type) {
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') throw new ParamError('must be text');
      v = String(raw);
      break;
    case 'integer':
      v = coerceInteger(raw);
      break;
    case 'boolean':
      v = coerceBoolean(raw);
      break;
    case 'date':
      v = coerceDate(raw);
      break;
    case 'string[]':
      v = coerceList(raw);
      break;
  }
  if (decl.allowed) {
    const allowed = decl.allowed.map(String);
    const items = Array.isArray(v) ? v.map(String) : [String(v)];
    const bad = items.find((i) => !allowed.includes(i));
    if (bad !== undefined) throw new ParamError(`"${bad}" is not one of the allowed values (${allowed.join(', ')})`);
  }
  return v;
}

function coerceInteger(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new ParamError('must be a whole number');
  return n;
}

function coerceSchoolYear(raw: unknown): number {
  const n = coerceInteger(raw);
  if (n < 1990 || n > 2100) throw new ParamError('must be the year in which the school year ends, e.g. 2027 for 2026-27');
  return n;
}

export function coerceBoolean(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = String(raw).trim().toLowerCase();
  if (['true', 'yes', 'y', '1'].includes(s)) return true;
  if (['false', 'no', 'n', '0'].includes(s)) return false;
  throw new ParamError('must be true or false');
}

export function coerceDate(raw: unknown): string {
  const s = typeof raw === 'string' ? raw.trim() : raw instanceof Date ? raw.toISOString().slice(0, 10) : '';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) throw new ParamError('must be a date like 2026-09-01');
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (d.toISOString().slice(0, 10) !== s) throw new ParamError(`"${s}" is not a real date`);
  return s;
}

function coerceList(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
  if (!items) throw new ParamError('must be a list, e.g. [HES, HMS] or "HES,HMS"');
  return items.map((i) => String(i).trim()).filter((i) => i.length > 0);
}

const GRADE = /^(PK|K|\d{1,2})$/i;
function gradeNumber(g: string): number {
  const u = g.toUpperCase();
  if (u === 'PK') return -1;
  if (u === 'K') return 0;
  const n = Number(u);
  if (n < 1 || n > 12) throw new ParamError(`grade "${g}" is outside PK-12`);
  return n;
}

/** "K-6", "9-12", "K", "HS" (a band defined by the district) → [min, max] with PK = -1 and K = 0. */
export function parseGrades(spec: string, bands: Readonly<Record<string, string>>): [number, number] {
  const trimmed = spec.trim();
  const band = Object.entries(bands).find(([name]) => name.toLowerCase() === trimmed.toLowerCase());
  const range = band ? band[1] : trimmed;
  const parts = range.split('-');
  if (parts.length > 2 || !parts.every((p) => GRADE.test(p))) {
    const names = Object.keys(bands);
    throw new ParamError(`"${spec}" is not a grade range like K-6 or 9-12${names.length ? ` or a band of this district (${names.join(', ')})` : ''}`);
  }
  const min = gradeNumber(parts[0]!);
  const max = gradeNumber(parts[1] ?? parts[0]!);
  if (min > max) throw new ParamError(`"${spec}" runs backwards`);
  return [min, max];
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** The calendar date of `at` in an IANA zone, as YYYY-MM-DD (formatters are cached per zone: building one is slow). */
export function dateInZone(at: Date, timezone: string): string {
  let f = dayFormats.get(timezone);
  if (!f) dayFormats.set(timezone, (f = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** New York school years run July 1 – June 30 and are named by the year in which they end. */
export function schoolYearOf(date: string): number {
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  return month >= 7 ? year + 1 : year;
}
