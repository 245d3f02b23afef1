-- Clever students.csv: one row per student enrolment in the selected school year, current on the as-of date.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  e.school_code AS [School_id],
  s.student_id AS [Student_id],
  s.student_number AS [Student_number],
  s.state_id AS [State_id],
  s.last_name AS [Last_name],
  s.middle_name AS [Middle_name],
  s.first_name AS [First_name],
  s.gender AS [Gender],
  s.birth_date AS [Dob],
  CASE e.grade_level
    WHEN -1 THEN 'PreKindergarten'
    WHEN 0 THEN 'Kindergarten'
    ELSE CAST(e.grade_level AS nvarchar(2))
  END AS [Grade],
  CASE WHEN @includeEmail = 1 THEN s.email END AS [Student_email]
FROM ferry_enrollments AS e
JOIN ferry_students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
WHERE e.district_id = @districtId
  AND e.school_year = @schoolYear
  AND (@buildings = '' OR e.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND e.grade_level BETWEEN @gradeMin AND @gradeMax
  AND (@activeOnly = 0 OR s.active = 1)
  AND e.entry_date <= @asOf AND (e.exit_date IS NULL OR e.exit_date > @asOf)
ORDER BY e.school_code COLLATE Latin1_General_BIN2, s.last_name COLLATE Latin1_General_BIN2,
  s.first_name COLLATE Latin1_General_BIN2, s.student_id COLLATE Latin1_General_BIN2
