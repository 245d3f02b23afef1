-- OneRoster 1.1 enrollments.csv (bulk): per section of the school year, its teacher (primary) then its students.
-- Students are limited to those with an enrolment in the school year, the same set as users.csv.
SELECT
  "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate"
FROM (
  SELECT
    sec.section_id || '-' || sec.teacher_staff_id AS "sourcedId",
    NULL::text AS "status",
    NULL::text AS "dateLastModified",
    sec.section_id AS "classSourcedId",
    sec.school_code AS "schoolSourcedId",
    sec.teacher_staff_id AS "userSourcedId",
    'teacher'::text AS "role",
    'true'::text AS "primary",
    NULL::date AS "beginDate",
    NULL::date AS "endDate",
    0 AS sort_role,
    sec.teacher_staff_id AS sort_user
  FROM sections AS sec
  WHERE sec.district_id = :districtId::text AND sec.school_year = :schoolYear::integer
  UNION ALL
  SELECT
    sec.section_id || '-' || se.student_id,
    NULL,
    NULL,
    sec.section_id,
    sec.school_code,
    se.student_id,
    'student',
    'false',
    se.entry_date,
    se.exit_date,
    1,
    se.student_id
  FROM sections AS sec
  JOIN section_enrollments AS se ON se.district_id = sec.district_id AND se.section_id = sec.section_id
  WHERE sec.district_id = :districtId::text AND sec.school_year = :schoolYear::integer
    AND EXISTS (
      SELECT 1 FROM student_enrollments AS e
      WHERE e.district_id = se.district_id AND e.student_id = se.student_id AND e.school_year = :schoolYear::integer
    )
) AS r
ORDER BY "schoolSourcedId" COLLATE "C", "classSourcedId" COLLATE "C", sort_role, sort_user COLLATE "C";
