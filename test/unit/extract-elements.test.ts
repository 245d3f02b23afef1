import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadExtracts } from '../../src/config/load-extracts.js';
import type { Extract } from '../../src/config/model.js';
import { dataElement } from '../../src/governance/elements.js';

const REPO = path.join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function load(extractsDir: string): { extracts: Map<string, Extract>; problems: string[] } {
  const problems: string[] = [];
  const extracts = loadExtracts(extractsDir, (file, field, message) => problems.push(`${path.basename(path.dirname(file))}/${path.basename(file)}: ${field}: ${message}`));
  return { extracts, problems };
}

function extractsWith(columns: Record<string, unknown>[], personKey?: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-elements-'));
  dirs.push(root);
  const dir = path.join(root, 'sqlite', 'roster');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'extract.yaml'), YAML.stringify({ name: 'roster', description: 'Test roster', source: 'sqlite', ...(personKey ? { personKey } : {}), columns }));
  fs.writeFileSync(path.join(dir, 'query.sql'), 'SELECT 1\n');
  return root;
}

describe('validate: every extract column names its data element', () => {
  it('refuses an untagged column, naming the file and the column', () => {
    const { problems } = load(extractsWith([{ name: 'student_id', type: 'string', element: 'Student Identifiers/local ID' }, { name: 'first_name', type: 'string' }]));
    expect(problems).toEqual([
      'roster/extract.yaml: columns[1].element: column first_name names no data element: add element: "<tag>" from the NDPA Schedule of Data (README, "Data elements"), e.g. "Student Identifiers/local ID" or "Not personal data/other"',
    ]);
  });

  it('refuses an unknown element and suggests the close ones', () => {
    const { problems } = load(extractsWith([{ name: 'dob', type: 'date', element: 'Demographics/birth date' }]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^roster\/extract\.yaml: columns\[0\]\.element: column dob names "Demographics\/birth date", which is not a data element of the NDPA Schedule of Data: did you mean "Demographics\/date of birth"(, "[^"]+"){0,2}\?$/);
  });

  it('an unknown element with nothing close points to the vocabulary', () => {
    const { problems } = load(extractsWith([{ name: 'x', type: 'string', element: 'Zzz' }]));
    expect(problems).toEqual(['roster/extract.yaml: columns[0].element: column x names "Zzz", which is not a data element of the NDPA Schedule of Data: see the README\'s "Data elements" for the vocabulary']);
  });

  it('refuses a personKey that names no declared column, listing the columns', () => {
    const { problems } = load(extractsWith([{ name: 'student_id', type: 'string', element: 'Student Identifiers/local ID' }, { name: 'first_name', type: 'string', element: 'Student Name' }], 'studentId'));
    expect(problems).toEqual(["roster/extract.yaml: personKey: names studentId, which is not one of the extract's columns (student_id, first_name)"]);
  });

  it('keeps the element and person key on the loaded extract', () => {
    const { extracts, problems } = load(extractsWith([{ name: 'student_id', type: 'string', element: 'Student Identifiers/local ID' }], 'student_id'));
    expect(problems).toEqual([]);
    expect(extracts.get('roster')).toMatchObject({ personKey: 'student_id', columns: [{ name: 'student_id', element: 'Student Identifiers/local ID' }] });
  });
});

describe('the shipped extract library', () => {
  const { extracts, problems } = load(path.join(REPO, 'extracts'));
  const all = [...extracts.values()];
  const identifies = (e: Extract, group: 'student' | 'staff') =>
    e.columns.some((c) => c.element?.startsWith(group === 'student' ? 'Student Identifiers/' : 'Staff Identifiers/') && !c.element.endsWith('passwords'));
  const names = (e: Extract, category: string) => e.columns.some((c) => c.element === category);

  it('loads with no problems: every column of every extract names a known data element', () => {
    expect(problems).toEqual([]);
    expect(all).toHaveLength(90);
    const unknown = all.flatMap((e) => e.columns.filter((c) => c.element === undefined || dataElement(c.element) === undefined).map((c) => `${e.name}.${c.name}`));
    expect(unknown).toEqual([]);
  });

  it('every extract of rows about people names its person key, an identifier column', () => {
    // Rows about students carry a student identifier; rows about staff a staff identifier and name (a sections file
    // names its teacher by id, but its rows are sections).
    const people = all.filter((e) => identifies(e, 'student') || (identifies(e, 'staff') && names(e, 'Staff Name')));
    expect(people.length).toBeGreaterThan(50);
    const missing = people.filter((e) => e.personKey === undefined).map((e) => e.name);
    expect(missing).toEqual([]);
    const keyElements = new Set(people.map((e) => e.columns.find((c) => c.name === e.personKey)?.element));
    expect([...keyElements].sort()).toEqual(['Staff Identifiers/local ID', 'Student Identifiers/local ID']);
    // Parent contacts count the students a guardian's row is about.
    expect(all.filter((e) => e.name.startsWith('parent-contacts')).map((e) => e.columns.find((c) => c.name === e.personKey)?.element)).toEqual(Array(5).fill('Student Identifiers/local ID'));
    const others = all.filter((e) => !people.includes(e) && e.personKey !== undefined).map((e) => e.name);
    expect(others).toEqual([]);
  });

  it('twins tag the same column the same way, except where a source puts another id under the same name', () => {
    const byBase = new Map<string, Map<string, Set<string>>>();
    for (const e of all) {
      const base = e.name.replace(/-(pg|st|ps|esd)$/, '');
      const cols = byBase.get(base) ?? new Map<string, Set<string>>();
      for (const c of e.columns) cols.set(c.name, (cols.get(c.name) ?? new Set()).add(c.element!));
      byBase.set(base, cols);
    }
    const differing = [...byBase].flatMap(([base, cols]) => [...cols].filter(([, tags]) => tags.size > 1).map(([col, tags]) => `${base}.${col}: ${[...tags].sort().join(' | ')}`));
    // PowerSchool and eSchoolData send the state id as students-basic's student_id, and PowerSchool as lunch-balances'.
    expect(differing.sort()).toEqual([
      'lunch-balances.student_id: Student Identifiers/local ID | Student Identifiers/state ID',
      'students-basic.student_id: Student Identifiers/local ID | Student Identifiers/state ID',
    ]);
  });
});
