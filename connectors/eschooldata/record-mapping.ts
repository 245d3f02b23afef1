import type { ColumnDef } from '../../src/config/model.js';
import { FerryError } from '../../src/core/errors.js';
import type { BindValue, CellValue } from '../../src/core/source.js';
import { substituteParams, toCell, valueAt } from '../http/records.js';
import type { ColumnSource, ESchoolDataPart, WhereCondition } from './eschooldata-request.js';

/**
 * One part of an eSchoolData request turned into functions over records: `each` flattening, `where` checks and the
 * per-column values (`path`, `value`, `join`, `first`, `map`, `default`). Built once per read, so every name and
 * `{{param}}` is checked before the first request goes out.
 */
export interface PartMapping {
  /** The rows one fetched record stands for: itself, or one per element of its `each` array. */
  flatten(record: unknown): unknown[];
  /** Undefined when the part has no (active) `where` conditions. */
  where: ((row: unknown) => boolean) | undefined;
  /** One cell per extract column, in order. */
  cells(row: unknown): CellValue[];
}

type Read = (row: unknown) => unknown;

export function compilePart(
  part: ESchoolDataPart,
  at: string,
  columns: readonly ColumnDef[],
  values: Readonly<Record<string, BindValue>>,
  who: string,
  integration: string | undefined,
): PartMapping {
  const configError = (field: string, message: string) => new FerryError('config', `${who}: ${field}: ${message}`, { integration, field });
  const param = (field: string) => (name: string): never => {
    throw configError(field, `uses {{${name}}}, which is not a parameter of this extract`);
  };

  const declared = new Set(columns.map((c) => c.name));
  for (const name of Object.keys(part.columns)) {
    if (!declared.has(name)) throw configError(`${at}.columns.${name}`, 'is not a declared column of this extract');
  }
  const readers: Read[] = columns.map((c) => {
    const spec = part.columns[c.name];
    if (!spec) {
      const p = c.path ?? c.name;
      return (r) => valueAt(r, p);
    }
    return compileSource(spec, values, param(`${at}.columns.${c.name}`));
  });

  const checks = Object.entries(part.where).flatMap(([p, cond]) => compileCondition(p, cond, values, param(`${at}.where.${p}`), configError(`${at}.where.${p}`, `"when" must name a boolean parameter of this extract`)));
  const each = part.each;
  return {
    flatten: each === undefined ? (r) => [r] : (r) => flattenAt(r, each),
    where: checks.length === 0 ? undefined : (row) => checks.every((c) => c(row)),
    cells: (row) => readers.map((read) => toCell(read(row))),
  };
}

const isBlank = (v: unknown) => v === undefined || v === null || v === '';

function compileSource(spec: ColumnSource, values: Readonly<Record<string, BindValue>>, fail: (name: string) => never): Read {
  const operand = (o: string | { value: string | number | boolean | null }): Read => {
    if (typeof o === 'string') return (r) => valueAt(r, o);
    const v = substituteParams(o.value, values, fail);
    return () => v;
  };
  let read: Read;
  if (spec.path !== undefined) {
    const p = spec.path;
    read = (r) => valueAt(r, p);
  } else if (spec.value !== undefined) {
    read = operand({ value: spec.value });
  } else if (spec.join !== undefined) {
    const parts = spec.join.map(operand);
    const sep = spec.separator ?? '';
    read = (r) => {
      const got = parts.map((p) => p(r)).filter((v) => !isBlank(v));
      return got.length === 0 ? null : got.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(sep);
    };
  } else {
    const candidates = (spec.first ?? []).map(operand);
    read = (r) => {
      for (const c of candidates) {
        const v = c(r);
        if (!isBlank(v)) return v;
      }
      return null;
    };
  }
  const map = spec.map;
  const fallback = spec.default === undefined ? undefined : substituteParams(spec.default, values, fail);
  if (map === undefined && fallback === undefined) return read;
  return (r) => {
    const v = read(r);
    if (v === undefined || v === null) return fallback ?? null;
    if (map === undefined) return v;
    const key = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (Object.hasOwn(map, key)) return map[key];
    return fallback === undefined ? v : fallback;
  };
}

function compileCondition(
  p: string,
  cond: WhereCondition,
  values: Readonly<Record<string, BindValue>>,
  fail: (name: string) => never,
  badWhen: FerryError,
): ((row: unknown) => boolean)[] {
  const spec = Array.isArray(cond) ? { in: cond, not: undefined, when: undefined } : cond;
  if (spec.when !== undefined) {
    const on = values[spec.when];
    if (typeof on !== 'boolean') throw badWhen;
    if (!on) return [];
  }
  // Compared as text, so `true` matches a JSON true and "01" matches "01"; a missing value is "".
  const text = (list: readonly unknown[]) => new Set(list.map((v) => substituteParams(v, values, fail)).map((v) => (v === null ? '' : String(v))));
  const keyOf = (row: unknown) => {
    const v = valueAt(row, p);
    return v === undefined || v === null ? '' : String(v);
  };
  if (spec.in !== undefined) {
    const allowed = text(spec.in);
    return [(row) => allowed.has(keyOf(row))];
  }
  const refused = text(spec.not ?? []);
  return [(row) => !refused.has(keyOf(row))];
}

/** The record once per element of its array at `path`, with that path naming the element. */
export function flattenAt(record: unknown, path: string): unknown[] {
  const list = valueAt(record, path);
  if (!Array.isArray(list)) return [];
  const keys = path.split('.');
  return list.map((element) => replaceAt(record, keys, element));
}

function replaceAt(obj: unknown, keys: readonly string[], value: unknown): unknown {
  const [head, ...rest] = keys;
  if (head === undefined) return value;
  const base = obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : {};
  return { ...base, [head]: replaceAt(base[head], rest, value) };
}
