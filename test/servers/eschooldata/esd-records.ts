import { CURRENT_SCHOOL_YEAR, DEMO_DISTRICTS, PRIOR_SCHOOL_YEAR } from '../../../src/demo/demo-sis-fixtures.js';
import { generateDemoSis, type DemoRow } from '../../../src/demo/demo-sis-data.js';

/**
 * The demo SIS of one district as the fake GURU API's records, one list per endpoint. Every list is built from
 * `generateDemoSis()`, so the fake holds exactly what the SQLite and PostgreSQL demo SIS hold. The field names and
 * nesting are this fake's own choice (eSD's real schemas are not public, reference §2.1): camelCase, a numeric eSD id
 * for students (50000 + the demo sequence number), nested objects where an API would embed them (a section's
 * teacher, term and roster; a lunch account's or attendance mark's student; a student's contacts).
 */
export interface EsdRecords {
  districts: Record<string, unknown>[];
  schoolYears: Record<string, unknown>[];
  schools: Record<string, unknown>[];
  staff: Record<string, unknown>[];
  courses: Record<string, unknown>[];
  sections: Record<string, unknown>[];
  /** Fields a student record carries besides those of `esdStudent`, by demo student id. */
  studentExtras: ReadonlyMap<string, { displayName: string; contacts: Record<string, unknown>[] }>;
  lunchAccounts: Record<string, unknown>[];
  dailyAttendance: Record<string, unknown>[];
}

export const gradeCode = (g: number): string => (g === -1 ? 'PK' : g === 0 ? 'K' : String(g).padStart(2, '0'));
/** The eSD student id of a demo student id (DEMO-H-000123 → 50123). */
export const esdStudentId = (demoId: string): number => 50_000 + Number(/(\d+)$/.exec(demoId)?.[1]);

let sis: Map<string, DemoRow[]> | undefined;
const cache = new Map<string, EsdRecords>();

export function esdRecords(districtId: string): EsdRecords {
  const hit = cache.get(districtId);
  if (hit) return hit;
  sis ??= generateDemoSis();
  const rows = (table: string) => (sis!.get(table) ?? []).filter((r) => r['district_id'] === districtId);
  const spec = DEMO_DISTRICTS.find((d) => d.id === districtId);
  if (!spec) throw new Error(`no demo district ${districtId}`);

  const schoolName = new Map(rows('schools').map((s) => [String(s['school_code']), String(s['name'])]));
  const students = new Map(rows('students').map((s) => [String(s['student_id']), s]));
  const current = new Map<string, DemoRow>();
  for (const e of rows('student_enrollments')) if (e['school_year'] === CURRENT_SCHOOL_YEAR) current.set(String(e['student_id']), e);
  const staffById = new Map(rows('staff').map((s) => [String(s['staff_id']), s]));
  const courses = new Map(rows('courses').map((c) => [String(c['course_code']), c]));
  const guardians = new Map(rows('guardians').map((g) => [String(g['guardian_id']), g]));
  const yearRecord = (year: number) => ({
    districtCode: districtId,
    schoolYear: year,
    description: `${year - 1}-${year}`,
    startDate: `${year - 1}-07-01`,
    endDate: `${year}-06-30`,
  });
  const thisYear = yearRecord(CURRENT_SCHOOL_YEAR);
  /** The student as embedded in lunch and attendance records: enough for the building, grade and status filters. */
  const embedded = (studentId: string) => {
    const s = students.get(studentId)!;
    const e = current.get(studentId)!;
    return {
      studentId: esdStudentId(studentId),
      districtStudentId: s['student_number'],
      firstName: s['first_name'],
      lastName: s['last_name'],
      buildingCode: e['school_code'],
      gradeLevel: gradeCode(Number(e['grade_level'])),
      studentStatus: s['active'] ? 'Active' : 'Inactive',
      schoolYear: e['school_year'],
      entryDate: e['entry_date'],
      exitDate: e['exit_date'],
    };
  };

  const rosters = new Map<string, Record<string, unknown>[]>();
  for (const se of rows('section_enrollments')) {
    const list = rosters.get(String(se['section_id'])) ?? [];
    const studentId = String(se['student_id']);
    const e = current.get(studentId)!;
    list.push({
      studentId: esdStudentId(studentId),
      gradeLevel: gradeCode(Number(e['grade_level'])),
      studentStatus: students.get(studentId)!['active'] ? 'Active' : 'Inactive',
      entryDate: se['entry_date'],
      exitDate: se['exit_date'],
    });
    rosters.set(String(se['section_id']), list);
  }

  const contacts = new Map<string, Record<string, unknown>[]>();
  for (const sg of rows('student_guardians')) {
    const g = guardians.get(String(sg['guardian_id']))!;
    const list = contacts.get(String(sg['student_id'])) ?? [];
    list.push({
      contactId: g['guardian_id'],
      firstName: g['first_name'],
      lastName: g['last_name'],
      relationship: sg['relationship'],
      contactPriority: sg['contact_priority'],
      receivesCorrespondence: sg['receives_correspondence'],
      phone: g['phone'],
      email: g['email'],
    });
    contacts.set(String(sg['student_id']), list);
  }
  for (const list of contacts.values()) list.sort((a, b) => Number(a['contactPriority']) - Number(b['contactPriority']));

  const district = rows('districts')[0]!;
  const records: EsdRecords = {
    districts: [{ districtCode: districtId, name: district['name'], stateCode: district['state_code'] }],
    schoolYears: [yearRecord(PRIOR_SCHOOL_YEAR), thisYear],
    schools: rows('schools').map((s) => ({
      buildingCode: s['school_code'],
      name: s['name'],
      lowGrade: gradeCode(Number(s['low_grade'])),
      highGrade: gradeCode(Number(s['high_grade'])),
      districtCode: districtId,
      phone: s['phone'],
    })),
    staff: rows('staff').map((s) => ({
      staffId: s['staff_id'],
      firstName: s['first_name'],
      lastName: s['last_name'],
      email: s['email'],
      title: s['title'],
      department: s['department'],
      buildingCode: s['school_code'],
      buildingName: s['school_code'] === null ? null : schoolName.get(String(s['school_code'])),
      phone: s['phone'],
      staffStatus: s['active'] ? 'Active' : 'Inactive',
    })),
    courses: rows('courses').map((c) => ({
      courseCode: c['course_code'],
      name: c['name'],
      subject: c['subject'],
      gradeLevel: gradeCode(Number(c['grade_level'])),
      districtCode: districtId,
    })),
    sections: rows('sections').map((sec) => {
      const c = courses.get(String(sec['course_code']))!;
      const t = staffById.get(String(sec['teacher_staff_id']))!;
      const id = String(sec['section_id']);
      return {
        sectionId: id,
        sectionNumber: id.slice(-2),
        name: `${String(c['name'])} - Section ${id.slice(-2)}`,
        schoolYear: sec['school_year'],
        districtCode: districtId,
        buildingCode: sec['school_code'],
        courseCode: c['course_code'],
        courseName: c['name'],
        subject: c['subject'],
        gradeLevel: gradeCode(Number(c['grade_level'])),
        period: sec['period'],
        room: sec['room'],
        term: { name: thisYear.description, startDate: thisYear.startDate, endDate: thisYear.endDate },
        teacher: { staffId: t['staff_id'], firstName: t['first_name'], lastName: t['last_name'], staffStatus: t['active'] ? 'Active' : 'Inactive' },
        roster: rosters.get(id) ?? [],
      };
    }),
    studentExtras: new Map(rows('students').map((s) => [String(s['student_id']), { displayName: String(s['display_name']), contacts: contacts.get(String(s['student_id'])) ?? [] }])),
    lunchAccounts: rows('lunch_accounts').map((a) => ({
      accountNumber: a['account_number'],
      // Money as a decimal string, the way many APIs send it to keep cents exact.
      balance: (Number(a['balance_cents']) / 100).toFixed(2),
      balanceDate: a['balance_date'],
      student: embedded(String(a['student_id'])),
    })),
    dailyAttendance: rows('daily_attendance').map((m) => ({
      attendanceDate: m['attendance_date'],
      buildingCode: m['school_code'],
      attendanceCode: m['code'],
      excused: m['excused'],
      student: embedded(String(m['student_id'])),
    })),
  };
  cache.set(districtId, records);
  return records;
}
