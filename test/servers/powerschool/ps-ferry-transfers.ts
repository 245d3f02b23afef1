import { byKeys, defineQuery, enrolledIn, TERM_FIELDS, yearTerm, type Cell, type FerryQuery } from './ps-ferry-query.js';

/** The fake's answers to org.ferry.transfers.* (queries_root/org.ferry.transfers.named_queries.xml). */

export const TRANSFER_QUERIES: readonly FerryQuery[] = [
  defineQuery({
    name: 'org.ferry.transfers.staff_directory',
    args: [],
    columns: ['staff_id', 'first_name', 'last_name', 'email', 'title', 'school_number', 'school_name', 'phone', 'active'],
    fields: [
      'users.dcid', 'users.teachernumber', 'users.first_name', 'users.last_name', 'users.email_addr', 'users.title', 'users.homeschoolid',
      'users.school_phone', 'schoolstaff.users_dcid', 'schoolstaff.schoolid', 'schoolstaff.status', 'schools.school_number', 'schools.name',
    ],
    run(db) {
      return db.users
        .map((u): Cell[] => {
          const school = db.schools.find((s) => s.school_number === u.homeschoolid);
          return [
            u.teachernumber, u.first_name, u.last_name, u.email_addr, u.title, school ? String(school.school_number) : null, school?.name ?? null,
            u.school_phone, u.status === 1 ? 'true' : 'false',
          ];
        })
        .sort(byKeys((r) => String(r[2]), (r) => String(r[1]), (r) => String(r[0])));
    },
  }),
  defineQuery({
    name: 'org.ferry.transfers.parent_contacts',
    args: ['school_year', 'correspondence_only'],
    columns: [
      'student_number', 'student_name', 'grade_level', 'school_number', 'enroll_status', 'entry_date', 'exit_date', 'contact_id', 'contact_name',
      'relationship', 'phone', 'email', 'receives_correspondence', 'contact_priority',
    ],
    fields: [
      ...TERM_FIELDS,
      'students.dcid', 'students.student_number', 'students.first_name', 'students.last_name', 'students.grade_level', 'students.schoolid',
      'students.enroll_status', 'students.entrydate', 'students.exitdate',
      'studentcontactassoc.studentcontactassocid', 'studentcontactassoc.studentdcid', 'studentcontactassoc.personid', 'studentcontactassoc.contactpriorityorder',
      'studentcontactdetail.studentcontactassocid', 'studentcontactdetail.relationshiptypecodesetid', 'studentcontactdetail.isactive', 'studentcontactdetail.receivesmailflg',
      'person.id', 'person.firstname', 'person.lastname', 'person.isactive', 'codeset.codesetid', 'codeset.code',
      'personphonenumberassoc.personid', 'personphonenumberassoc.phonenumberid', 'personphonenumberassoc.ispreferred', 'phonenumber.phonenumberid', 'phonenumber.phonenumber',
      'personemailaddressassoc.personid', 'personemailaddressassoc.emailaddressid', 'personemailaddressassoc.isprimaryemailaddress',
      'emailaddress.emailaddressid', 'emailaddress.emailaddress',
    ],
    run(db, args) {
      const yt = yearTerm(db, args);
      if (!yt) return [];
      const onlyMail = args['correspondence_only'] === 'true';
      const students = new Map(db.students.filter(enrolledIn(yt)).map((s) => [s.dcid, s]));
      return db.contacts
        .filter((c) => c.isactive === 1 && (!onlyMail || c.receivesmailflg === 1))
        .flatMap((c): Cell[][] => {
          const s = students.get(c.studentdcid);
          if (!s) return [];
          return [[
            s.student_number, `${s.first_name} ${s.last_name}`, String(s.grade_level), String(s.schoolid), String(s.enroll_status), s.entrydate, s.exitdate,
            String(c.personid), `${c.firstname} ${c.lastname}`, c.relationship, c.phone, c.email, c.receivesmailflg === 1 ? 'true' : 'false', String(c.contactpriorityorder),
          ]];
        })
        .sort(byKeys((r) => String(r[3]), (r) => String(r[1]), (r) => String(r[0]), (r) => Number(r[13])));
    },
  }),
  defineQuery({
    name: 'org.ferry.transfers.daily_attendance',
    args: ['att_date'],
    columns: ['student_number', 'first_name', 'last_name', 'grade_level', 'school_number', 'att_date', 'att_code', 'code_description', 'presence_status'],
    fields: [
      'attendance.studentid', 'attendance.schoolid', 'attendance.att_date', 'attendance.attendance_codeid', 'attendance.att_mode_code',
      'attendance_code.id', 'attendance_code.att_code', 'attendance_code.description', 'attendance_code.presence_status_cd',
      'students.id', 'students.student_number', 'students.first_name', 'students.last_name', 'students.grade_level',
    ],
    run(db, args) {
      const day = args['att_date'];
      return db.attendance
        .filter((a) => a.att_date === day)
        .flatMap((a): Cell[][] => {
          const s = db.studentById.get(a.studentid);
          const code = db.attendanceCodes.find((x) => x.att_code === a.att_code);
          if (!s || !code) return [];
          return [[s.student_number, s.first_name, s.last_name, String(s.grade_level), String(a.schoolid), a.att_date, code.att_code, code.description, code.presence_status_cd]];
        })
        .sort(byKeys((r) => String(r[4]), (r) => String(r[2]), (r) => String(r[1]), (r) => String(r[0])));
    },
  }),
];
