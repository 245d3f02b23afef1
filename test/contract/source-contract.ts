import { expect, it } from 'vitest';
import type { BoundQuery, RowBatch, Source } from '../../src/core/source.js';
import { generateDemoSis } from '../../src/demo/demo-sis-data.js';

/**
 * The contract every source kind passes, real or fake: same small interface, same behaviour. Each subject serves
 * the demo SIS (in its own shape) and runs its kind's `students-basic` extract.
 */
export interface ContractSubject {
  /** A fresh source. */
  open(): Source;
  /** The extract's query for these standard filters (district hilltop-csd, school year 2027). */
  query(filters: { gradeMin: number; gradeMax: number; buildings: string[]; activeOnly: boolean }): BoundQuery;
  /** Which demo identifier the extract's `student_id` column carries (APIs expose the state id). */
  key?: 'student_id' | 'state_id';
}

/** Student ids the demo SIS holds for those filters, computed straight from the generated data. */
export function expectedStudentIds(f: { gradeMin: number; gradeMax: number; buildings: string[]; activeOnly: boolean }, key: 'student_id' | 'state_id' = 'student_id'): string[] {
  const data = generateDemoSis();
  const students = data.get('students')!.filter((s) => s.district_id === 'hilltop-csd');
  const active = new Map(students.map((s) => [s.student_id as string, Boolean(s.active)]));
  const keyOf = new Map(students.map((s) => [s.student_id as string, String(s[key])]));
  const ids = data
    .get('student_enrollments')!
    .filter(
      (e) =>
        e.district_id === 'hilltop-csd' &&
        e.school_year === 2027 &&
        (e.grade_level as number) >= f.gradeMin &&
        (e.grade_level as number) <= f.gradeMax &&
        (f.buildings.length === 0 || f.buildings.includes(e.school_code as string)) &&
        (!f.activeOnly || active.get(e.student_id as string) === true),
    )
    .map((e) => keyOf.get(e.student_id as string)!);
  return [...new Set(ids)].sort();
}

async function collect(batches: AsyncIterable<RowBatch>): Promise<{ batches: RowBatch[]; rows: unknown[][] }> {
  const all: RowBatch[] = [];
  for await (const b of batches) all.push(b);
  return { batches: all, rows: all.flatMap((b) => b.rows as unknown[][]) };
}

export function sourceContract(subject: () => ContractSubject): void {
  const cases = [
    { name: 'grades K-5, every building, active only', f: { gradeMin: 0, gradeMax: 5, buildings: [], activeOnly: true } },
    { name: 'grades 9-12 in HHS, active or not', f: { gradeMin: 9, gradeMax: 12, buildings: ['HHS'], activeOnly: false } },
    { name: 'PK only in HES', f: { gradeMin: -1, gradeMax: -1, buildings: ['HES'], activeOnly: true } },
  ];
  for (const c of cases) {
    it(`selects the same students as the demo data: ${c.name}`, async () => {
      const s = subject();
      const source = s.open();
      try {
        const { batches, rows } = await collect(source.stream(s.query(c.f)));
        expect(batches.length).toBeGreaterThan(0);
        const columns = batches[0]!.columns;
        for (const b of batches) expect(b.columns).toEqual(columns);
        const idIndex = columns.indexOf('student_id');
        expect(idIndex).toBeGreaterThanOrEqual(0);
        for (const r of rows) expect(r).toHaveLength(columns.length);
        const ids = [...new Set(rows.map((r) => String(r[idIndex])))].sort();
        expect(ids).toEqual(expectedStudentIds(c.f, s.key));
        expect(ids.length).toBeGreaterThan(0);
      } finally {
        await source.close();
      }
    });
  }

  it('an empty result still yields one batch with the columns', async () => {
    const s = subject();
    const source = s.open();
    try {
      const { batches, rows } = await collect(source.stream(s.query({ gradeMin: 3, gradeMax: 3, buildings: ['NO-SUCH-BUILDING'], activeOnly: true })));
      expect(rows).toHaveLength(0);
      expect(batches.length).toBeGreaterThanOrEqual(1);
      expect(batches[0]!.columns).toContain('student_id');
    } finally {
      await source.close();
    }
  });

  it('stops when the consumer stops, and can be closed twice', async () => {
    const s = subject();
    const source = s.open();
    let seen = 0;
    for await (const b of source.stream(s.query({ gradeMin: -1, gradeMax: 12, buildings: [], activeOnly: false }))) {
      seen += b.rows.length;
      if (seen > 0) break;
    }
    expect(seen).toBeGreaterThan(0);
    await source.close();
    await source.close();
  });

  it('an aborted signal ends the stream with an error instead of hanging', async () => {
    const s = subject();
    const source = s.open();
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    try {
      await expect(collect(source.stream(s.query({ gradeMin: -1, gradeMax: 12, buildings: [], activeOnly: false }), { signal: ac.signal }))).rejects.toThrow();
    } finally {
      await source.close();
    }
  });

  it('testConnection reports the server without reading student data', async () => {
    const source = subject().open();
    try {
      expect(source.testConnection).toBeDefined();
      const info = await source.testConnection!();
      expect(info.server.length).toBeGreaterThan(3);
    } finally {
      await source.close();
    }
  });
}
