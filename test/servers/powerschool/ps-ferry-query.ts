import type { PsDemoDb, PsStudentRow, PsTermRow } from './ps-demo-db.js';

/**
 * One named query of the Ferry PowerSchool plugin (extracts/powerschool/plugin), as the fake PowerSchool answers it.
 * The Oracle SQL in the plugin cannot run here, so each query is implemented over the demo tables instead; name, args,
 * column aliases and the fields the SQL reads are kept equal to the XML by test/unit/powerschool-plugin.test.ts.
 */
export type Cell = string | number | null;

export interface FerryQuery {
  name: string;
  /** Argument names the query declares (`<args><arg name=…>`); all are required. */
  args: readonly string[];
  /** Column aliases in SELECT order: the keys of each flat record. */
  columns: readonly string[];
  /** `table.field` (lower case) for every field the SQL reads; each must be in the plugin's access_request. */
  fields: readonly string[];
  /** Rows as cells in `columns` order; null cells are left out of the record. */
  run(db: PsDemoDb, args: Readonly<Record<string, string>>): Cell[][];
}

export function defineQuery(q: FerryQuery): FerryQuery {
  return Object.freeze(q);
}

/** TERMS fields the year-term CTE reads: YEAR_TERM_FIELDS for its id, TERM_FIELDS when it also bounds dates. */
export const YEAR_TERM_FIELDS = ['terms.id', 'terms.yearid', 'terms.schoolid', 'terms.portion'] as const;
export const TERM_FIELDS = [...YEAR_TERM_FIELDS, 'terms.firstday', 'terms.lastday'] as const;

/** The district-level full-year term (TERMS.SCHOOLID = 0, PORTION = 1) of the school year ending in `school_year`. */
export function yearTerm(db: PsDemoDb, args: Readonly<Record<string, string>>): PsTermRow | undefined {
  const yearid = Number(args['school_year']) - 1991;
  return db.terms.find((t) => t.schoolid === 0 && t.portion === 1 && t.yearid === yearid);
}

/** STUDENTS rows whose enrolment overlaps the year (EXITDATE is the day after the last day). */
export const enrolledIn = (yt: PsTermRow) => (s: PsStudentRow): boolean => s.entrydate <= yt.lastday && s.exitdate > yt.firstday;

export const inTermsOf = (yt: PsTermRow) => (termid: number): boolean => termid >= yt.id && termid <= yt.id + 99;

/** OneRoster grade codes: PK, KG, 01 … 12. */
export const oneRosterGrade = (g: number): string => (g < 0 ? 'PK' : g === 0 ? 'KG' : String(g).padStart(2, '0'));

/** Clever's grade words: PreKindergarten, Kindergarten, 1 … 12. */
export const cleverGrade = (g: number): string => (g < 0 ? 'PreKindergarten' : g === 0 ? 'Kindergarten' : String(g));

export const addDays = (iso: string, days: number): string => new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export function byKeys<T>(...keys: ((r: T) => string | number)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const k of keys) {
      const x = k(a);
      const y = k(b);
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  };
}
