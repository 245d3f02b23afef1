import { addDays, byKeys, defineQuery, enrolledIn, inTermsOf, oneRosterGrade, TERM_FIELDS, YEAR_TERM_FIELDS, yearTerm, type Cell, type FerryQuery } from './ps-ferry-query.js';

/** The fake's answers to org.ferry.oneroster.* (queries_root/org.ferry.oneroster.named_queries.xml). */

const YEAR = ['school_year'] as const;
const PREFS = ['prefs.name', 'prefs.value'] as const;
const STUDENT_YEAR = ['students.entrydate', 'students.exitdate'] as const;
const SELF_EMAIL = [
  'sync_studentmap.studentsdcid', 'sync_studentmap.studentid', 'psm_studentcontact.studentid', 'psm_studentcontact.email',
  'psm_studentcontact.studentcontacttypeid', 'psm_studentcontacttype.id', 'psm_studentcontacttype.name',
] as const;

export const ONEROSTER_QUERIES: readonly FerryQuery[] = [
  defineQuery({
    name: 'org.ferry.oneroster.orgs',
    args: YEAR,
    columns: ['sourced_id', 'org_name', 'org_type', 'identifier', 'parent_sourced_id'],
    fields: [...PREFS, 'schools.school_number', 'schools.name', 'schools.abbreviation', 'students.schoolid', ...STUDENT_YEAR, ...TERM_FIELDS],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const enrolled = db.students.filter(enrolledIn(yt));
      const schools = db.schools
        .filter((s) => enrolled.some((st) => st.schoolid === s.school_number))
        .sort(byKeys((s) => String(s.school_number)))
        .map((s): Cell[] => [String(s.school_number), s.name, 'school', s.abbreviation, db.districtNumber]);
      return [[db.districtNumber, db.districtName, 'district', null, null], ...schools];
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.academic_sessions',
    args: YEAR,
    columns: ['sourced_id', 'title', 'session_type', 'start_date', 'end_date', 'parent_sourced_id', 'school_year'],
    fields: [...TERM_FIELDS, 'terms.name'],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      return db.terms
        .filter((t) => t.schoolid === 0 && t.yearid === yt.yearid)
        .sort(byKeys((t) => t.portion, (t) => t.firstday, (t) => t.id))
        .map((t) => [
          String(t.id), t.name, t.portion === 1 ? 'schoolYear' : t.portion === 2 ? 'semester' : 'term', t.firstday, t.lastday,
          t.portion === 1 ? null : String(yt.id), args['school_year']!,
        ]);
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.courses',
    args: YEAR,
    columns: ['sourced_id', 'school_year_sourced_id', 'title', 'course_code', 'grades', 'org_sourced_id', 'subjects'],
    fields: [...YEAR_TERM_FIELDS, ...PREFS, 'courses.dcid', 'courses.course_name', 'courses.course_number', 'courses.credittype', 'sections.course_number', 'sections.grade_level', 'sections.termid'],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const sections = db.sections.filter((s) => inTermsOf(yt)(s.termid));
      return db.courses
        .filter((c) => sections.some((s) => s.course_number === c.course_number))
        .sort(byKeys((c) => c.course_number))
        .map((c) => {
          const grades = [...new Set(sections.filter((s) => s.course_number === c.course_number).map((s) => s.grade_level))].sort((a, b) => a - b);
          return [String(c.dcid), String(yt.id), c.course_name, c.course_number, grades.map(oneRosterGrade).join(','), db.districtNumber, c.credittype];
        });
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.classes',
    args: YEAR,
    columns: ['sourced_id', 'title', 'grades', 'course_sourced_id', 'class_code', 'class_type', 'location', 'school_sourced_id', 'term_sourced_ids', 'subjects', 'periods'],
    fields: [
      ...YEAR_TERM_FIELDS, 'sections.id', 'sections.section_number', 'sections.grade_level', 'sections.course_number', 'sections.room',
      'sections.schoolid', 'sections.termid', 'sections.expression', 'courses.dcid', 'courses.course_name', 'courses.course_number', 'courses.credittype',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      return db.sections
        .filter((s) => inTermsOf(yt)(s.termid))
        .sort(byKeys((s) => s.schoolid, (s) => s.id))
        .flatMap((s) => {
          const c = db.courseByNumber.get(s.course_number);
          if (!c) return [];
          return [[
            String(s.id), `${c.course_name} - Section ${s.section_number}`, oneRosterGrade(s.grade_level), String(c.dcid), `${s.course_number}.${s.section_number}`,
            s.course_number.startsWith('HR') ? 'homeroom' : 'scheduled', s.room, String(s.schoolid), String(s.termid), c.credittype, s.expression,
          ]];
        });
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.users',
    args: YEAR,
    columns: ['sourced_id', 'enabled_user', 'org_sourced_ids', 'user_role', 'username', 'given_name', 'family_name', 'middle_name', 'identifier', 'email', 'phone', 'grades'],
    fields: [
      ...TERM_FIELDS, ...STUDENT_YEAR, ...SELF_EMAIL,
      'students.dcid', 'students.enroll_status', 'students.schoolid', 'students.student_web_id', 'students.student_number', 'students.first_name',
      'students.last_name', 'students.middle_name', 'students.grade_level',
      'users.dcid', 'users.teacherloginid', 'users.loginid', 'users.first_name', 'users.last_name', 'users.middle_name', 'users.teachernumber',
      'users.email_addr', 'users.school_phone', 'users.homeschoolid',
      'schoolstaff.id', 'schoolstaff.users_dcid', 'schoolstaff.schoolid', 'schoolstaff.status', 'sections.teacher', 'sections.schoolid', 'sections.termid',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const students = db.students
        .filter(enrolledIn(yt))
        .sort(byKeys((s) => String(s.schoolid), (s) => `S${s.dcid}`))
        .map((s): Cell[] => [
          `S${s.dcid}`, s.enroll_status === 0 ? 'true' : 'false', String(s.schoolid), 'student', s.student_web_id, s.first_name, s.last_name,
          s.middle_name, s.student_number, s.email, null, oneRosterGrade(s.grade_level),
        ]);
      const sections = db.sections.filter((s) => inTermsOf(yt)(s.termid));
      const teachers = db.users
        .flatMap((u): Cell[][] => {
          const schools = [...new Set(sections.filter((s) => s.teacher === u.schoolstaff_id).map((s) => s.schoolid))].sort((a, b) => a - b);
          if (schools.length === 0) return [];
          return [[
            `T${u.dcid}`, u.status === 1 ? 'true' : 'false', schools.join(','), 'teacher', u.teacherloginid, u.first_name, u.last_name, null,
            u.teachernumber, u.email_addr, u.school_phone, null,
          ]];
        })
        .sort(byKeys((r) => String(r[0])));
      return [...students, ...teachers];
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.enrollments',
    args: YEAR,
    columns: ['sourced_id', 'class_sourced_id', 'school_sourced_id', 'user_sourced_id', 'user_role', 'is_primary', 'begin_date', 'end_date'],
    fields: [
      ...YEAR_TERM_FIELDS, 'sections.dcid', 'sections.id', 'sections.schoolid', 'sections.teacher', 'sections.termid', 'schoolstaff.id', 'schoolstaff.users_dcid',
      'cc.dcid', 'cc.sectionid', 'cc.schoolid', 'cc.studentid', 'cc.termid', 'cc.dateenrolled', 'cc.dateleft', 'students.id', 'students.dcid',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const inYear = inTermsOf(yt);
      const teachers = db.sections.filter((s) => inYear(s.termid)).flatMap((s) => {
        const u = db.userByStaffId.get(s.teacher);
        return u ? [{ r: [`T${s.dcid}`, String(s.id), String(s.schoolid), `T${u.dcid}`, 'teacher', 'true', null, null] as Cell[], role: 0 }] : [];
      });
      const students = db.cc.filter((c) => inYear(c.termid)).flatMap((c) => {
        const s = db.studentById.get(c.studentid);
        return s ? [{ r: [`S${c.dcid}`, String(Math.abs(c.sectionid)), String(c.schoolid), `S${s.dcid}`, 'student', 'false', c.dateenrolled, addDays(c.dateleft, -1)] as Cell[], role: 1 }] : [];
      });
      return [...teachers, ...students].sort(byKeys((x) => String(x.r[2]), (x) => String(x.r[1]), (x) => x.role, (x) => String(x.r[3]))).map((x) => x.r);
    },
  }),
  defineQuery({
    name: 'org.ferry.oneroster.demographics',
    args: YEAR,
    columns: ['sourced_id', 'birth_date', 'sex'],
    fields: [...TERM_FIELDS, ...STUDENT_YEAR, 'students.dcid', 'students.dob', 'students.gender'],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      return db.students
        .filter(enrolledIn(yt))
        .sort(byKeys((s) => `S${s.dcid}`))
        .map((s) => [`S${s.dcid}`, s.dob, s.gender === 'M' ? 'male' : s.gender === 'F' ? 'female' : null]);
    },
  }),
];
