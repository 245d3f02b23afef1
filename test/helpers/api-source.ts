import { inspect } from 'node:util';
import TransportStream from 'winston-transport';
import winston from 'winston';
import { CURRENT_SCHOOL_YEAR } from '../../src/demo/demo-sis-fixtures.js';
import { generateDemoSis } from '../../src/demo/demo-sis-data.js';
import { FerryError } from '../../src/core/errors.js';
import type { BoundQuery, CellValue, Source, StreamOptions } from '../../src/core/source.js';

/** Helpers shared by the API source tests. */

export interface ReadResult {
  columns: readonly string[];
  rows: (readonly CellValue[])[];
  batches: number;
}

export async function readAll(source: Source, query: BoundQuery, options?: StreamOptions): Promise<ReadResult> {
  let columns: readonly string[] = [];
  const rows: (readonly CellValue[])[] = [];
  let batches = 0;
  for await (const b of source.stream(query, options)) {
    columns = b.columns;
    rows.push(...b.rows);
    batches++;
  }
  return { columns, rows, batches };
}

export async function failureOf(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error('expected a FerryError');
}

/** Everything an error could reveal: its message, cause chain and every own property, serialised and inspected. */
export function errorDump(err: unknown): string {
  const parts: string[] = [inspect(err, { depth: 12, showHidden: true })];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (typeof e === 'object') {
      const own: Record<string, unknown> = {};
      for (const k of Object.getOwnPropertyNames(e)) own[k] = (e as Record<string, unknown>)[k];
      parts.push(JSON.stringify(own, safeReplacer()));
    } else {
      parts.push(String(e));
    }
  }
  return parts.join('\n');
}

function safeReplacer() {
  const seen = new WeakSet<object>();
  return (_k: string, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return typeof v === 'bigint' ? String(v) : v;
  };
}

/** A winston logger that keeps every entry, for "no secrets in logs" checks. */
export function captureLogger(): { logger: winston.Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const capture = new (class extends TransportStream {
    override log(info: Record<string, unknown>, next: () => void): void {
      entries.push({ ...info });
      next();
    }
  })();
  return { logger: winston.createLogger({ level: 'debug', transports: [capture] }), entries };
}

/** Direct filter over the demo SIS data: state ids of one district's students matching the standard filters. */
export function demoStateIds(districtId: string, f: { gradeMin?: number; gradeMax?: number; schoolCodes?: string[]; activeOnly?: boolean }): string[] {
  const sis = generateDemoSis();
  const enrolment = new Map<string, Readonly<Record<string, unknown>>>();
  for (const e of sis.get('student_enrollments') ?? []) {
    if (e['district_id'] === districtId && e['school_year'] === CURRENT_SCHOOL_YEAR) enrolment.set(String(e['student_id']), e);
  }
  return (sis.get('students') ?? [])
    .filter((s) => s['district_id'] === districtId)
    .filter((s) => {
      const e = enrolment.get(String(s['student_id']))!;
      const g = Number(e['grade_level']);
      return (
        (f.gradeMin === undefined || g >= f.gradeMin) &&
        (f.gradeMax === undefined || g <= f.gradeMax) &&
        (f.schoolCodes === undefined || f.schoolCodes.includes(String(e['school_code']))) &&
        (!f.activeOnly || s['active'] === true)
      );
    })
    .map((s) => String(s['state_id']));
}
