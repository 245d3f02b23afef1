import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import { afterAll, describe, expect, it } from 'vitest';
import { cmdCheckFile } from '../../src/cli/commands/check-file.js';
import type { Io } from '../../src/cli/context.js';
import { FerryError } from '../../src/core/errors.js';
import { writeOneRosterZip } from '../../src/formats/oneroster/bundle.js';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { readZipEntries } from '../../src/formats/oneroster/read-zip.js';
import type { OneRosterFileName } from '../../src/formats/oneroster/spec.js';
import {
  formatValidationReport,
  validateOneRosterFiles,
  validateOneRosterZip,
  type ProblemKind,
  type ValidationResult,
} from '../../src/formats/oneroster/validate.js';

/**
 * Headers are copied from the reference (§4.4), not from spec.ts, so that a mistake in the spec table shows up here.
 * Cell values that a test plants as "bad" contain SECRET so that we can prove no message repeats them.
 */
const HEADERS = {
  orgs: 'sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId',
  academicSessions: 'sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear',
  courses: 'sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes',
  classes: 'sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods',
  users: 'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password',
  enrollments: 'sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate',
  demographics:
    'sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus',
} as const;
type Name = keyof typeof HEADERS;
type Rows = Record<Name, Record<string, string>[]>;

const races = (on: string[]) =>
  Object.fromEntries(
    ['americanIndianOrAlaskaNative', 'asian', 'blackOrAfricanAmerican', 'nativeHawaiianOrOtherPacificIslander', 'white', 'demographicRaceTwoOrMoreRaces', 'hispanicOrLatinoEthnicity'].map((f) => [f, on.includes(f) ? 'true' : 'false']),
  );

function validRows(): Rows {
  return {
    orgs: [
      { sourcedId: 'd1', name: 'Lakeside CSD', type: 'district', identifier: '0001' },
      { sourcedId: 's1', name: 'Lakeside High, Main Campus', type: 'school', identifier: '0002', parentSourcedId: 'd1' },
    ],
    academicSessions: [{ sourcedId: 't1', title: '2025-2026', type: 'schoolYear', startDate: '2025-07-01', endDate: '2026-06-30', schoolYear: '2026' }],
    courses: [{ sourcedId: 'c1', schoolYearSourcedId: 't1', title: 'Algebra I', courseCode: 'MATH1', grades: '09,10', orgSourcedId: 's1', subjects: 'Math' }],
    classes: [
      { sourcedId: 'k1', title: 'Algebra I - P1', grades: '09', courseSourcedId: 'c1', classCode: 'MATH1-1', classType: 'scheduled', location: 'Room 101', schoolSourcedId: 's1', termSourcedIds: 't1', periods: '1' },
    ],
    users: [
      { sourcedId: 'u1', enabledUser: 'true', orgSourcedIds: 's1', role: 'teacher', username: 'jdoe', givenName: 'Jane', familyName: 'Doe', identifier: 'T100', email: 'jdoe@example.org' },
      { sourcedId: 'u2', enabledUser: 'true', orgSourcedIds: 's1,d1', role: 'student', username: 'asmith', givenName: 'Ann', familyName: 'Smith', identifier: 'S200', grades: '09' },
      { sourcedId: 'u3', enabledUser: 'true', orgSourcedIds: 's1', role: 'student', username: 'bjones', givenName: 'Bo "B"', familyName: 'Jones', identifier: 'S300', grades: '10' },
    ],
    enrollments: [
      { sourcedId: 'e1', classSourcedId: 'k1', schoolSourcedId: 's1', userSourcedId: 'u1', role: 'teacher', primary: 'true', beginDate: '2025-09-01', endDate: '2026-06-30' },
      { sourcedId: 'e2', classSourcedId: 'k1', schoolSourcedId: 's1', userSourcedId: 'u2', role: 'student', primary: 'false', beginDate: '2025-09-01' },
      { sourcedId: 'e3', classSourcedId: 'k1', schoolSourcedId: 's1', userSourcedId: 'u3', role: 'student', primary: 'false' },
    ],
    demographics: [
      { sourcedId: 'u2', birthDate: '2011-03-04', sex: 'female', ...races(['white']), countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'NY', cityOfBirth: 'Albany' },
      { sourcedId: 'u3', birthDate: '2010-12-31', sex: 'male', ...races(['asian', 'hispanicOrLatinoEthnicity']) },
    ],
  };
}

const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

function render(rows: Partial<Rows>, opts: { mode?: 'bulk' | 'delta'; manifest?: boolean } = {}): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, list] of Object.entries(rows) as [Name, Record<string, string>[]][]) {
    const header = HEADERS[name].split(',');
    files.set(`${name}.csv`, [HEADERS[name], ...list.map((r) => header.map((h) => quote(r[h] ?? '')).join(','))].join('\r\n') + '\r\n');
  }
  if (opts.manifest !== false) files.set('manifest.csv', buildManifest(new Set(Object.keys(rows) as OneRosterFileName[]), opts.mode ?? 'bulk'));
  return files;
}

/** The valid bundle with one cell changed (row is 0-based among data rows). */
function withCell(name: Name, row: number, column: string, value: string): Map<string, string> {
  const rows = validRows();
  rows[name][row]![column] = value;
  return render(rows);
}

function only(result: ValidationResult, kind: ProblemKind) {
  expect(result.ok).toBe(false);
  const hits = result.problems.filter((p) => p.kind === kind);
  expect(hits.length, JSON.stringify(result.problems, null, 2)).toBeGreaterThan(0);
  return hits;
}

function expectNoLeak(result: ValidationResult, secret = 'SECRET'): void {
  for (const p of result.problems) expect(p.message).not.toContain(secret);
  expect(formatValidationReport(result)).not.toContain(secret);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-oneroster-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('parseCsv (RFC 4180)', () => {
  it('reads quoted commas, doubled quotes, line breaks inside quotes, CRLF and LF', () => {
    expect(parseCsv('a,"b,c","say ""hi"""\r\n"x\r\ny",,z\nlast,1,2').records).toEqual([
      ['a', 'b,c', 'say "hi"'],
      ['x\r\ny', '', 'z'],
      ['last', '1', '2'],
    ]);
  });
  it('treats one final line break as the end, and a trailing comma as an empty field', () => {
    expect(parseCsv('a,b\n').records).toEqual([['a', 'b']]);
    expect(parseCsv('a,\n').records).toEqual([['a', '']]);
    expect(parseCsv('""').records).toEqual([['']]);
    expect(parseCsv('').records).toEqual([]);
  });
  it('reports the first malformed record by number', () => {
    expect(parseCsv('h\n"open').error).toEqual({ row: 2, message: 'a quoted field is never closed' });
    expect(parseCsv('h\nok\nab"c').error?.row).toBe(3);
    expect(parseCsv('"a"b').error?.message).toMatch(/after its closing quote/);
    expect(parseCsv('a\rb').error?.message).toMatch(/bare CR/);
  });
});

describe('validateOneRosterFiles', () => {
  it('accepts a small valid bulk bundle', () => {
    const result = validateOneRosterFiles(render(validRows()));
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(Object.values(result.counts).every((n) => n === 0)).toBe(true);
    expect(result.files.find((f) => f.name === 'users.csv')).toEqual({ name: 'users.csv', rows: 3, mode: 'bulk' });
    expect(formatValidationReport(result)).toBe('OneRoster check: no problems (7 files, 13 rows)\n');
  });

  it('reports columns out of spec order, missing, misspelled, and never echoes header text', () => {
    const files = render(validRows());
    const orgs = files.get('orgs.csv')!.replace('name,type', 'type,name');
    let r = validateOneRosterFiles(new Map(files).set('orgs.csv', orgs));
    expect(only(r, 'header').map((p) => p.message)).toEqual([`orgs.csv, row 1: the columns are not in spec order: ${HEADERS.orgs}`]);

    const users = files.get('users.csv')!.replace('givenName', 'GivenName').replace(',password', ',SECRET-Smith');
    r = validateOneRosterFiles(new Map(files).set('users.csv', users));
    const messages = only(r, 'header').map((p) => p.message);
    expect(messages).toContain('users.csv, row 1: column 9 is not a users.csv column; it should be spelled givenName (names are case-sensitive, no spaces)');
    expect(messages).toContain('users.csv, row 1: column 18 is not a users.csv column');
    expect(messages).toContain('users.csv, row 1, column password: the column is missing (every column must be present, even when blank)');
    expectNoLeak(r);
  });

  it('reports a blank required value by file, row and column', () => {
    const r = validateOneRosterFiles(withCell('users', 1, 'givenName', ''));
    expect(only(r, 'required')).toEqual([{ file: 'users.csv', row: 3, column: 'givenName', kind: 'required', message: 'users.csv, row 3, column givenName: a value is required' }]);
    expect(r.counts.required).toBe(1);
  });

  it('reports a value outside a vocabulary with the allowed values but not the value', () => {
    const r = validateOneRosterFiles(withCell('users', 2, 'role', 'SECRET-pupil'));
    const [p] = only(r, 'enum');
    expect(p).toMatchObject({ file: 'users.csv', row: 4, column: 'role' });
    expect(p!.message).toBe('users.csv, row 4, column role: must be one of administrator, aide, guardian, parent, proctor, relative, student, teacher (case-sensitive)');
    expectNoLeak(r);
    // enrollments have a narrower role list than users.
    expect(only(validateOneRosterFiles(withCell('enrollments', 0, 'role', 'aide')), 'enum')[0]).toMatchObject({ file: 'enrollments.csv', row: 2, column: 'role' });
  });

  it('reports dates that are not YYYY-MM-DD or not on the calendar, and bad school years', () => {
    let r = validateOneRosterFiles(withCell('enrollments', 1, 'beginDate', '09/01/2025'));
    expect(only(r, 'date')[0]).toMatchObject({ file: 'enrollments.csv', row: 3, column: 'beginDate' });
    expectNoLeak(r, '09/01/2025');
    r = validateOneRosterFiles(withCell('demographics', 0, 'birthDate', '2011-02-30'));
    expect(only(r, 'date')[0]).toMatchObject({ file: 'demographics.csv', row: 2, column: 'birthDate' });
    expectNoLeak(r, '2011-02-30');
    r = validateOneRosterFiles(withCell('academicSessions', 0, 'schoolYear', '2025-26'));
    expect(only(r, 'date')[0]).toMatchObject({ column: 'schoolYear' });
  });

  it('reports references to sourcedIds that are not in the bundle, single and multi-valued', () => {
    let r = validateOneRosterFiles(withCell('enrollments', 2, 'userSourcedId', 'SECRET-u9'));
    expect(only(r, 'foreign_key')).toEqual([
      { file: 'enrollments.csv', row: 4, column: 'userSourcedId', kind: 'foreign_key', message: 'enrollments.csv, row 4, column userSourcedId: refers to a sourcedId that is not in users.csv' },
    ]);
    expectNoLeak(r);

    r = validateOneRosterFiles(withCell('users', 1, 'orgSourcedIds', 's1,SECRET-x'));
    expect(only(r, 'foreign_key')[0]).toMatchObject({ file: 'users.csv', row: 3, column: 'orgSourcedIds' });
    expect(only(r, 'foreign_key')[0]!.message).toMatch(/an item refers to a sourcedId that is not in orgs\.csv/);
    expectNoLeak(r);

    r = validateOneRosterFiles(withCell('classes', 0, 'termSourcedIds', 't1, t1'));
    expect(only(r, 'foreign_key')[0]!.message).toMatch(/spaces around it/);

    // A whole file missing: one problem per referring column, not one per row.
    const rows: Partial<Rows> = validRows();
    delete rows.courses;
    r = validateOneRosterFiles(render(rows));
    expect(only(r, 'foreign_key').map((p) => p.message)).toEqual(['classes.csv, row 2, column courseSourcedId: refers to courses.csv, which is not in the bundle']);
  });

  it('reports a repeated sourcedId with the row it repeats', () => {
    const rows = validRows();
    rows.users.push({ ...rows.users[1]!, username: 'other' });
    const r = validateOneRosterFiles(render(rows));
    expect(only(r, 'duplicate')).toEqual([{ file: 'users.csv', row: 5, column: 'sourcedId', kind: 'duplicate', message: 'users.csv, row 5, column sourcedId: the same sourcedId as row 3' }]);
  });

  it('reports a BOM and still reads the header correctly', () => {
    const files = render(validRows());
    files.set('users.csv', '\ufeff' + files.get('users.csv')!);
    const r = validateOneRosterFiles(files);
    expect(r.problems).toEqual([{ file: 'users.csv', row: 1, kind: 'bom', message: expect.stringMatching(/^users\.csv, row 1: the file starts with a byte order mark/) }]);
  });

  it('keeps bulk files free of status/dateLastModified and requires both on every delta row', () => {
    let r = validateOneRosterFiles(withCell('orgs', 1, 'status', 'active'));
    expect(only(r, 'bulk_delta')).toEqual([{ file: 'orgs.csv', row: 3, column: 'status', kind: 'bulk_delta', message: 'orgs.csv, row 3, column status: must be blank in a bulk file' }]);

    const delta = validRows();
    for (const list of Object.values(delta)) for (const row of list) Object.assign(row, { status: 'active', dateLastModified: '2026-01-15T10:30:00.000Z' });
    expect(validateOneRosterFiles(render(delta, { mode: 'delta' }), { mode: 'delta' }).problems).toEqual([]);

    delta.users[0]!.dateLastModified = '';
    delta.users[1]!.status = 'inactive';
    delta.users[2]!.dateLastModified = '2026-01-15 10:30';
    r = validateOneRosterFiles(render(delta, { mode: 'delta' }));
    expect(r.problems.map((p) => [p.kind, p.row, p.column])).toEqual([
      ['bulk_delta', 2, 'dateLastModified'],
      ['enum', 3, 'status'],
      ['date', 4, 'dateLastModified'],
    ]);
    // A delta bundle where a bulk one was expected.
    r = validateOneRosterFiles(render(validRows(), { mode: 'delta' }), { mode: 'bulk' });
    expect(only(r, 'manifest')[0]!.message).toBe('manifest.csv, row 4, column value: file.academicSessions is delta but a bulk bundle was expected');
  });

  it('checks manifest.csv against the files present', () => {
    const files = render(validRows());
    expect(validateOneRosterFiles(new Map([...files].filter(([n]) => n !== 'manifest.csv'))).problems.map((p) => p.message)).toEqual([
      'manifest.csv: manifest.csv is missing; a OneRoster bundle must include it at the root',
    ]);

    const manifest = files
      .get('manifest.csv')!
      .replace('oneroster.version,1.1', 'oneroster.version,1.2')
      .replace('file.courses,bulk', 'file.courses,absent')
      .replace('file.results,absent', 'file.results,bulk')
      .replace('file.lineItems,absent\r\n', '')
      .concat('file.users,bulk\r\nx.custom,1\r\n');
    const r = validateOneRosterFiles(new Map(files).set('manifest.csv', manifest).set('Users.csv', '').set('export/orgs.csv', ''));
    expect(r.problems.filter((p) => p.kind === 'manifest').map((p) => p.message)).toEqual([
      'Users.csv: is not a OneRoster 1.1 file name (names are case-sensitive, e.g. academicSessions.csv)',
      'export/orgs.csv: OneRoster files must be at the root of the zip, not in a folder',
      'manifest.csv, row 16, column propertyName: file.users is listed twice',
      'manifest.csv, row 17, column propertyName: the property is not a OneRoster 1.1 manifest property',
      'manifest.csv, row 3, column value: oneroster.version must be 1.1',
      'manifest.csv, row 8, column value: courses.csv is in the bundle but file.courses does not say bulk or delta',
      'manifest.csv: file.lineItems is missing (every 1.1 file is listed as bulk, delta or absent)',
      'manifest.csv, row 14, column value: file.results is bulk but results.csv is not in the bundle',
    ]);
  });

  it('keeps counts exact when problems are capped, and the report shows the first 20', () => {
    const rows = validRows();
    for (let i = 0; i < 30; i++) rows.orgs.push({ sourcedId: `x${i}`, name: 'n', type: 'SECRET' });
    const r = validateOneRosterFiles(render(rows), { maxProblems: 25 });
    expect(r.problems).toHaveLength(25);
    expect(r.counts.enum).toBe(30);
    const report = formatValidationReport(r, { limit: 20 });
    expect(report.split('\n').filter((l) => l.startsWith('  [enum]'))).toHaveLength(20);
    expect(report).toContain('… 10 more not shown');
    expect(report).toContain('by kind: enum 30\n');
    expectNoLeak(r);
  });
});

describe('writeOneRosterZip', () => {
  it('writes manifest.csv and the files at the root, mode 0600, with hashes, and validates back', async () => {
    const files = render(validRows(), { manifest: false });
    const out = path.join(tmp, 'bundle.zip');
    const info = await writeOneRosterZip(out, files, { mode: 'bulk', mtime: new Date('2026-01-15T12:00:00Z') });

    const bytes = fs.readFileSync(out);
    expect(info.bytes).toBe(bytes.length);
    expect(info.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(info.files.map((f) => [f.name, f.rows])).toEqual([
      ['manifest.csv', 15],
      ['orgs.csv', 2],
      ['academicSessions.csv', 1],
      ['courses.csv', 1],
      ['classes.csv', 1],
      ['users.csv', 3],
      ['enrollments.csv', 3],
      ['demographics.csv', 2],
    ]);

    const entries = await readZipEntries(out);
    expect([...entries.keys()]).toEqual(info.files.map((f) => f.name));
    for (const f of info.files) expect(createHash('sha256').update(entries.get(f.name)!).digest('hex')).toBe(f.sha256);
    expect(entries.get('users.csv')!.toString('utf8')).toBe(files.get('users.csv'));
    expect(entries.get('manifest.csv')!.toString('utf8')).toMatch(/^propertyName,value\r\nmanifest\.version,1\.0\r\noneroster\.version,1\.1\r\nfile\.academicSessions,bulk\r\n/);

    const result = await validateOneRosterZip(out, { mode: 'bulk' });
    expect(result.problems).toEqual([]);
  });

  it('never overwrites, and a zip that cannot be written is a spool error', async () => {
    const files = render({ orgs: validRows().orgs }, { manifest: false });
    const out = path.join(tmp, 'once.zip');
    await writeOneRosterZip(out, files, { mode: 'bulk' });
    const again = await writeOneRosterZip(out, files, { mode: 'bulk' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(FerryError);
    expect(again).toMatchObject({ kind: 'spool', message: `the OneRoster zip ${out} cannot be written: the file already exists` });
    const missingDir = await writeOneRosterZip(path.join(tmp, 'no-such-dir', 'x.zip'), files, { mode: 'bulk' }).catch((e: unknown) => e);
    expect(missingDir).toMatchObject({ kind: 'spool' });
    await expect(writeOneRosterZip(path.join(tmp, 'bad.zip'), new Map([['people.csv', '']]), { mode: 'bulk' })).rejects.toMatchObject({ kind: 'format' });
  });

  it('a zip with the files in a folder is reported', async () => {
    const out = path.join(tmp, 'nested.zip');
    const zip = new yazl.ZipFile();
    for (const [name, text] of render(validRows())) zip.addBuffer(Buffer.from(text), `export/${name}`);
    zip.end();
    await new Promise<void>((resolve, reject) => zip.outputStream.pipe(fs.createWriteStream(out)).on('close', resolve).on('error', reject));
    const r = await validateOneRosterZip(out);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.message)).toContain('export/users.csv: OneRoster files must be at the root of the zip, not in a folder');
    expect(r.problems.map((p) => p.message)).toContain('manifest.csv: manifest.csv is missing; a OneRoster bundle must include it at the root');
  });
});

describe('ferry check-file', () => {
  const capture = () => {
    const io = { text: '', out: (t: string) => void (io.text += t), err: (t: string) => void (io.text += t), isTty: false };
    return io satisfies Io;
  };

  it('checks a zip bundle and a single CSV by its name', async () => {
    const zipPath = path.join(tmp, 'check.zip');
    await writeOneRosterZip(zipPath, render(validRows(), { manifest: false }), { mode: 'bulk' });
    let io = capture();
    expect(await cmdCheckFile(zipPath, {}, io)).toBe(0);
    expect(io.text).toBe('OneRoster check: no problems (7 files, 13 rows)\n');

    // On its own a users.csv is checked without its references; the bad role is reported, its value is not.
    const dir = fs.mkdtempSync(path.join(tmp, 'single-'));
    const usersPath = path.join(dir, 'users.csv');
    fs.writeFileSync(usersPath, withCell('users', 0, 'role', 'SECRET').get('users.csv')!);
    io = capture();
    expect(await cmdCheckFile(usersPath, {}, io)).toBe(1);
    expect(io.text).toContain('[enum] users.csv, row 2, column role: must be one of');
    expect(io.text).not.toContain('SECRET');
    io = capture();
    expect(await cmdCheckFile(usersPath, { json: true }, io)).toBe(1);
    expect(JSON.parse(io.text)).toMatchObject({ ok: false, counts: { enum: 1 } });

    await expect(cmdCheckFile(path.join(dir, 'people.csv'), {}, capture())).rejects.toMatchObject({ kind: 'params' });
  });
});
