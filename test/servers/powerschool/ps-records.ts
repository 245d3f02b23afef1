import { DEMO_DISTRICTS } from '../../../src/demo/demo-sis-fixtures.js';
import type { DemoSchool, DemoStudent } from '../demo-students.js';

/**
 * Demo students and schools in PowerSchool's `/ws/v1` shapes (reference §1.2), and the `q` search subset.
 * id = DCID (a number), local_id = Student_Number, state_province_id = State_StudentNumber; dates YYYY-MM-DD;
 * school_number is numeric as in PowerSchool (Hilltop's schools are 101, 102, 103; Riverbend's 201, 202).
 */

/** Every expansion a real server lists in `@expansions`; the fake fills the ones in SUPPORTED_EXPANSIONS. */
export const ALL_EXPANSIONS = 'demographics, addresses, alerts, phones, school_enrollment, ethnicity_race, contact, contact_info, initial_enrollment, schedule_setup, fees, lunch';
export const SUPPORTED_EXPANSIONS = ['school_enrollment', 'demographics', 'contact_info', 'lunch'] as const;
export const ALL_EXTENSIONS = 'u_studentsuserfields,studentcorefields';

export function psSchoolNumber(districtId: string, schoolSeq: number): number {
  const d = DEMO_DISTRICTS.findIndex((x) => x.id === districtId);
  return (d + 1) * 100 + schoolSeq;
}

/** The school number a demo school code has in the fake (for tests that filter by building). */
export function psSchoolNumberOf(districtId: string, code: string): number {
  const d = DEMO_DISTRICTS.find((x) => x.id === districtId);
  const i = d?.schools.findIndex((s) => s.code === code) ?? -1;
  if (i < 0) throw new Error(`no school ${code} in ${districtId}`);
  return psSchoolNumber(districtId, i + 1);
}

export function psSchool(districtId: string, s: DemoSchool): Record<string, unknown> {
  return { id: s.seq, name: s.name, school_number: psSchoolNumber(districtId, s.seq), low_grade: s.low, high_grade: s.high, state_province_id: s.code };
}

/**
 * A student with every supported expansion filled in; `project` trims it to what was asked for. `lunch` is the food
 * service account ({id, balance1 …} in dollars, as the v1 swagger transcription in reference §1.2's sources lists it).
 */
export function psStudent(districtId: string, schools: readonly DemoSchool[], s: DemoStudent, lunch?: { id: number; balance1: number }): Record<string, unknown> {
  const school = schools.find((x) => x.code === s.schoolCode);
  const name: Record<string, unknown> = { first_name: s.firstName, last_name: s.lastName };
  if (s.middleName) name['middle_name'] = s.middleName;
  return {
    id: 1000 + s.seq,
    local_id: Number(s.studentNumber.replace(/\D/g, '')),
    student_username: `${s.firstName}${s.lastName}${s.seq}`.toLowerCase().replace(/[^a-z0-9]/g, ''),
    state_province_id: s.stateId,
    name,
    school_enrollment: {
      enroll_status: s.active ? 'A' : 'T',
      enroll_status_code: s.active ? 0 : 2,
      enroll_status_description: s.active ? 'Active' : 'Transferred out',
      entry_date: s.entryDate,
      // exit_date is the day after the last day attended; for active students, the day after the school year ends.
      exit_date: s.exitDate ?? `${s.schoolYear}-06-26`,
      grade_level: s.gradeLevel,
      school_id: school?.seq ?? 0,
      school_number: school ? psSchoolNumber(districtId, school.seq) : 0,
    },
    demographics: { gender: s.gender, birth_date: s.birthDate, projected_graduation_year: s.schoolYear + 12 - s.gradeLevel },
    contact_info: s.email ? { email: s.email } : {},
    ...(lunch ? { lunch: { id: lunch.id, balance1: lunch.balance1 } } : {}),
  };
}

export function project(record: Record<string, unknown>, expansions: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    if ((SUPPORTED_EXPANSIONS as readonly string[]).includes(k) && !expansions.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

function valueAt(record: unknown, path: string): unknown {
  let v: unknown = record;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

const CLAUSE = /^([A-Za-z0-9_.]+)(==|=gt=|=ge=|=lt=|=le=)(.+)$/;

/** `q` → predicate over full records, or an error text for a clause the search syntax does not allow. */
export function compileQ(q: string | null): ((r: Record<string, unknown>) => boolean) | { error: string } {
  if (!q) return () => true;
  const checks: ((r: Record<string, unknown>) => boolean)[] = [];
  for (const clause of q.split(';')) {
    const m = CLAUSE.exec(clause.trim());
    if (!m) return { error: `Invalid search expression: ${clause}` };
    const [, field, op, want] = m as unknown as [string, string, string, string];
    checks.push((r) => {
      const v = valueAt(r, field);
      if (v === undefined || v === null || typeof v === 'object') return false;
      const numeric = typeof v === 'number' && /^-?\d+(\.\d+)?$/.test(want);
      if (op === '==') {
        if (want.includes('*')) {
          const re = new RegExp(`^${want.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
          return re.test(String(v));
        }
        return numeric ? v === Number(want) : String(v).toLowerCase() === want.toLowerCase();
      }
      const text = String(v);
      const cmp = numeric ? (v as number) - Number(want) : text < want ? -1 : text > want ? 1 : 0;
      return op === '=gt=' ? cmp > 0 : op === '=ge=' ? cmp >= 0 : op === '=lt=' ? cmp < 0 : cmp <= 0;
    });
  }
  return (r) => checks.every((c) => c(r));
}
