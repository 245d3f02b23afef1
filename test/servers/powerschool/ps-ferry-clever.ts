import { byKeys, cleverGrade, defineQuery, enrolledIn, inTermsOf, TERM_FIELDS, YEAR_TERM_FIELDS, yearTerm, type Cell, type FerryQuery } from './ps-ferry-query.js';

/**
 * The fake's answers to org.ferry.clever.* (queries_root/org.ferry.clever.named_queries.xml). Dates are YYYY-MM-DD
 * text; the Clever writer renders them MM/DD/YYYY. Students and enrolments carry grade_level, enroll_status and the
 * entry/exit dates so that Ferry's grades, activeOnly and asOf filters can be applied to them.
 */

const YEAR = ['school_year'] as const;
const YEAR_TERM = YEAR_TERM_FIELDS;
const YEAR_SPAN = TERM_FIELDS;
/** Not a school: the district office (0) and PowerSchool's Graduated Students school (999999). */
const isSchool = (n: number) => n !== 0 && n !== 999999;

export const CLEVER_QUERIES: readonly FerryQuery[] = [
  defineQuery({
    name: 'org.ferry.clever.schools',
    args: [],
    columns: ['school_id', 'school_name', 'school_number', 'low_grade', 'high_grade'],
    fields: ['schools.school_number', 'schools.name', 'schools.low_grade', 'schools.high_grade'],
    run(db) {
      return db.schools
        .filter((s) => isSchool(s.school_number))
        .sort(byKeys((s) => s.school_number))
        .map((s) => [String(s.school_number), s.name, String(s.school_number), cleverGrade(s.low_grade), cleverGrade(s.high_grade)]);
    },
  }),
  defineQuery({
    name: 'org.ferry.clever.students',
    args: ['school_year', 'include_email'],
    columns: [
      'school_id', 'student_id', 'student_number', 'state_id', 'last_name', 'middle_name', 'first_name', 'gender', 'dob', 'grade', 'student_email',
      'grade_level', 'enroll_status', 'entry_date', 'exit_date',
    ],
    fields: [
      ...YEAR_SPAN, 'students.schoolid', 'students.dcid', 'students.student_number', 'students.state_studentnumber', 'students.last_name',
      'students.middle_name', 'students.first_name', 'students.gender', 'students.dob', 'students.grade_level', 'students.enroll_status',
      'students.entrydate', 'students.exitdate', 'sync_studentmap.studentsdcid', 'sync_studentmap.studentid', 'psm_studentcontact.studentid',
      'psm_studentcontact.email', 'psm_studentcontact.studentcontacttypeid', 'psm_studentcontacttype.id', 'psm_studentcontacttype.name',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const withEmail = args['include_email'] === 'true';
      return db.students
        .filter(enrolledIn(yt))
        .sort(byKeys((s) => s.schoolid, (s) => s.last_name, (s) => s.first_name, (s) => s.dcid))
        .map((s) => [
          String(s.schoolid), String(s.dcid), s.student_number, s.state_studentnumber, s.last_name, s.middle_name, s.first_name, s.gender, s.dob,
          cleverGrade(s.grade_level), withEmail ? s.email : null, String(s.grade_level), String(s.enroll_status), s.entrydate, s.exitdate,
        ]);
    },
  }),
  defineQuery({
    name: 'org.ferry.clever.teachers',
    args: YEAR,
    columns: ['school_id', 'teacher_id', 'teacher_number', 'last_name', 'first_name', 'teacher_email', 'title', 'username'],
    fields: [
      ...YEAR_TERM, 'sections.teacher', 'sections.schoolid', 'sections.termid', 'schoolstaff.id', 'schoolstaff.users_dcid', 'schoolstaff.status',
      'users.dcid', 'users.homeschoolid', 'users.teachernumber', 'users.last_name', 'users.first_name', 'users.email_addr', 'users.title',
      'users.teacherloginid', 'users.loginid',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const sections = db.sections.filter((s) => inTermsOf(yt)(s.termid));
      return db.users
        .filter((u) => u.status === 1)
        .flatMap((u): Cell[][] => {
          const taught = sections.filter((s) => s.teacher === u.schoolstaff_id).map((s) => s.schoolid);
          if (taught.length === 0) return [];
          const school = u.homeschoolid !== 0 ? u.homeschoolid : Math.min(...taught);
          return [[String(school), String(u.dcid), u.teachernumber, u.last_name, u.first_name, u.email_addr, u.title, u.teacherloginid]];
        })
        .sort(byKeys((r) => String(r[0]), (r) => String(r[3]), (r) => String(r[4]), (r) => String(r[1])));
    },
  }),
  defineQuery({
    name: 'org.ferry.clever.sections',
    args: YEAR,
    columns: [
      'school_id', 'section_id', 'teacher_id', 'section_name', 'section_number', 'grade', 'course_name', 'course_number', 'period', 'subject',
      'term_name', 'term_start', 'term_end',
    ],
    fields: [
      ...YEAR_TERM, 'terms.name', 'terms.firstday', 'terms.lastday', 'sections.schoolid', 'sections.id', 'sections.teacher', 'sections.section_number',
      'sections.grade_level', 'sections.course_number', 'sections.expression', 'sections.termid', 'schoolstaff.id', 'schoolstaff.users_dcid',
      'schoolstaff.status', 'courses.course_name', 'courses.course_number', 'courses.credittype',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      return db.sections
        .filter((s) => inTermsOf(yt)(s.termid))
        .sort(byKeys((s) => s.schoolid, (s) => s.id))
        .flatMap((s) => {
          const c = db.courseByNumber.get(s.course_number);
          const u = db.userByStaffId.get(s.teacher);
          const t = db.terms.find((x) => x.id === s.termid && x.schoolid === s.schoolid);
          if (!c || !u || !t || u.status !== 1) return [];
          return [[
            String(s.schoolid), String(s.id), String(u.dcid), `${c.course_name} - Section ${s.section_number}`, s.section_number, cleverGrade(s.grade_level),
            c.course_name, c.course_number, s.expression, c.credittype, t.name, t.firstday, t.lastday,
          ]];
        });
    },
  }),
  defineQuery({
    name: 'org.ferry.clever.enrollments',
    args: YEAR,
    columns: ['school_id', 'section_id', 'student_id', 'grade_level', 'enroll_status', 'entry_date', 'exit_date'],
    fields: [
      ...YEAR_TERM, 'cc.schoolid', 'cc.sectionid', 'cc.studentid', 'cc.termid', 'cc.dateenrolled', 'cc.dateleft', 'students.id', 'students.dcid',
      'students.grade_level', 'students.enroll_status', 'sections.id', 'sections.teacher', 'schoolstaff.id', 'schoolstaff.status',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      return db.cc
        .filter((c) => inTermsOf(yt)(c.termid) && c.sectionid > 0)
        .flatMap((c) => {
          const s = db.studentById.get(c.studentid);
          const section = db.sectionById.get(c.sectionid);
          const teacher = section ? db.userByStaffId.get(section.teacher) : undefined;
          return s && teacher?.status === 1 ? [[String(c.schoolid), String(c.sectionid), String(s.dcid), String(s.grade_level), String(s.enroll_status), c.dateenrolled, c.dateleft]] : [];
        })
        .sort(byKeys((r) => String(r[0]), (r) => String(r[1]), (r) => String(r[2])));
    },
  }),
  defineQuery({
    name: 'org.ferry.clever.staff',
    args: YEAR,
    columns: ['school_id', 'staff_id', 'staff_email', 'first_name', 'last_name', 'title'],
    fields: [
      ...YEAR_TERM, 'sections.teacher', 'sections.termid', 'schoolstaff.id', 'schoolstaff.users_dcid', 'schoolstaff.schoolid', 'schoolstaff.status',
      'users.homeschoolid', 'users.dcid', 'users.email_addr', 'users.first_name', 'users.last_name', 'users.title',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const teaching = new Set(db.sections.filter((s) => inTermsOf(yt)(s.termid)).map((s) => s.teacher));
      return db.users
        .filter((u) => u.status === 1 && isSchool(u.homeschoolid) && !teaching.has(u.schoolstaff_id))
        .sort(byKeys((u) => u.homeschoolid, (u) => u.last_name, (u) => u.first_name, (u) => u.dcid))
        .map((u) => [String(u.homeschoolid), String(u.dcid), u.email_addr, u.first_name, u.last_name, u.title]);
    },
  }),
];
