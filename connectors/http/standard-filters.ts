import { z } from 'zod';
import { FerryError } from '../../src/core/errors.js';
import type { BindValue } from '../../src/core/source.js';
import { gradeNumber, valueAt } from './records.js';

/**
 * The standard filters (grades, buildings, activeOnly, schoolYear, asOf) for API sources. Each connector pushes what
 * its API can express into the request; whatever is left is checked here on each fetched record.
 *
 * grades, buildings and activeOnly must be applied when asked for, so a missing field path is a config error rather
 * than a silently unfiltered file. schoolYear and asOf are applied after the fetch when a path is given and otherwise
 * left to the request itself (most API resources already answer for the current year and today).
 */

const path = z.string().regex(/^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$/, 'must be a dotted field path like school_enrollment.grade_level');
export const filterPathsSchema = z.strictObject({
  grades: path.optional(),
  buildings: path.optional(),
  activeOnly: z.strictObject({ path, active: z.array(z.union([z.string(), z.number()])).min(1) }).optional(),
  schoolYear: path.optional(),
  asOf: z.strictObject({ entry: path, exit: path }).optional(),
});
export type FilterPaths = z.infer<typeof filterPathsSchema>;

export interface WantedFilters {
  grades?: { min: number; max: number };
  /** Never empty (empty means every building, so no filter). */
  buildings?: readonly string[];
  activeOnly?: true;
  schoolYear?: number;
  asOf?: string;
}
export type FilterName = keyof WantedFilters;

/** Which filters the bound values ask for. */
export function wantedFilters(values: Readonly<Record<string, BindValue>>): WantedFilters {
  const out: WantedFilters = {};
  const min = values['gradeMin'];
  const max = values['gradeMax'];
  if (typeof min === 'number' || typeof max === 'number') out.grades = { min: typeof min === 'number' ? min : -Infinity, max: typeof max === 'number' ? max : Infinity };
  const b = values['buildings'];
  if (Array.isArray(b) && b.length > 0) out.buildings = b.map(String);
  if (values['activeOnly'] === true) out.activeOnly = true;
  if (typeof values['schoolYear'] === 'number') out.schoolYear = values['schoolYear'];
  if (typeof values['asOf'] === 'string') out.asOf = values['asOf'];
  return out;
}

export function missingFilterPath(name: FilterName, who: string, integration: string | undefined): FerryError {
  return new FerryError('config', `${who}: the ${name} filter is requested but request.filters.${name} does not name the field that holds it`, {
    integration,
    field: `request.filters.${name}`,
  });
}

type Check = (record: unknown) => boolean;

export interface AfterFetchFilter {
  keep(record: unknown): boolean;
  /**
   * Throws when a filter's path matched no record at all (a misspelt path, or a field the API does not expose): then
   * the filter, not the data, emptied the result, and the message says so instead of pointing at allowEmpty.
   */
  throwIfUnmatched(recordsRead: number): void;
}

/** A predicate for the wanted filters not in `pushed`; undefined when nothing is left to check. */
export function afterFetchFilter(
  paths: FilterPaths,
  wanted: WantedFilters,
  pushed: ReadonlySet<FilterName>,
  who: string,
  integration: string | undefined,
): AfterFetchFilter | undefined {
  const checks: Check[] = [];
  /** Per filter path: whether any record had a value there. Set by `at`, which every check reads through. */
  const matched = new Map<string, { name: FilterName; path: string; seen: boolean }>();
  const at = (name: FilterName, p: string) => {
    const entry = { name, path: p, seen: false };
    matched.set(`${name}:${p}`, entry);
    return (r: unknown): unknown => {
      const v = valueAt(r, p);
      if (v !== undefined) entry.seen = true;
      return v;
    };
  };
  const need = (name: FilterName): boolean => wanted[name] !== undefined && !pushed.has(name);
  if (need('grades')) {
    const p = paths.grades;
    if (!p) throw missingFilterPath('grades', who, integration);
    const { min, max } = wanted.grades!;
    const read = at('grades', p);
    checks.push((r) => {
      const g = gradeNumber(read(r));
      return g !== undefined && g >= min && g <= max;
    });
  }
  if (need('buildings')) {
    const p = paths.buildings;
    if (!p) throw missingFilterPath('buildings', who, integration);
    const set = new Set(wanted.buildings!);
    const read = at('buildings', p);
    checks.push((r) => set.has(String(read(r) ?? '')));
  }
  if (need('activeOnly')) {
    const spec = paths.activeOnly;
    if (!spec) throw missingFilterPath('activeOnly', who, integration);
    const set = new Set(spec.active.map(String));
    const read = at('activeOnly', spec.path);
    checks.push((r) => set.has(String(read(r) ?? '')));
  }
  if (need('schoolYear') && paths.schoolYear) {
    const year = wanted.schoolYear!;
    const read = at('schoolYear', paths.schoolYear);
    checks.push((r) => Number(read(r)) === year);
  }
  if (need('asOf') && paths.asOf) {
    const day = wanted.asOf!;
    const entry = at('asOf', paths.asOf.entry);
    const exit = at('asOf', paths.asOf.exit);
    // Dates are YYYY-MM-DD, so text order is date order. exit_date is the first day no longer enrolled.
    checks.push((r) => {
      const from = entry(r);
      const to = exit(r);
      return typeof from === 'string' && from.slice(0, 10) <= day && (typeof to !== 'string' || to === '' || to.slice(0, 10) > day);
    });
  }
  if (checks.length === 0) return undefined;
  return {
    // Every check runs (no short cut), so each path's "seen" covers every record.
    keep: (r) => checks.map((c) => c(r)).every(Boolean),
    throwIfUnmatched(recordsRead) {
      // asOf's exit date is legitimately absent from every record of a still-enrolled group: only its entry counts.
      const missing = [...matched.values()].find((m) => !m.seen && !(m.name === 'asOf' && m.path === paths.asOf?.exit));
      if (!missing) return;
      throw new FerryError('config', `${who}: filter ${missing.name}: path ${missing.path} matched no record (of ${recordsRead} read); fix request.filters.${missing.name} in the extract to name the field that holds it`, {
        integration,
        field: `request.filters.${missing.name}`,
      });
    },
  };
}
