import { CURRENT_SCHOOL_YEAR, DEMO_DISTRICTS, PRIOR_SCHOOL_YEAR } from '../../../src/demo/demo-sis-fixtures.js';
import { generateDemoSis, type DemoRow } from '../../../src/demo/demo-sis-data.js';
import { psSchoolNumberOf } from './ps-records.js';

/**
 * One demo district as the PowerSchool tables the Ferry plugin's named queries read (STUDENTS, SCHOOLS, TERMS, COURSES,
 * SECTIONS, CC, USERS/SCHOOLSTAFF, the contacts tables, ATTENDANCE/ATTENDANCE_CODE), already joined where the fake's
 * query implementations only ever read them joined. Ids follow PowerSchool's habits: STUDENTS.DCID = 1000 + the demo
 * sequence (the same DCID the /ws/v1 student resource reports), school numbers 101…, TERMS.ID = YEARID × 100 with
 * YEARID = first calendar year − 1990, CC.DATELEFT = the day after the last day in the class.
 */
export interface PsSchoolRow { id: number; school_number: number; name: string; abbreviation: string; low_grade: number; high_grade: number }
export interface PsStudentRow {
  id: number; dcid: number; student_number: string; state_studentnumber: string; first_name: string; middle_name: string | null;
  last_name: string; gender: string; dob: string; grade_level: number; schoolid: number; enroll_status: number;
  entrydate: string; exitdate: string; student_web_id: string; email: string | null;
}
export interface PsUserRow {
  dcid: number; schoolstaff_id: number; teachernumber: string; first_name: string; last_name: string; email_addr: string;
  title: string; homeschoolid: number; school_phone: string; status: number; teacherloginid: string;
}
export interface PsTermRow { id: number; yearid: number; schoolid: number; portion: number; name: string; abbreviation: string; firstday: string; lastday: string }
export interface PsCourseRow { dcid: number; course_number: string; course_name: string; credittype: string | null }
export interface PsSectionRow {
  id: number; dcid: number; course_number: string; section_number: string; schoolid: number; termid: number;
  teacher: number; room: string; expression: string; grade_level: number;
}
export interface PsCcRow { dcid: number; studentid: number; sectionid: number; schoolid: number; termid: number; dateenrolled: string; dateleft: string }
export interface PsContactRow {
  personid: number; firstname: string; lastname: string; email: string | null; phone: string; studentdcid: number;
  contactpriorityorder: number; relationship: string; receivesmailflg: number; isactive: number;
}
export interface PsAttendanceRow { id: number; studentid: number; schoolid: number; att_date: string; att_code: string }
export interface PsAttendanceCode { att_code: string; description: string; presence_status_cd: string }
export interface PsLunch { id: number; balance1: number }

export interface PsDemoDb {
  districtNumber: string;
  districtName: string;
  schools: PsSchoolRow[];
  students: PsStudentRow[];
  users: PsUserRow[];
  terms: PsTermRow[];
  courses: PsCourseRow[];
  sections: PsSectionRow[];
  cc: PsCcRow[];
  contacts: PsContactRow[];
  attendance: PsAttendanceRow[];
  attendanceCodes: PsAttendanceCode[];
  /** /ws/v1 `lunch` expansion by demo student id. */
  lunchByStudentId: Map<string, PsLunch>;
  /** Indexes for the joins the query implementations make. */
  studentById: Map<number, PsStudentRow>;
  userByStaffId: Map<number, PsUserRow>;
  sectionById: Map<number, PsSectionRow>;
  courseByNumber: Map<string, PsCourseRow>;
}

export const yearIdOf = (schoolYear: number): number => schoolYear - 1991;
/** The day after the last day of a school year (what PowerSchool stores as EXITDATE/DATELEFT for a full year). */
export const yearEndExit = (schoolYear: number): string => `${schoolYear}-06-26`;

const seqOf = (id: unknown): number => Number(/(\d+)$/.exec(String(id))?.[1]);
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const addDays = (iso: string, days: number): string => new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export const ATTENDANCE_CODES: readonly PsAttendanceCode[] = [
  { att_code: 'A', description: 'Absent', presence_status_cd: 'Absent' },
  { att_code: 'AE', description: 'Excused Absence', presence_status_cd: 'Absent' },
  { att_code: 'T', description: 'Tardy', presence_status_cd: 'Present' },
  { att_code: 'TE', description: 'Excused Tardy', presence_status_cd: 'Present' },
  { att_code: 'D', description: 'Early Dismissal', presence_status_cd: 'Present' },
];

let sisCache: Map<string, DemoRow[]> | undefined;
const dbCache = new Map<string, PsDemoDb>();

export function psDemoDb(districtId: string): PsDemoDb {
  const cached = dbCache.get(districtId);
  if (cached) return cached;
  const db = buildDb(districtId);
  dbCache.set(districtId, db);
  return db;
}

function buildDb(districtId: string): PsDemoDb {
  const sis = (sisCache ??= generateDemoSis());
  const spec = DEMO_DISTRICTS.find((d) => d.id === districtId);
  if (!spec) throw new Error(`no demo district ${districtId}`);
  const rows = (table: string) => (sis.get(table) ?? []).filter((r) => r['district_id'] === districtId);
  const schoolNumber = (code: unknown) => psSchoolNumberOf(districtId, str(code));

  const schools = rows('schools').map((s, i): PsSchoolRow => ({
    id: i + 1, school_number: schoolNumber(s['school_code']), name: str(s['name']), abbreviation: str(s['school_code']),
    low_grade: Number(s['low_grade']), high_grade: Number(s['high_grade']),
  }));

  const enrolment = new Map<string, DemoRow>();
  for (const e of rows('student_enrollments')) if (e['school_year'] === CURRENT_SCHOOL_YEAR) enrolment.set(str(e['student_id']), e);
  const studentIdOf = new Map<string, number>();
  const students = rows('students').map((s): PsStudentRow => {
    const seq = seqOf(s['student_id']);
    const e = enrolment.get(str(s['student_id']));
    if (!e) throw new Error(`demo student ${str(s['student_id'])} has no current enrolment`);
    studentIdOf.set(str(s['student_id']), seq);
    return {
      id: seq, dcid: 1000 + seq, student_number: str(s['student_number']).replace(/\D/g, '').replace(/^0+/, ''),
      state_studentnumber: str(s['state_id']), first_name: str(s['first_name']), middle_name: strOrNull(s['middle_name']),
      last_name: str(s['last_name']), gender: str(s['gender']), dob: str(s['birth_date']), grade_level: Number(e['grade_level']),
      schoolid: schoolNumber(e['school_code']), enroll_status: s['active'] === true ? 0 : 2, entrydate: str(e['entry_date']),
      exitdate: strOrNull(e['exit_date']) ?? yearEndExit(CURRENT_SCHOOL_YEAR),
      student_web_id: `${str(s['first_name'])}${str(s['last_name'])}${seq}`.toLowerCase().replace(/[^a-z0-9]/g, ''),
      email: strOrNull(s['email']),
    };
  });
  const studentDcid = new Map(students.map((s) => [s.id, s.dcid]));

  const staffIds = new Map<string, PsUserRow>();
  const users = rows('staff').map((s, i): PsUserRow => {
    const u: PsUserRow = {
      dcid: 500 + i + 1, schoolstaff_id: 700 + i + 1, teachernumber: str(s['staff_id']), first_name: str(s['first_name']),
      last_name: str(s['last_name']), email_addr: str(s['email']), title: str(s['title']),
      homeschoolid: s['school_code'] === null ? 0 : schoolNumber(s['school_code']), school_phone: str(s['phone']),
      status: s['active'] === true ? 1 : 2, teacherloginid: str(s['email']).split('@')[0]!,
    };
    staffIds.set(str(s['staff_id']), u);
    return u;
  });

  const terms: PsTermRow[] = [];
  for (const year of [PRIOR_SCHOOL_YEAR, CURRENT_SCHOOL_YEAR]) {
    const yearid = yearIdOf(year);
    const firstday = year === CURRENT_SCHOOL_YEAR ? spec.firstDay : addDays(spec.firstDay, -364);
    for (const schoolid of [0, ...schools.map((s) => s.school_number)]) {
      terms.push({
        id: yearid * 100, yearid, schoolid, portion: 1, name: `${year - 1}-${year}`, abbreviation: `${(year - 1) % 100}-${year % 100}`,
        firstday, lastday: addDays(yearEndExit(year), -1),
      });
    }
  }
  const termid = yearIdOf(CURRENT_SCHOOL_YEAR) * 100;

  const courseRows = rows('courses');
  const gradeOfCourse = new Map(courseRows.map((c) => [str(c['course_code']), Number(c['grade_level'])]));
  const courses = courseRows.map((c, i): PsCourseRow => ({
    dcid: 300 + i + 1, course_number: str(c['course_code']), course_name: str(c['name']),
    credittype: c['subject'] === 'homeroom' ? null : str(c['subject']),
  }));

  const sectionIdOf = new Map<string, PsSectionRow>();
  const sections = rows('sections')
    .filter((s) => s['school_year'] === CURRENT_SCHOOL_YEAR)
    .map((s, i): PsSectionRow => {
      const teacher = staffIds.get(str(s['teacher_staff_id']));
      if (!teacher) throw new Error(`demo section ${str(s['section_id'])} has no teacher`);
      const period = str(s['period']);
      const row: PsSectionRow = {
        id: 10000 + i + 1, dcid: 20000 + i + 1, course_number: str(s['course_code']), section_number: str(s['section_id']).slice(-2),
        schoolid: schoolNumber(s['school_code']), termid, teacher: teacher.schoolstaff_id, room: str(s['room']),
        expression: `${period}(A)`, grade_level: gradeOfCourse.get(str(s['course_code'])) ?? 0,
      };
      sectionIdOf.set(str(s['section_id']), row);
      return row;
    });

  const cc = rows('section_enrollments').flatMap((e, i): PsCcRow[] => {
    const section = sectionIdOf.get(str(e['section_id']));
    const studentid = studentIdOf.get(str(e['student_id']));
    if (!section || studentid === undefined) return [];
    return [{
      dcid: 50000 + i + 1, studentid, sectionid: section.id, schoolid: section.schoolid, termid: section.termid,
      dateenrolled: str(e['entry_date']), dateleft: strOrNull(e['exit_date']) ?? yearEndExit(CURRENT_SCHOOL_YEAR),
    }];
  });

  const guardians = new Map(rows('guardians').map((g) => [str(g['guardian_id']), g]));
  const contacts = rows('student_guardians').map((sg): PsContactRow => {
    const g = guardians.get(str(sg['guardian_id']));
    if (!g) throw new Error(`demo guardian ${str(sg['guardian_id'])} missing`);
    return {
      personid: 2000 + seqOf(g['guardian_id']), firstname: str(g['first_name']), lastname: str(g['last_name']), email: strOrNull(g['email']),
      phone: str(g['phone']), studentdcid: studentDcid.get(studentIdOf.get(str(sg['student_id'])) ?? -1) ?? -1,
      contactpriorityorder: Number(sg['contact_priority']), relationship: str(sg['relationship']),
      receivesmailflg: sg['receives_correspondence'] === true ? 1 : 0, isactive: 1,
    };
  });

  const attendance = rows('daily_attendance').map((a, i): PsAttendanceRow => ({
    id: 900000 + i + 1, studentid: studentIdOf.get(str(a['student_id'])) ?? -1, schoolid: schoolNumber(a['school_code']),
    att_date: str(a['attendance_date']), att_code: str(a['code']),
  }));

  const lunchByStudentId = new Map<string, PsLunch>(
    rows('lunch_accounts').map((l) => [str(l['student_id']), { id: Number(str(l['account_number']).replace(/\D/g, '')), balance1: Number(l['balance_cents']) / 100 }]),
  );

  return {
    districtNumber: String(9900 + DEMO_DISTRICTS.indexOf(spec) + 1),
    districtName: spec.name,
    schools, students, users, terms, courses, sections, cc, contacts, attendance, attendanceCodes: [...ATTENDANCE_CODES], lunchByStudentId,
    studentById: new Map(students.map((x) => [x.id, x])),
    userByStaffId: new Map(users.map((x) => [x.schoolstaff_id, x])),
    sectionById: new Map(sections.map((x) => [x.id, x])),
    courseByNumber: new Map(courses.map((x) => [x.course_number, x])),
  };
}
