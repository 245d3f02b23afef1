import { CURRENT_SCHOOL_YEAR, DEMO_DISTRICTS } from '../../src/demo/demo-sis-fixtures.js';
import { generateDemoSis } from '../../src/demo/demo-sis-data.js';

/**
 * The demo SIS students of one district with their current-year enrolment, as one flat record each. The fake API
 * servers map these onto their own shapes, so every source (SQLite, PostgreSQL, the APIs) holds the same students.
 */
export interface DemoStudent {
  /** 1, 2, 3 … within the district, from the demo student id. */
  seq: number;
  studentId: string;
  studentNumber: string;
  stateId: string;
  firstName: string;
  middleName: string | null;
  lastName: string;
  gender: string;
  birthDate: string;
  email: string | null;
  active: boolean;
  schoolYear: number;
  schoolCode: string;
  /** −1 pre-K, 0 K, 1 … 12 */
  gradeLevel: number;
  entryDate: string;
  exitDate: string | null;
}

export interface DemoSchool {
  code: string;
  name: string;
  low: number;
  high: number;
  /** 1, 2, 3 … within the district. */
  seq: number;
}

export const DEFAULT_DISTRICT = 'hilltop-csd';

export function demoSchools(districtId = DEFAULT_DISTRICT): DemoSchool[] {
  const d = DEMO_DISTRICTS.find((x) => x.id === districtId);
  if (!d) throw new Error(`no demo district ${districtId}`);
  return d.schools.map((s, i) => ({ code: s.code, name: s.name, low: s.low, high: s.high, seq: i + 1 }));
}

let sisCache: ReturnType<typeof generateDemoSis> | undefined;

export function demoStudents(districtId = DEFAULT_DISTRICT): DemoStudent[] {
  const sis = (sisCache ??= generateDemoSis());
  const enrollments = new Map<string, Readonly<Record<string, unknown>>>();
  for (const e of sis.get('student_enrollments') ?? []) {
    if (e['district_id'] === districtId && e['school_year'] === CURRENT_SCHOOL_YEAR) enrollments.set(String(e['student_id']), e);
  }
  return (sis.get('students') ?? [])
    .filter((s) => s['district_id'] === districtId)
    .map((s) => {
      const id = String(s['student_id']);
      const e = enrollments.get(id);
      if (!e) throw new Error(`demo student ${id} has no current enrolment`);
      return {
        seq: Number(/(\d+)$/.exec(id)?.[1]),
        studentId: id,
        studentNumber: String(s['student_number']),
        stateId: String(s['state_id']),
        firstName: String(s['first_name']),
        middleName: (s['middle_name'] as string | null) ?? null,
        lastName: String(s['last_name']),
        gender: String(s['gender']),
        birthDate: String(s['birth_date']),
        email: (s['email'] as string | null) ?? null,
        active: s['active'] === true,
        schoolYear: CURRENT_SCHOOL_YEAR,
        schoolCode: String(e['school_code']),
        gradeLevel: Number(e['grade_level']),
        entryDate: String(e['entry_date']),
        exitDate: (e['exit_date'] as string | null) ?? null,
      };
    });
}
