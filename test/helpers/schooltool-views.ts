import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';

/**
 * A stand-in for a SchoolTool database: a copy of the demo SIS with the site-mapped `ferry_*` views that the shipped
 * SchoolTool extracts read (see extracts/schooltool/README.md), served over TDS by test/servers/tds.
 */
export function makeSchoolToolDatabase(dir: string): string {
  const demo = path.join(dir, 'demo-sis.sqlite');
  ensureDemoSis(demo);
  const file = path.join(dir, 'schooltool.sqlite');
  fs.copyFileSync(demo, file);
  fs.chmodSync(file, 0o600);
  const db = new Database(file);
  db.exec(`
    CREATE VIEW ferry_students AS
      SELECT district_id, student_id, student_number, state_id, first_name, middle_name, last_name, display_name, gender, birth_date, email, active, updated_at FROM students;
    CREATE VIEW ferry_enrollments AS
      SELECT district_id, student_id, school_year, school_code, grade_level, entry_date, exit_date, updated_at FROM student_enrollments;
    CREATE VIEW ferry_schools AS
      SELECT district_id, school_code, name, low_grade, high_grade, phone FROM schools;
    CREATE VIEW ferry_staff AS
      SELECT district_id, staff_id, first_name, last_name, email, title, department, school_code, phone, active FROM staff;
    CREATE VIEW ferry_guardians AS
      SELECT sg.district_id, sg.student_id, g.guardian_id, g.first_name, g.last_name, sg.relationship, g.phone, g.email, sg.contact_priority, sg.receives_correspondence
      FROM student_guardians sg JOIN guardians g ON g.district_id = sg.district_id AND g.guardian_id = sg.guardian_id;
    CREATE VIEW ferry_districts AS
      SELECT district_id, name FROM districts;
    CREATE VIEW ferry_courses AS
      SELECT district_id, course_code, name, subject, grade_level FROM courses;
    CREATE VIEW ferry_sections AS
      SELECT district_id, section_id, school_year, school_code, course_code, substr(section_id, -2) AS section_number, teacher_staff_id, period, room
      FROM sections;
    CREATE VIEW ferry_section_enrollments AS
      SELECT district_id, section_id, student_id, entry_date, exit_date FROM section_enrollments;
    CREATE VIEW ferry_lunch_accounts AS
      SELECT district_id, student_id, account_number, balance_cents, balance_date FROM lunch_accounts;
    CREATE VIEW ferry_attendance AS
      SELECT district_id, student_id, attendance_date, school_code, code, excused FROM daily_attendance;
  `);
  db.close();
  return file;
}
