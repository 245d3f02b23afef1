import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import { afterAll, describe, expect, it } from 'vitest';
import { CLEVER_SPECS } from '../../src/formats/clever/spec.js';
import { validateCleverFiles, validateCleverInputs } from '../../src/formats/clever/validate.js';
import type { CheckInput } from '../../src/formats/oneroster/check-input.js';
import { IdTable } from '../../src/formats/oneroster/id-table.js';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { CsvReader, MAX_RECORD_CHARS, parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { openZip } from '../../src/formats/oneroster/read-zip.js';
import { ONEROSTER_SPECS, type OneRosterFileName } from '../../src/formats/oneroster/spec.js';
import { validateOneRosterFiles, validateOneRosterInputs, validateOneRosterZip } from '../../src/formats/oneroster/validate.js';
import { forgeDeclaredSizes, writeZipBomb } from '../helpers/large-zips.js';

/**
 * The checks stream: files arrive in pieces of any size, in any order, and only ids are kept. Whatever the pieces,
 * the report must be the one a whole-file read gives (the in-memory entry points read whole texts).
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-check-stream-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let seed = 20260115;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;

/** The bytes of `text` in pieces of 1 to `max` bytes (so multi-byte characters and CRLFs are split too). */
function pieces(name: string, text: string, max: number): CheckInput {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(rnd() * max);
    parts.push(bytes.subarray(i, i + n));
    i += n;
  }
  return { name, read: () => Readable.from(parts) };
}

describe('CsvReader', () => {
  const TEXTS = [
    'a,"b,c","say ""hi"""\r\n"x\r\ny",,z\nlast,1,2',
    'a,b\n',
    'a,\n\n\nb',
    '""',
    '"a"""\r\n"""b"\r\n',
    'h\n"open',
    'h\nok\nab"c',
    '"a"b',
    'a\rb',
    'a\r',
    'é,"ü\r\n"\r\n€,x',
  ];
  it('reads text given in pieces of any size exactly as it reads it whole', () => {
    for (const text of TEXTS) {
      const whole = parseCsv(text);
      for (let size = 1; size <= text.length; size++) {
        const records: string[][] = [];
        const reader = new CsvReader((r) => records.push(r));
        for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size));
        reader.end();
        expect({ records, error: reader.error }, `${JSON.stringify(text)} in pieces of ${size}`).toEqual({ records: whole.records, error: whole.error });
      }
    }
  });

  it('refuses a record longer than the limit instead of holding it (an unclosed quote in a huge file)', () => {
    const records: string[][] = [];
    const reader = new CsvReader((r) => records.push(r));
    reader.push('h\r\nok\r\n"never closed');
    for (let i = 0; i < 40; i++) reader.push('x'.repeat(64 * 1024));
    reader.end();
    expect(records).toEqual([['h'], ['ok']]);
    expect(reader.error).toEqual({ row: 3, message: `a record is longer than ${MAX_RECORD_CHARS} characters` });
  });
});

describe('IdTable', () => {
  it('keeps 300,000 ids with their first rows, with no false duplicate and no false member', () => {
    const ids = new IdTable();
    const id = (i: number) => `u${String(i).padStart(7, '0')}`;
    let repeats = 0;
    for (let i = 0; i < 300_000; i++) if (ids.firstRowOf(id(i), i + 2) !== undefined) repeats++;
    expect(repeats).toBe(0);
    expect(ids.firstRowOf(id(123_456), 999_999)).toBe(123_458);
    expect(ids.count).toBe(300_000);
    ids.dropRows();
    let members = 0;
    for (let i = 0; i < 600_000; i++) if (ids.has(id(i))) members++;
    expect(members).toBe(300_000);
    ids.release();
    expect(ids.has(id(1))).toBe(false);
  });
});

const VALUES = ['', 'x', 'SECRET', 'true', 'student', 'school', '2025-09-01', '2025-02-30', '02/29/2012', '2026', 'active', 'id1', 'id2', 'id3', 'id1,id2', 'id1, id2', 'a"b', 'a,b', 'é\nü'];
const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

function randomTable(columns: readonly string[]): string {
  let header = [...columns];
  if (rnd() < 0.15) header = header.reverse();
  if (rnd() < 0.1) header.splice(1, 1);
  const lines = [header.join(',')];
  for (let r = Math.floor(rnd() * 10); r > 0; r--) lines.push(header.map(() => quote(pick(VALUES))).join(','));
  let text = lines.join(pick(['\r\n', '\n'])) + (rnd() < 0.8 ? '\r\n' : '');
  const m = rnd();
  if (m < 0.07) text = '\ufeff' + text;
  else if (m < 0.14) text += '"open';
  else if (m < 0.2) text += 'ab"c\r\n';
  return text;
}

describe('a streamed check reports what a whole-file check reports', () => {
  it('OneRoster bundles in pieces of 1 to 7 bytes, files in any order', async () => {
    for (let n = 0; n < 80; n++) {
      const names = [...ONEROSTER_SPECS.keys()].filter(() => rnd() < 0.6);
      const files = new Map<string, string>(names.map((name) => [`${name}.csv`, randomTable(ONEROSTER_SPECS.get(name)!.headers)]));
      if (rnd() < 0.8) files.set('manifest.csv', buildManifest(new Set(names as OneRosterFileName[]), rnd() < 0.8 ? 'bulk' : 'delta'));
      const shuffled = new Map([...files].sort(() => rnd() - 0.5));
      const opts = { mode: pick([undefined, 'bulk', 'delta'] as const), partial: rnd() < 0.15, maxProblems: pick([1000, 5]) };
      const whole = validateOneRosterFiles(shuffled, opts);
      const streamed = await validateOneRosterInputs([...shuffled].map(([name, text]) => pieces(name, text, 7)), opts);
      expect(streamed).toEqual(whole);
    }
  });

  it('Clever sets in pieces of 1 to 7 bytes', async () => {
    for (let n = 0; n < 60; n++) {
      const files = new Map<string, string>();
      for (const [name, spec] of CLEVER_SPECS) if (rnd() < 0.7) files.set(`${name}.csv`, randomTable([...spec.required, ...spec.columns.filter((c) => !spec.required.includes(c) && rnd() < 0.2)]));
      const shuffled = new Map([...files].sort(() => rnd() - 0.5));
      const opts = { partial: rnd() < 0.2, maxProblems: pick([1000, 5]) };
      const whole = validateCleverFiles(shuffled, opts);
      expect(await validateCleverInputs([...shuffled].map(([name, text]) => pieces(name, text, 7)), opts)).toEqual(whole);
    }
  });
});

describe('references within a file wait for its end', () => {
  const USERS = ONEROSTER_SPECS.get('users')!.headers.join(',');
  const user = (id: string, agents: string) => `${id},,,true,o1,student,${id},,Given,Family,,,,,,"${agents}",,`;
  it('a guardian listed after the students who name them is found; a missing one, or a list with spaces, is reported on its row, in row order', () => {
    const users = [USERS, user('s1', 'g1'), user('s2', 'g1, g2'), user('s3', 'g2,SECRET-g9'), user('s4', 'g1,g2'), user('g1', ''), user('g2', '')].join('\r\n') + '\r\n';
    const files = new Map([
      ['orgs.csv', `${ONEROSTER_SPECS.get('orgs')!.headers.join(',')}\r\no1,,,District,district,,\r\n`],
      ['users.csv', users],
      ['manifest.csv', buildManifest(new Set(['orgs', 'users']), 'bulk')],
    ]);
    const r = validateOneRosterFiles(files);
    expect(r.problems.map((p) => p.message)).toEqual([
      'users.csv, row 3, column agentSourcedIds: a list item has spaces around it; separate sourcedIds with commas only',
      'users.csv, row 4, column agentSourcedIds: an item refers to a sourcedId that is not in users.csv',
    ]);
  });
});

describe('zip limits', () => {
  const zipOf = async (file: string, entries: [string, string][]) => {
    const zip = new yazl.ZipFile();
    for (const [name, text] of entries) zip.addBuffer(Buffer.from(text), name);
    zip.end();
    await new Promise<void>((resolve, reject) => zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject));
    return file;
  };
  const limits = { maxEntries: 100, maxTotalBytes: 2 * 1024 ** 3, maxRatio: 100 };
  const hints = { maxEntries: '--max-zip-entries', maxTotalBytes: '--max-unzipped-size', maxRatio: '--max-zip-ratio' };

  it('refuses too many entries, or too many bytes declared, before inflating anything, in one sentence naming the limit', async () => {
    const many = await zipOf(path.join(tmp, 'many.zip'), Array.from({ length: 5 }, (_, i) => [`f${i}.csv`, 'a\n']));
    await expect(openZip(many, { ...limits, maxEntries: 4 }, hints)).rejects.toMatchObject({
      kind: 'format',
      message: `${many} holds 5 entries, more than the limit of 4, so it was not read; if it is genuine, raise --max-zip-entries`,
    });
    const big = await zipOf(path.join(tmp, 'big.zip'), [['users.csv', 'x'.repeat(3000)]]);
    await expect(validateOneRosterZip(big, { limits: { ...limits, maxTotalBytes: 2048 }, hints })).rejects.toMatchObject({
      kind: 'format',
      message: `${big} would unpack to 2.9 KiB, more than the limit of 2.0 KiB, so it was not read; if it is genuine, raise --max-unzipped-size`,
    });
  });

  it('refuses a zip bomb by its packing ratio, and one whose headers lie by counting what inflates', async () => {
    const bomb = path.join(tmp, 'bomb.zip');
    await writeZipBomb(bomb, { entries: ['users.csv'], rowsPerEntry: 200_000 });
    await expect(validateOneRosterZip(bomb, { limits, hints })).rejects.toMatchObject({
      kind: 'format',
      message: expect.stringMatching(/^\S+bomb\.zip looks like a zip bomb: users\.csv would unpack to \d+\.\d MiB from \d+\.\d KiB \(\d+ times; the limit is 100\), so it was not read; if it is genuine, raise --max-zip-ratio$/),
    });

    forgeDeclaredSizes(bomb, 2 * 1024 * 1024);
    const zip = await openZip(bomb, limits, hints);
    expect(zip.entries.get('users.csv')!.uncompressedSize).toBe(2 * 1024 * 1024);
    zip.close();
    await expect(validateOneRosterZip(bomb, { limits: { ...limits, maxRatio: 1000 }, hints })).rejects.toMatchObject({
      kind: 'format',
      message: `${bomb} looks like a zip bomb: users.csv unpacks to more than the 2097152 bytes its header says, so it was not read`,
    });
  });
});
