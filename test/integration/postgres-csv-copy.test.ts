import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresSource } from '../../connectors/postgres/postgres-source.js';
import { systemClock } from '../../src/core/clock.js';
import type { Source } from '../../src/core/source.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import type { Integration } from '../../src/config/model.js';
import { resolveParams } from '../../src/config/params.js';
import { createLogger } from '../../src/logging/logger.js';
import { executeRun } from '../../src/pipeline/execute-run.js';
import TransportStream from 'winston-transport';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * The PostgreSQL fast path (the database writes the CSV with COPY) must write exactly the bytes that Ferry's own
 * row-by-row writer writes, for every column type and format option; and fall back to rows when it cannot.
 */
const TRICKY = ['plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rlf\r\n', 'Zoë José 🙂', '', null, ' spaced ', '\\N', 'semi;colon', 'tab\there', 'pipe|x'];

class Modes extends TransportStream {
  readonly modes: string[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    if (info.message === 'extract started') this.modes.push(String(info.mode));
    next();
  }
}

describe('PostgreSQL COPY fast path writes the same bytes as the row path', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  let u: URL;

  beforeAll(async () => {
    db = await createTestDatabase('copy');
    u = new URL(db.url);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`CREATE TABLE t (
      id int PRIMARY KEY, txt text, vc varchar(20), big bigint, num numeric(10,3), flag boolean, born date,
      seen timestamptz, local_ts timestamp, uid uuid, code text, score float8)`);
    for (let i = 0; i < 400; i++) {
      await client.query('INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)', [
        i,
        TRICKY[i % TRICKY.length],
        i % 7 === 0 ? null : `v${i}`,
        i % 5 === 0 ? null : String(9007199254740993n + BigInt(i)),
        i % 6 === 0 ? null : `${i}.${i % 1000}`,
        i % 3 === 0 ? null : i % 2 === 0,
        i % 4 === 0 ? null : `20${10 + (i % 15)}-0${1 + (i % 9)}-1${i % 10}`,
        i % 9 === 0 ? null : `2026-03-0${1 + (i % 8)} 0${i % 10}:1${i % 6}:2${i % 10}${i % 3 === 0 ? '' : `.${i % 7}5`}+0${i % 3}`,
        `2026-11-0${1 + (i % 9)} 23:59:5${i % 10}`,
        `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ['HES', 'HMS', "x'); DROP TABLE t; --"][i % 3],
        i / 3,
      ]);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-copy-'));
    const ex = path.join(dir, 'extracts/postgres/tricky');
    fs.mkdirSync(ex, { recursive: true });
    fs.writeFileSync(
      path.join(ex, 'extract.yaml'),
      `name: tricky
description: Every column type with awkward values.
source: postgres
filters: [buildings, asOf]
params:
  minId: { type: integer, default: 0 }
  flagged: { type: boolean, default: true }
  label: { type: string }
columns:
  - { name: id, type: integer, element: "Not personal data/other" }
  - { name: txt, type: string, element: "Not personal data/other" }
  - { name: vc, type: string, element: "Not personal data/other" }
  - { name: big, type: integer, element: "Not personal data/other" }
  - { name: num, type: decimal, element: "Not personal data/other" }
  - { name: flag, type: boolean, element: "Not personal data/other" }
  - { name: born, type: date, element: "Not personal data/other" }
  - { name: seen, type: timestamp, element: "Not personal data/other" }
  - { name: local_ts, type: timestamp, element: "Not personal data/other" }
  - { name: seen_day, type: date, element: "Not personal data/other" }
  - { name: uid, type: string, element: "Not personal data/other" }
  - { name: code, type: string, element: "Not personal data/other" }
  - { name: label, type: string, element: "Not personal data/other" }
`,
    );
    fs.writeFileSync(
      path.join(ex, 'query.sql'),
      `-- :commented is not a parameter; neither is ':quoted' nor $$ :dollar $$
SELECT id, txt, vc, big, num, flag, born, seen, local_ts, seen::date AS seen_day, uid, code, :label AS label
FROM t
WHERE id >= :minId
  AND (cardinality(:buildings::text[]) = 0 OR code = ANY(:buildings::text[]))
  AND (born IS NULL OR born <= :asOf::date OR :flagged)
  AND txt IS DISTINCT FROM ':quoted'
ORDER BY id;
`,
    );
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (format: Record<string, unknown>, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
    fs.mkdirSync(path.join(dir, 'config/integrations'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'config/ferry.yaml'),
      JSON.stringify({
        dataDir: '../var',
        extractsDir: '../extracts',
        sources: { pg: { kind: 'postgres', host: u.hostname, port: Number(u.port), database: u.pathname.slice(1), user: decodeURIComponent(u.username) } },
        destinations: { out: { kind: 'local', basePath: '../out' } },
      }),
    );
    fs.writeFileSync(
      path.join(dir, 'config/integrations/d.yaml'),
      JSON.stringify({
        district: { id: 'd', name: 'D' },
        agreements: agreementsWith(['V']),
        integrations: [{ id: 'tricky', extract: 'tricky', source: 'pg', destination: 'out', remotePath: 'x.csv', schedule: { cron: '0 1 * * *', timezone: 'UTC' }, params, format, inventory: { vendor: 'V', contact: 'C', purpose: 'P' }, ...extra }],
      }),
    );
    const res = tryLoadConfig(path.join(dir, 'config'));
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    return { integration: res.config.integrations.get('tricky')!, spoolDir: res.config.spoolDir };
  };

  const source = () =>
    createPostgresSource({ id: 'pg', host: u.hostname, port: Number(u.port), database: u.pathname.slice(1), user: decodeURIComponent(u.username), password: () => decodeURIComponent(u.password), ssl: false, connectTimeoutSeconds: 5 });
  const rowsOnly = (s: Source): Source => ({ kind: s.kind, stream: s.stream.bind(s), close: s.close.bind(s) });

  let runId = 0;
  async function run(integration: Integration, spoolDir: string, open: () => Source): Promise<{ bytes: Buffer; rows: number; mode: string }> {
    const modes = new Modes();
    const logger = createLogger({ level: 'info', transports: [modes] });
    const params = resolveParams(integration.id, integration.extract, integration.district, integration.params, new Date('2026-11-23T12:00:00Z'), 'UTC');
    const result = await executeRun(
      { runId: ++runId, integration, scheduledFor: null, logger, signal: new AbortController().signal, clock: systemClock, params },
      { spoolDir, baselineDir: path.join(spoolDir, '..', 'baselines'), keepSpool: false, dryRun: true, openSource: open, openDestination: () => { throw new Error('dry run'); } },
    );
    const bytes = fs.readFileSync(result.spoolPath!);
    fs.rmSync(result.spoolPath!);
    return { bytes, rows: result.rows, mode: modes.modes[0]! };
  }

  const variants: [string, Record<string, unknown>][] = [
    ['CSV, CRLF', {}],
    ['CSV, LF, BOM, Y/N booleans', { lineEnding: 'lf', bom: true, booleans: ['Y', 'N'] }],
    ['TSV', { delimiter: '\t', lineEnding: 'lf' }],
    ['semicolons, no header', { delimiter: ';', header: false }],
    ['pipes', { delimiter: '|' }],
    ['Clever dates (MM/DD/YYYY)', { dateFormat: 'MM/DD/YYYY' }],
  ];
  for (const [name, format] of variants) {
    it(name, async () => {
      const { integration, spoolDir } = config(format, { label: 'it\'s "quoted", really', buildings: ['HES', "x'); DROP TABLE t; --"] });
      const fast = await run(integration, spoolDir, source);
      const slow = await run(integration, spoolDir, () => rowsOnly(source()));
      expect(fast.mode).toBe('database-csv');
      expect(slow.mode).toBe('rows');
      expect(fast.rows).toBe(slow.rows);
      expect(fast.rows).toBeGreaterThan(200);
      expect(fast.bytes.toString('utf8')).toBe(slow.bytes.toString('utf8'));
      if (format['dateFormat'] === 'MM/DD/YYYY') expect(fast.bytes.toString('utf8')).toMatch(/,\d\d\/\d\d\/\d{4},/);
    });
  }

  it('binds parameters as data (an injection attempt is just a value) and handles NULL parameters', async () => {
    const { integration, spoolDir } = config({}, { buildings: ["x'); DROP TABLE t; --"], minId: 390 });
    const fast = await run(integration, spoolDir, source);
    const slow = await run(integration, spoolDir, () => rowsOnly(source()));
    expect(fast.mode).toBe('database-csv');
    expect(fast.bytes.equals(slow.bytes)).toBe(true);
    expect(fast.rows).toBe(3); // ids 392, 395, 398 carry that code
    expect((await client.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(400);
  });

  it('a fields: allowlist narrows both paths to the same columns, and the fast path is kept', async () => {
    const { integration, spoolDir } = config({}, { label: 'withheld value' }, { fields: ['code', 'id', 'seen'] });
    const fast = await run(integration, spoolDir, source);
    const slow = await run(integration, spoolDir, () => rowsOnly(source()));
    expect(fast.mode).toBe('database-csv');
    expect(slow.mode).toBe('rows');
    const text = fast.bytes.toString('utf8');
    expect(text).toBe(slow.bytes.toString('utf8'));
    expect(text.split('\r\n')[0]).toBe('id,seen,code');
    expect(text).not.toContain('withheld value');
  });

  it('falls back to rows for a column it cannot write identically (a float declared decimal)', async () => {
    const sql = path.join(dir, 'extracts/postgres/tricky/query.sql');
    const before = fs.readFileSync(sql, 'utf8');
    const yaml = path.join(dir, 'extracts/postgres/tricky/extract.yaml');
    const yamlBefore = fs.readFileSync(yaml, 'utf8');
    try {
      fs.writeFileSync(sql, before.replace(':label AS label', 'score AS label'));
      fs.writeFileSync(yaml, yamlBefore.replace('- { name: label, type: string,', '- { name: label, type: decimal,').replace('  label: { type: string }\n', ''));
      const { integration, spoolDir } = config({});
      const r = await run(integration, spoolDir, source);
      expect(r.mode).toBe('rows');
      expect(r.rows).toBeGreaterThan(200);
    } finally {
      fs.writeFileSync(sql, before);
      fs.writeFileSync(yaml, yamlBefore);
    }
  });
});
