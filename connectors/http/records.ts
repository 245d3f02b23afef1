import type { ColumnDef } from '../../src/config/model.js';
import { FerryError } from '../../src/core/errors.js';
import type { BindValue, CellValue } from '../../src/core/source.js';

/** Response records → rows, and `{{param}}` placeholders → bound values. Shared by the API connectors. */

export type ApiRecord = Readonly<Record<string, unknown>>;

/** The value at a dotted path (`school_enrollment.grade_level`); undefined when any step is missing. */
export function valueAt(record: unknown, path: string): unknown {
  let v: unknown = record;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A JSON value as a cell: scalars as they are, missing as null, objects and arrays as JSON text. */
export function toCell(v: unknown): CellValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

export function columnPaths(columns: readonly ColumnDef[] | undefined, who: string, integration: string | undefined): { names: string[]; paths: string[] } {
  if (!columns || columns.length === 0) {
    throw new FerryError('config', `${who}: API extracts must declare their columns (with a path for each field)`, { integration, field: 'columns' });
  }
  return { names: columns.map((c) => c.name), paths: columns.map((c) => c.path ?? c.name) };
}

/**
 * Records as rows. APIs often send "" for a missing date or number (PowerSchool's string values); in a column declared
 * as anything but text that means "no value", so it becomes null rather than failing the run as a bad date.
 */
export function rowsOf(records: readonly unknown[], paths: readonly string[], types?: readonly ColumnDef['type'][]): CellValue[][] {
  return records.map((r) =>
    paths.map((p, i) => {
      const cell = toCell(valueAt(r, p));
      return cell === '' && types !== undefined && types[i] !== 'string' ? null : cell;
    }),
  );
}

/** Grade as a number: PK and other pre-K codes −1, K/KF/KH 0, "01" 1 … ; undefined when it is not a grade. */
export function gradeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toUpperCase();
  if (/^-?\d+$/.test(s)) return Number(s);
  if (s === 'PK' || s === 'P' || s === 'PREK' || s.startsWith('PK')) return -1;
  if (s === 'K' || s === 'KF' || s === 'KH' || s === 'KG') return 0;
  return undefined;
}

const WHOLE = /^\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}$/;
const INLINE = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

/**
 * Replace `"{{name}}"` with the bound value of `name` anywhere in a JSON-like template. A string that is exactly one
 * placeholder takes the value with its type (a list stays a list); placeholders inside longer text are interpolated.
 */
export function substituteParams(template: unknown, values: Readonly<Record<string, BindValue>>, fail: (name: string) => never): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) {
      const name = whole[1]!;
      if (!(name in values)) fail(name);
      return values[name];
    }
    return template.replace(INLINE, (_m, name: string) => {
      if (!(name in values)) fail(name);
      const v = values[name];
      return Array.isArray(v) ? v.join(',') : String(v ?? '');
    });
  }
  if (Array.isArray(template)) return template.map((t) => substituteParams(t, values, fail));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, substituteParams(v, values, fail)]));
  }
  return template;
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validate an extract's `request:` block with a connector's schema; the first problem becomes a config error. */
export function parseRequestBlock<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } },
  raw: unknown,
  who: string,
  integration: string | undefined,
): T {
  const parsed = schema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = ['request', ...(issue?.path ?? []).map(String)].join('.');
  throw new FerryError('config', `${who}: ${at}: ${issue?.message ?? 'invalid'}`, { integration, field: at });
}
