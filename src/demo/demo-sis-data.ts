/**
 * Deterministic generator for the demo SIS rows. Both the SQLite file and the PostgreSQL copy are
 * filled from this one function, so they hold identical data. Every value is synthetic.
 */
import {
  BUILDING_POSITIONS,
  CURRENT_SCHOOL_YEAR,
  DEMO_DISTRICTS,
  DISTRICT_OFFICE_POSITIONS,
  ELEMENTARY_SPECIALS,
  FAMILY_SHAPES,
  FEMALE_NAMES,
  HIGH_SCHOOL_POSITIONS,
  HOMEROOM,
  MALE_NAMES,
  NEUTRAL_NAMES,
  PRIOR_SCHOOL_YEAR,
  SECONDARY_COURSES,
  SURNAMES,
  homeroomDepartment,
} from './demo-sis-fixtures.js';
import type { CourseTemplate, DemoDistrictSpec, DemoSchoolSpec, Sex } from './demo-sis-fixtures.js';
import { DEMO_SIS_TABLES } from './demo-sis-schema.js';
import type { DemoTable } from './demo-sis-schema.js';

/** Dates are `YYYY-MM-DD` text, timestamps `YYYY-MM-DDTHH:MM:SSZ` text, booleans JS booleans. */
export type DemoValue = string | number | boolean | null;
export type DemoRow = Readonly<Record<string, DemoValue>>;

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

const DAY_MS = 86_400_000;
const LAST_SCHOOL_DAY = '2027-06-24';
const LUNCH_BALANCE_DATE = '2026-11-20';
/** Weighted: plain absences are the most common mark. */
const ATTENDANCE_CODES = ['A', 'A', 'A', 'A', 'AE', 'AE', 'AE', 'T', 'T', 'TE', 'D'] as const;
/** The demo calendar's days off besides weekends (Thanksgiving, winter, mid-winter and spring breaks). */
const BREAKS: readonly (readonly [string, string])[] = [
  ['2026-11-25', '2026-11-27'],
  ['2026-12-24', '2027-01-01'],
  ['2027-01-18', '2027-01-18'],
  ['2027-02-15', '2027-02-19'],
  ['2027-04-19', '2027-04-23'],
  ['2027-05-31', '2027-05-31'],
];

/** Weekdays from first to last (inclusive) that are not in a break. */
function schoolDays(first: string, last: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    const weekday = new Date(t).getUTCDay();
    if (weekday === 0 || weekday === 6 || BREAKS.some(([a, b]) => day >= a && day <= b)) continue;
    out.push(day);
  }
  return out;
}
const addDays = (isoDate: string, days: number): string =>
  new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const gradeCode = (g: number): string => (g === -1 ? 'PK' : g === 0 ? 'K' : pad(g, 2));
const slug = (s: string): string =>
  s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]/g, '');

interface Guardian {
  readonly id: string;
  readonly relationship: string;
  readonly correspondence: boolean;
}
interface Family {
  readonly lastName: string;
  readonly guardians: readonly Guardian[];
}
interface CurrentEnrollment {
  readonly studentId: string;
  readonly studentNumber: string;
  readonly schoolCode: string;
  readonly entry: string;
  readonly exit: string | null;
}

class DistrictGenerator {
  private readonly rng: Rng;
  private readonly families: Family[] = [];
  private readonly emails = new Set<string>();
  private readonly byGrade = new Map<number, CurrentEnrollment[]>();
  private studentSeq = 0;
  private guardianSeq = 0;
  private staffSeq = 0;

  constructor(
    private readonly d: DemoDistrictSpec,
    private readonly add: (table: string, row: DemoRow) => void,
  ) {
    this.rng = new Rng(d.seed);
  }

  run(): void {
    const { d } = this;
    this.add('districts', { district_id: d.id, name: d.name, state_code: 'NY', time_zone: 'America/New_York', updated_at: this.stamp() });
    for (const s of d.schools) {
      this.add('schools', {
        district_id: d.id, school_code: s.code, name: s.name, low_grade: s.low, high_grade: s.high, phone: this.phone(), updated_at: this.stamp(),
      });
    }
    for (const s of d.schools) {
      for (let g = s.low; g <= s.high; g++) {
        const count = g === -1 ? this.rng.int(16, 22) : this.rng.int(40, 50);
        for (let i = 0; i < count; i++) this.student(s, g);
      }
    }
    for (const [title, department] of DISTRICT_OFFICE_POSITIONS) this.staff(null, title, department, true);
    for (const s of this.d.schools) this.school(s);
    // Two former teachers, kept as inactive staff rows the way an SIS keeps them.
    const secondary = d.schools.filter((s) => !s.elementary);
    for (let i = 0; i < 2; i++) this.staff(this.rng.pick(secondary).code, 'Teacher', this.rng.pick(SECONDARY_COURSES).subject, false);
    this.lunchAndAttendance();
  }

  /**
   * Lunch accounts and daily attendance exceptions for every current enrolment. They draw from their own generator,
   * so adding them left every other demo row as it was.
   */
  private lunchAndAttendance(): void {
    const { d } = this;
    const rng = new Rng(d.seed ^ 0x5eed1a7e);
    const days = schoolDays(d.firstDay, LAST_SCHOOL_DAY);
    for (const grade of [...this.byGrade.keys()].sort((a, b) => a - b)) {
      for (const e of this.byGrade.get(grade) ?? []) {
        const owes = rng.chance(0.15);
        this.add('lunch_accounts', {
          district_id: d.id, student_id: e.studentId, account_number: `L${e.studentNumber.slice(1)}`,
          balance_cents: owes ? -rng.int(50, 2500) : rng.int(0, 8000), balance_date: LUNCH_BALANCE_DATE, updated_at: LUNCH_BALANCE_DATE + 'T05:00:00Z',
        });
        const rate = rng.chance(0.1) ? 0.12 : 0.03; // about one student in ten is chronically absent
        for (const day of days) {
          if (day < e.entry || (e.exit !== null && day >= e.exit) || !rng.chance(rate)) continue;
          const code = rng.pick(ATTENDANCE_CODES);
          this.add('daily_attendance', {
            district_id: d.id, student_id: e.studentId, attendance_date: day, school_code: e.schoolCode, code,
            excused: code === 'AE' || code === 'TE' || code === 'D', updated_at: `${day}T15:00:00Z`,
          });
        }
      }
    }
  }

  private stamp(): string {
    const ms = Date.UTC(2026, 7, 15) + this.rng.int(0, 97 * 86_400) * 1000;
    return new Date(ms).toISOString().slice(0, 19) + 'Z';
  }

  /** 555-0100..0199 is the range reserved for fictional use. */
  private phone(): string {
    return `${this.d.areaCode}-555-01${pad(this.rng.int(0, 99), 2)}`;
  }

  private email(local: string, domain: string, seq: number): string {
    let address = `${local}@${domain}`;
    if (this.emails.has(address)) address = `${local}${seq}@${domain}`;
    this.emails.add(address);
    return address;
  }

  private firstName(sex: Sex | 'X'): string {
    return this.rng.pick(sex === 'F' ? FEMALE_NAMES : sex === 'M' ? MALE_NAMES : NEUTRAL_NAMES);
  }

  private schoolFor(grade: number): DemoSchoolSpec | undefined {
    return this.d.schools.find((s) => grade >= s.low && grade <= s.high);
  }

  private newFamily(): Family {
    const lastName = this.rng.pick(SURNAMES);
    const guardians = this.rng.pick(FAMILY_SHAPES).map(([relationship, sex], i): Guardian => {
      const seq = ++this.guardianSeq;
      const id = `DEMO-${this.d.letter}-G${pad(seq, 6)}`;
      const first = this.firstName(sex);
      const last = this.rng.chance(0.8) ? lastName : this.rng.pick(SURNAMES);
      const email = this.rng.chance(0.12) ? null : this.email(`${slug(first)}.${slug(last)}`, 'example.org', seq);
      this.add('guardians', {
        district_id: this.d.id, guardian_id: id, first_name: first, last_name: last, phone: this.phone(), email, updated_at: this.stamp(),
      });
      return { id, relationship, correspondence: this.rng.chance(i === 0 ? 0.95 : 0.7) };
    });
    const family = { lastName, guardians };
    this.families.push(family);
    return family;
  }

  private student(school: DemoSchoolSpec, grade: number): void {
    const { d, rng } = this;
    const seq = ++this.studentSeq;
    const id = `DEMO-${d.letter}-${pad(seq, 6)}`;
    const gender = rng.chance(0.04) ? 'X' : rng.chance(0.5) ? 'F' : 'M';
    const first = this.firstName(gender);
    const family = this.families.length > 0 && rng.chance(0.18) ? rng.pick(this.families) : this.newFamily();
    const last = family.lastName;
    const middle = rng.chance(0.35) ? null : rng.pick([...FEMALE_NAMES, ...MALE_NAMES, ...NEUTRAL_NAMES]);
    const suffix = gender === 'M' && rng.chance(0.05) ? rng.pick(['Jr.', 'III']) : null;
    // Kindergarten in 2026-27 means born 2020-12-02..2021-12-01 (age 5 by December 1); a few were held back a year.
    const cohortStart = `${CURRENT_SCHOOL_YEAR - 7 - grade - (rng.chance(0.03) ? 1 : 0)}-12-02`;
    const gradYear = CURRENT_SCHOOL_YEAR + 12 - grade;
    const hasEmail = grade >= 1 && !rng.chance(0.1);
    const late = rng.chance(0.06);
    const entry = late ? addDays(d.firstDay, rng.int(7, 100)) : d.firstDay;
    const exit = !late && rng.chance(0.025) ? addDays(d.firstDay, rng.int(18, 70)) : null;
    this.add('students', {
      district_id: d.id,
      student_id: id,
      student_number: `${d.letter}${pad(seq, 6)}`,
      state_id: `99${d.stateDigit}${pad(seq, 7)}`,
      first_name: first,
      middle_name: middle,
      last_name: last,
      name_suffix: suffix,
      display_name: `${first} ${last}${suffix === null ? '' : `, ${suffix}`}`,
      gender,
      birth_date: addDays(cohortStart, rng.int(0, 364)),
      email: hasEmail ? this.email(`${slug(first)}.${slug(last)}${gradYear % 100}`, `students.${d.domain}`, seq) : null,
      active: exit === null,
      updated_at: this.stamp(),
    });
    // New arrivals have no prior-year record, and pre-K is optional, so only some kindergartners had one.
    const prior = late || (grade === 0 && rng.chance(0.6)) ? undefined : this.schoolFor(grade - 1);
    if (prior !== undefined) {
      this.add('student_enrollments', {
        district_id: d.id, student_id: id, school_year: PRIOR_SCHOOL_YEAR, school_code: prior.code, grade_level: grade - 1,
        entry_date: addDays(d.firstDay, -364), exit_date: '2026-06-25', updated_at: this.stamp(),
      });
    }
    this.add('student_enrollments', {
      district_id: d.id, student_id: id, school_year: CURRENT_SCHOOL_YEAR, school_code: school.code, grade_level: grade,
      entry_date: entry, exit_date: exit, updated_at: this.stamp(),
    });
    const cohort = this.byGrade.get(grade) ?? [];
    cohort.push({ studentId: id, studentNumber: `${d.letter}${pad(seq, 6)}`, schoolCode: school.code, entry, exit });
    this.byGrade.set(grade, cohort);
    family.guardians.forEach((g, i) => {
      this.add('student_guardians', {
        district_id: d.id, student_id: id, guardian_id: g.id, relationship: g.relationship, contact_priority: i + 1,
        receives_correspondence: g.correspondence, updated_at: this.stamp(),
      });
    });
  }

  private staff(schoolCode: string | null, title: string, department: string, active: boolean): string {
    const seq = ++this.staffSeq;
    const id = `DEMO-${this.d.letter}-E${pad(seq, 4)}`;
    const sex: Sex = this.rng.chance(0.5) ? 'F' : 'M';
    const first = this.firstName(sex);
    const last = this.rng.pick(SURNAMES);
    this.add('staff', {
      district_id: this.d.id, staff_id: id, first_name: first, last_name: last,
      email: this.email(`${slug(first)}.${slug(last)}`, this.d.domain, seq),
      title, department, school_code: schoolCode, phone: this.phone(), active, updated_at: this.stamp(),
    });
    return id;
  }

  /** Staff, courses and sections of one building, then every current student's section enrolments. */
  private school(s: DemoSchoolSpec): void {
    const { d, rng } = this;
    for (const [title, department] of BUILDING_POSITIONS) this.staff(s.code, title, department, true);
    if (s.high === 12) for (const [title, department] of HIGH_SCHOOL_POSITIONS) this.staff(s.code, title, department, true);

    const sectionsByDepartment = new Map<string, { id: string; course: string }[]>();
    const sectionsByCourse = new Map<string, string[]>();
    const coursesByGrade = new Map<number, string[]>();
    for (let g = s.low; g <= s.high; g++) {
      const templates: readonly CourseTemplate[] = s.elementary
        ? [HOMEROOM, ...(g >= 0 ? ELEMENTARY_SPECIALS : [])]
        : SECONDARY_COURSES;
      const students = this.byGrade.get(g)?.length ?? 0;
      for (const t of templates) {
        const code = `${t.prefix}-${gradeCode(g)}`;
        this.add('courses', { district_id: d.id, course_code: code, name: t.name(g), subject: t.subject, grade_level: g, updated_at: this.stamp() });
        const department = t === HOMEROOM ? homeroomDepartment(g) : t.subject;
        const ids: string[] = [];
        for (let k = 1; k <= Math.ceil(students / 25); k++) {
          const id = `${s.code}-${code}-${pad(k, 2)}`;
          ids.push(id);
          const list = sectionsByDepartment.get(department) ?? [];
          list.push({ id, course: code });
          sectionsByDepartment.set(department, list);
        }
        sectionsByCourse.set(code, ids);
        coursesByGrade.set(g, [...(coursesByGrade.get(g) ?? []), code]);
      }
    }

    let room = 100;
    for (const [department, sections] of sectionsByDepartment) {
      // Homeroom teachers keep one class all day; elementary specials teachers see every class; secondary teachers teach up to eight
      // (a small district's full load), which keeps each district near forty staff.
      const load = /^(Grade|Kindergarten|Pre-)/.test(department) ? 1 : s.elementary ? sections.length : 8;
      const teachers = Array.from({ length: Math.ceil(sections.length / load) }, () => ({
        id: this.staff(s.code, 'Teacher', department, true),
        room: `${++room}`,
        taught: 0,
      }));
      sections.forEach((section, i) => {
        const teacher = teachers[i % teachers.length];
        if (teacher === undefined) throw new Error('no teacher');
        teacher.taught++;
        this.add('sections', {
          district_id: d.id, section_id: section.id, school_year: CURRENT_SCHOOL_YEAR, school_code: s.code, course_code: section.course,
          teacher_staff_id: teacher.id, period: load === 1 ? 'HR' : String(teacher.taught), room: teacher.room, updated_at: this.stamp(),
        });
      });
    }

    for (let g = s.low; g <= s.high; g++) {
      for (const e of this.byGrade.get(g) ?? []) {
        for (const course of coursesByGrade.get(g) ?? []) {
          this.add('section_enrollments', {
            district_id: d.id, section_id: rng.pick(sectionsByCourse.get(course) ?? []), student_id: e.studentId,
            entry_date: e.entry, exit_date: e.exit, updated_at: this.stamp(),
          });
        }
      }
    }
  }
}

/** All demo rows, keyed by table name, in the same order on every call. */
export function generateDemoSis(): Map<string, DemoRow[]> {
  const out = new Map<string, DemoRow[]>(DEMO_SIS_TABLES.map((t) => [t.name, []]));
  const add = (table: string, row: DemoRow): void => {
    const rows = out.get(table);
    if (rows === undefined) throw new Error(`demo generator: unknown table ${table}`);
    rows.push(row);
  };
  for (const d of DEMO_DISTRICTS) new DistrictGenerator(d, add).run();
  return out;
}

/** A row as values in the table's column order; fails loudly if the generator and the schema drift apart. */
export function rowValues(table: DemoTable, row: DemoRow): DemoValue[] {
  const keys = Object.keys(row);
  if (keys.length !== table.columns.length) throw new Error(`demo generator: ${table.name} row has columns ${keys.join(', ')}`);
  return table.columns.map((c) => {
    const v = row[c.name];
    if (v === undefined) throw new Error(`demo generator: ${table.name}.${c.name} missing`);
    return v;
  });
}
