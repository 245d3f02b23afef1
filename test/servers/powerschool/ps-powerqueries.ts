import type { DemoStudent } from '../demo-students.js';

/**
 * The named queries the fake PowerSchool knows. Each lists the schema fields it reads, so the server can answer
 * "Validation Failed / No access to the field" for fields the plugin's access_request does not grant. Records are
 * flat, keyed by column alias, with values as strings (as PowerQuery values often come back).
 */
export interface FakePowerQuery {
  fields: readonly string[];
  /** Argument names the query declares; others are a 400. */
  args: readonly string[];
  run(students: readonly DemoStudent[], args: Readonly<Record<string, unknown>>, schoolNumberOf: (code: string) => number): Record<string, string>[];
}

export const BASIC_INFO = 'com.pearson.core.student.search.get_student_basic_info';
export const STUDENT_PHONES = 'org.example.ferry.student_phones';

export const POWER_QUERIES: Readonly<Record<string, FakePowerQuery>> = {
  [BASIC_INFO]: {
    fields: ['students.dcid', 'students.student_number', 'students.first_name', 'students.last_name', 'students.grade_level', 'students.schoolid', 'students.enroll_status'],
    args: ['school_number'],
    run(students, args, schoolNumberOf) {
      const school = args['school_number'];
      return students
        .filter((s) => school === undefined || String(schoolNumberOf(s.schoolCode)) === String(school))
        .map((s) => ({
          dcid: String(1000 + s.seq),
          student_number: s.studentNumber.replace(/\D/g, '').replace(/^0+/, ''),
          state_studentnumber: s.stateId,
          first_name: s.firstName,
          last_name: s.lastName,
          grade_level: String(s.gradeLevel),
          school_number: String(schoolNumberOf(s.schoolCode)),
          enroll_status: s.active ? '0' : '2',
        }));
    },
  },
  [STUDENT_PHONES]: {
    fields: ['students.dcid', 'pssis_person_phone.phonetype', 'pssis_person_phone.phonenumber'],
    args: [],
    run(students) {
      return students.map((s) => ({ dcid: String(1000 + s.seq), phonetype: 'Mobile', phonenumber: `518-555-01${String(s.seq % 100).padStart(2, '0')}` }));
    },
  },
};
