import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cmdCheckFile } from '../../src/cli/commands/check-file.js';
import type { Io } from '../../src/cli/context.js';
import { CLEVER_SPECS, cleverSpecForFile } from '../../src/formats/clever/spec.js';
import { isCleverDate, validateCleverFiles } from '../../src/formats/clever/validate.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-clever-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Table = Record<string, string>[];
interface CleverSet {
  schools: Table;
  students: Table;
  teachers: Table;
  sections: Table;
  enrollments: Table;
  staff: Table;
}

/** A small valid set; every value carries "SECRET" somewhere so that a leak into a message would show. */
function validSet(): CleverSet {
  return {
    schools: [
      { School_id: 'SCH-SECRET-1', School_name: 'Lincoln SECRET', School_number: '101', Low_grade: 'Kindergarten' },
      { School_id: 'SCH-SECRET-2', School_name: 'Adams, "SECRET"', School_number: '102' },
    ],
    students: [
      { School_id: 'SCH-SECRET-1', Student_id: 'STU-SECRET-1', Last_name: 'Doe', First_name: 'Jane', Dob: '02/29/2012', Grade: '6' },
      { School_id: 'SCH-SECRET-2', Student_id: 'STU-SECRET-2', Last_name: 'Roe', First_name: 'Rick', Dob: '', Grade: '7' },
    ],
    teachers: [{ School_id: 'SCH-SECRET-1', Teacher_id: 'T-SECRET-1', Last_name: 'Smith', First_name: 'Ann', Teacher_email: 'a@x.test' }],
    sections: [
      { School_id: 'SCH-SECRET-1', Section_id: 'SEC-SECRET-1', Teacher_id: 'T-SECRET-1', Teacher_2_id: '', Name: 'Math', Term_start: '08/13/2020', Term_end: '06/15/2021' },
    ],
    enrollments: [
      { School_id: 'SCH-SECRET-1', Section_id: 'SEC-SECRET-1', Student_id: 'STU-SECRET-1' },
      { School_id: 'SCH-SECRET-1', Section_id: 'SEC-SECRET-1', Student_id: 'STU-SECRET-2' },
    ],
    staff: [{ School_id: 'SCH-SECRET-2', Staff_id: 'ST-SECRET-1', Staff_email: 's@x.test', First_name: 'Sam', Last_name: 'Lee', Role: 'Principal' }],
  };
}

const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** Columns in reversed order (not the order §5 lists them), CRLF line ends. */
function render(tables: CleverSet, reverse = true): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, rows] of Object.entries(tables) as [string, Table][]) {
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    if (reverse) columns.reverse();
    const lines = [columns.join(','), ...rows.map((r) => columns.map((c) => quote(r[c] ?? '')).join(','))];
    files.set(`${name}.csv`, lines.join('\r\n') + '\r\n');
  }
  return files;
}

function problemsOf(files: Map<string, string>) {
  const r = validateCleverFiles(files);
  for (const p of r.problems) expect(p.message).not.toContain('SECRET');
  return r;
}

const kinds = (r: ReturnType<typeof validateCleverFiles>) => r.problems.map((p) => `${p.kind}:${p.file}:${p.row ?? ''}:${p.column ?? ''}`);

describe('Clever spec', () => {
  it('knows the six file names, case-sensitively', () => {
    expect([...CLEVER_SPECS.keys()]).toEqual(['schools', 'students', 'teachers', 'sections', 'enrollments', 'staff']);
    expect(cleverSpecForFile('students.csv')?.id).toBe('Student_id');
    expect(cleverSpecForFile('Students.csv')).toBeUndefined();
    expect(cleverSpecForFile('users.csv')).toBeUndefined();
    for (const spec of CLEVER_SPECS.values()) for (const c of spec.required) expect(spec.columns).toContain(c);
  });

  it('accepts only real MM/DD/YYYY dates', () => {
    expect(isCleverDate('02/29/2012')).toBe(true);
    expect(isCleverDate('02/29/2013')).toBe(false);
    expect(isCleverDate('13/01/2012')).toBe(false);
    expect(isCleverDate('2012-02-01')).toBe(false);
    expect(isCleverDate('2/1/2012')).toBe(false);
  });
});

describe('validateCleverFiles', () => {
  it('passes a valid set with columns in any order, with or without quotes', () => {
    const r = problemsOf(render(validSet()));
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.files.map((f) => [f.name, f.rows])).toEqual([
      ['schools.csv', 2], ['students.csv', 2], ['teachers.csv', 1], ['sections.csv', 1], ['enrollments.csv', 2], ['staff.csv', 1],
    ]);
    expect(validateCleverFiles(render(validSet(), false)).ok).toBe(true);
  });

  it('does not report a BOM (the reference says nothing about one) and reads the first header through it', () => {
    const files = render(validSet());
    files.set('schools.csv', '\ufeff' + files.get('schools.csv')!);
    expect(problemsOf(files).problems).toEqual([]);
  });

  it('reports unknown, misspelled, repeated and missing required columns without echoing header text', () => {
    const files = render(validSet(), false);
    const set = validSet();
    set.students = set.students.map(({ Last_name, ...r }) => ({ ...r, last_name: Last_name!, 'SECRET-col': 'x' }));
    files.set('students.csv', render(set, false).get('students.csv')!);
    files.set('staff.csv', 'School_id,Staff_id,Staff_email,First_name,Last_name,Staff_id\r\nSCH-SECRET-2,ST-SECRET-1,s@x.test,Sam,Lee,ST-SECRET-1\r\n');
    const r = problemsOf(files);
    expect(kinds(r)).toEqual(expect.arrayContaining([
      'header:students.csv:1:', 'header:students.csv:1:Last_name', 'header:staff.csv:1:Staff_id',
    ]));
    expect(r.problems.map((p) => p.message)).toContain('students.csv, row 1: column 6 is not a Clever students.csv column; it should be spelled Last_name (names are case-sensitive, no spaces)');
    expect(r.problems.map((p) => p.message)).toContain('students.csv, row 1, column Last_name: the required column is missing');
    expect(r.counts.header).toBe(4);
  });

  it('reports a missing header row', () => {
    const files = render(validSet());
    files.set('teachers.csv', '');
    expect(kinds(problemsOf(files))).toContain('header:teachers.csv:1:');
  });

  it('reports blank required values, bad dates, duplicate ids and dangling references by file, row and column', () => {
    const set = validSet();
    set.students[1]!.First_name = '';
    set.students[0]!.Dob = '2012-02-29';
    set.students[1]!.Dob = '02/30/2012';
    set.sections[0]!.Term_end = '6/15/2021';
    set.teachers.push({ ...set.teachers[0]! });
    set.enrollments[1]!.Student_id = 'STU-SECRET-9';
    set.sections[0]!.Teacher_2_id = 'T-SECRET-9';
    set.staff[0]!.School_id = 'SCH-SECRET-9';
    const r = problemsOf(render(set));
    expect(kinds(r).sort()).toEqual([
      'date:sections.csv:2:Term_end',
      'date:students.csv:2:Dob',
      'date:students.csv:3:Dob',
      'duplicate:teachers.csv:3:Teacher_id',
      'foreign_key:enrollments.csv:3:Student_id',
      'foreign_key:sections.csv:2:Teacher_2_id',
      'foreign_key:staff.csv:2:School_id',
      'required:students.csv:3:First_name',
    ]);
    expect(r.problems.map((p) => p.message)).toContain('teachers.csv, row 3, column Teacher_id: the same Teacher_id as row 2');
    expect(r.problems.map((p) => p.message)).toContain('enrollments.csv, row 3, column Student_id: refers to a Student_id that is not in students.csv');
    expect(r.ok).toBe(false);
  });

  it('reports each id column as duplicate in its own file', () => {
    const set = validSet();
    set.schools[1]!.School_id = 'SCH-SECRET-1';
    set.students[1]!.Student_id = 'STU-SECRET-1';
    set.sections.push({ ...set.sections[0]! });
    set.staff.push({ ...set.staff[0]! });
    const r = problemsOf(render(set));
    expect(kinds(r).filter((k) => k.startsWith('duplicate'))).toEqual([
      'duplicate:schools.csv:3:School_id', 'duplicate:students.csv:3:Student_id', 'duplicate:sections.csv:3:Section_id', 'duplicate:staff.csv:3:Staff_id',
    ]);
  });

  it('reports a missing target file once per column in a full set, and skips it when partial', () => {
    const files = render(validSet());
    files.delete('schools.csv');
    const r = problemsOf(files);
    expect(r.counts.foreign_key).toBe(5); // students, teachers, sections, enrollments, staff → School_id
    expect(r.problems[0]!.message).toContain('refers to schools.csv, which is not in the set');
    expect(validateCleverFiles(new Map([['students.csv', render(validSet()).get('students.csv')!]]), { partial: true }).ok).toBe(true);
  });

  it('reports malformed CSV and rows with the wrong number of fields', () => {
    const files = render(validSet(), false);
    files.set('teachers.csv', 'School_id,Teacher_id,Last_name,First_name\r\nSCH-SECRET-1,T-SECRET-1,Smith\r\nSCH-SECRET-1,T-SECRET-2,Sm"ith,Ann\r\n');
    const r = problemsOf(files);
    expect(kinds(r)).toEqual(expect.arrayContaining(['csv:teachers.csv:2:', 'csv:teachers.csv:3:']));
  });
});

describe('ferry check-file on Clever files', () => {
  const capture = () => {
    const io = { text: '', out: (t: string) => void (io.text += t), err: (t: string) => void (io.text += t), isTty: false };
    return io satisfies Io;
  };
  const writeSet = (files: Map<string, string>) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'set-'));
    for (const [name, text] of files) fs.writeFileSync(path.join(dir, name), text);
    return dir;
  };

  it('checks a folder as a set: exit 0 when valid, 1 with file/row/column and no values when not', async () => {
    const good = writeSet(render(validSet()));
    fs.writeFileSync(path.join(good, 'notes.txt'), 'not a Clever file');
    let io = capture();
    expect(await cmdCheckFile(good, {}, io)).toBe(0);
    expect(io.text).toBe('Clever check: no problems (6 files, 9 rows)\n');

    const set = validSet();
    set.enrollments[0]!.Section_id = 'SEC-SECRET-9';
    const bad = writeSet(render(set));
    io = capture();
    expect(await cmdCheckFile(bad, {}, io)).toBe(1);
    expect(io.text).toContain('[foreign_key] enrollments.csv, row 2, column Section_id: refers to a Section_id that is not in sections.csv');
    expect(io.text).not.toContain('SECRET');
    io = capture();
    expect(await cmdCheckFile(bad, { json: true }, io)).toBe(1);
    expect(JSON.parse(io.text)).toMatchObject({ ok: false, counts: { foreign_key: 1 } });

    await expect(cmdCheckFile(fs.mkdtempSync(path.join(tmp, 'empty-')), {}, capture())).rejects.toMatchObject({ kind: 'params' });
  });

  it('checks a lone students.csv on its own, without its references', async () => {
    const set = validSet();
    const dir = writeSet(new Map([['students.csv', render(set).get('students.csv')!]]));
    let io = capture();
    expect(await cmdCheckFile(path.join(dir, 'students.csv'), {}, io)).toBe(0);
    expect(io.text).toBe('Clever check: no problems (1 file, 2 rows)\n');

    set.students[0]!.Dob = '31/12/2012';
    fs.writeFileSync(path.join(dir, 'students.csv'), render(set).get('students.csv')!);
    io = capture();
    expect(await cmdCheckFile(path.join(dir, 'students.csv'), {}, io)).toBe(1);
    expect(io.text).toContain('[date] students.csv, row 2, column Dob: must be a real date written MM/DD/YYYY');
  });

  it('decides enrollments.csv by its header: School_id → Clever, sourcedId → OneRoster', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'enr-'));
    const file = path.join(dir, 'enrollments.csv');
    fs.writeFileSync(file, render(validSet()).get('enrollments.csv')!);
    let io = capture();
    expect(await cmdCheckFile(file, {}, io)).toBe(0);
    expect(io.text).toBe('Clever check: no problems (1 file, 2 rows)\n');

    fs.writeFileSync(file, 'sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\r\ne1,,,c1,o1,u1,student,,,\r\n');
    io = capture();
    await cmdCheckFile(file, {}, io);
    expect(io.text).toMatch(/^OneRoster check: /);

    // In a folder, a OneRoster enrollments.csv is not part of the Clever set.
    const files = render(validSet());
    const mixed = writeSet(files);
    fs.writeFileSync(path.join(mixed, 'enrollments.csv'), 'sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\r\n');
    io = capture();
    expect(await cmdCheckFile(mixed, {}, io)).toBe(0);
    expect(io.text).toBe('Clever check: no problems (5 files, 7 rows)\n');
  });
});
