import { expect, it } from 'vitest';
import type { BoundQuery, RowBatch, Source } from '../../src/core/source.js';
import { generateDemoSis } from '../../src/demo/demo-sis-data.js';
import { isRetryableFailure } from '../../src/runs/backoff.js';
import { failureOf } from '../helpers/failure.js';

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
  /** A source whose login the server refuses; `loginAttempts` counts the logins the server saw since `open`. */
  refusedLogin?: { open(): { source: Source; loginAttempts(): number } };
  /** A source pointed at a closed port (for a file: a file that is not there). */
  unreachable: { open(): Source };
  /**
   * Makes the server drop the source's connection part-way through the next read of every student: `arm` runs
   * before the read, `afterFirstBatch` once the first rows have arrived.
   */
  lostMidStream?: { arm?(): void; afterFirstBatch?(): Promise<void> };
  /**
   * For the abort case: `arm` makes the server hold back the next page and `busy` resolves once it holds that request,
   * so the abort lands while a request is open (for APIs, whose connections are per request); `released` resolves once
   * the server holds no connection or request of the source's any more.
   */
  connectionRelease?: { arm?(): void; busy?(): Promise<void>; released(): Promise<void> };
}

/**
 * Cases a source kind cannot have, each with the reason. A declared case is reported under its own name as not
 * applying (and the subject must then offer no hook for it); an undeclared one must be provided, or its test fails.
 */
export type NotApplicable = Partial<Record<'refusedLogin' | 'lostMidStream' | 'connectionRelease', string>>;

const EVERY_STUDENT = { gradeMin: -1, gradeMax: 12, buildings: [], activeOnly: false };


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

export function sourceContract(subject: () => ContractSubject, notApplicable: NotApplicable = {}): void {
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

  it('an already aborted signal ends the stream with kind aborted instead of hanging', async () => {
    const s = subject();
    const source = s.open();
    const ac = new AbortController();
    const reason = new Error('stop now');
    ac.abort(reason);
    try {
      const fe = await failureOf(collect(source.stream(s.query(EVERY_STUDENT), { signal: ac.signal })));
      expect([fe.kind, fe.cause]).toEqual(['aborted', reason]);
    } finally {
      await source.close();
    }
  });

  failureCases(subject, notApplicable);

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

/** Failures every source reports with the same kinds (the per-driver tables: pg-errors, mssql-errors, http-errors). */
function failureCases(subject: () => ContractSubject, notApplicable: NotApplicable): void {
  const hook = <K extends keyof NotApplicable>(s: ContractSubject, key: K): NonNullable<ContractSubject[K]> => {
    expect(s[key], `the subject provides ${key}, or declares why it cannot`).toBeDefined();
    return s[key]!;
  };
  const declared = (key: keyof NotApplicable, name: string, test: () => Promise<void>) => {
    const reason = notApplicable[key];
    if (reason === undefined) return it(name, test);
    it(`${name}: does not apply, ${reason}`, () => {
      expect(subject()[key], `${key} is declared not applicable, so the subject must not provide it`).toBeUndefined();
    });
  };

  declared('refusedLogin', 'a refused login is source_auth, tried once and not retryable', async () => {
    const s = subject();
    const { source, loginAttempts } = hook(s, 'refusedLogin').open();
    try {
      const fe = await failureOf(collect(source.stream(s.query(EVERY_STUDENT))));
      expect([fe.kind, fe.retryable, isRetryableFailure(fe)]).toEqual(['source_auth', false, false]);
      expect(loginAttempts()).toBe(1);
    } finally {
      await source.close();
    }
  });

  it('an unreachable server is source_connect, which a later run may retry', async () => {
    const s = subject();
    const source = s.unreachable.open();
    try {
      const fe = await failureOf(collect(source.stream(s.query(EVERY_STUDENT))));
      expect([fe.kind, fe.retryable]).toEqual(['source_connect', true]);
    } finally {
      await source.close();
    }
  });

  declared('lostMidStream', 'a connection lost mid-stream is source_transient: an error, never a short result, and the source reads in full afterwards', async () => {
    const s = subject();
    const c = hook(s, 'lostMidStream');
    const source = s.open();
    const all = expectedStudentIds(EVERY_STUDENT, s.key);
    try {
      c.arm?.();
      const seen: unknown[][] = [];
      let idIndex = -1;
      const fe = await failureOf(
        (async () => {
          for await (const b of source.stream(s.query(EVERY_STUDENT), { batchSize: 50 })) {
            if (b.rows.length === 0) continue;
            const first = seen.length === 0;
            idIndex = b.columns.indexOf('student_id');
            seen.push(...(b.rows as unknown[][]));
            if (first) await c.afterFirstBatch?.();
          }
        })(),
      );
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.length).toBeLessThan(all.length);
      expect([fe.kind, fe.retryable, isRetryableFailure(fe)]).toEqual(['source_transient', true, true]);
      for (const row of seen) expect(fe.message).not.toContain(String(row[idIndex]));
      const again = await collect(source.stream(s.query(EVERY_STUDENT)));
      const id = again.batches[0]!.columns.indexOf('student_id');
      expect([...new Set(again.rows.map((r) => String(r[id])))].sort()).toEqual(all);
    } finally {
      await source.close();
    }
  });

  const aborted = async (release: ContractSubject['connectionRelease']) => {
    const s = subject();
    const source = s.open();
    const ac = new AbortController();
    const reason = new Error('operator stopped the run');
    try {
      release?.arm?.();
      const batches = source.stream(s.query(EVERY_STUDENT), { signal: ac.signal, batchSize: 50 })[Symbol.asyncIterator]();
      const first = await batches.next();
      expect(first.done).toBe(false);
      await release?.busy?.();
      ac.abort(reason);
      // The very next pull fails: no batch that was already on its way is handed over after the abort.
      const fe = await failureOf(batches.next());
      expect([fe.kind, fe.cause]).toEqual(['aborted', reason]);
      await release?.released();
      const again = await collect(source.stream(s.query(EVERY_STUDENT)));
      expect(again.rows.length).toBeGreaterThan(0);
    } finally {
      await source.close();
    }
  };
  const abortCase = 'an abort mid-stream ends the stream at once with kind aborted, and the source reads again afterwards';
  if (notApplicable.connectionRelease === undefined) {
    it(`${abortCase}; the server sees the connection released`, () => aborted(hook(subject(), 'connectionRelease')));
  } else {
    it(`${abortCase} (no server to release a connection on: ${notApplicable.connectionRelease})`, async () => {
      expect(subject().connectionRelease).toBeUndefined();
      await aborted(undefined);
    });
  }
}
