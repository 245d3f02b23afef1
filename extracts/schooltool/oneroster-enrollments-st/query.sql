-- OneRoster 1.1 enrollments.csv (bulk): per section of the school year, its teacher (primary) then its students.
-- Students are limited to those with an enrolment in the school year, the same set as users.csv.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  [sourcedId], [status], [dateLastModified], [classSourcedId], [schoolSourcedId], [userSourcedId], [role], [primary], [beginDate], [endDate]
FROM (
  SELECT
    CONCAT(sec.section_id, '-', sec.teacher_staff_id) AS [sourcedId],
    NULL AS [status],
    NULL AS [dateLastModified],
    sec.section_id AS [classSourcedId],
    sec.school_code AS [schoolSourcedId],
    sec.teacher_staff_id AS [userSourcedId],
    'teacher' AS [role],
    'true' AS [primary],
    CAST(NULL AS date) AS [beginDate], -- typed, as the student rows' dates are
    CAST(NULL AS date) AS [endDate],
    0 AS sort_role,
    sec.teacher_staff_id AS sort_user
  FROM ferry_sections AS sec
  WHERE sec.district_id = @districtId AND sec.school_year = @schoolYear
  UNION ALL
  SELECT
    CONCAT(sec.section_id, '-', se.student_id),
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
  FROM ferry_sections AS sec
  JOIN ferry_section_enrollments AS se ON se.district_id = sec.district_id AND se.section_id = sec.section_id
  WHERE sec.district_id = @districtId AND sec.school_year = @schoolYear
    AND EXISTS (
      SELECT 1 FROM ferry_enrollments AS e
      WHERE e.district_id = se.district_id AND e.student_id = se.student_id AND e.school_year = @schoolYear
    )
) AS r
ORDER BY [schoolSourcedId] COLLATE Latin1_General_BIN2, [classSourcedId] COLLATE Latin1_General_BIN2, sort_role,
  sort_user COLLATE Latin1_General_BIN2
