-- Daily attendance exceptions on the as-of date. The grade is the student's enrolment on that day.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  s.student_id,
  s.student_number,
  s.first_name,
  s.last_name,
  a.school_code,
  e.grade_level,
  a.attendance_date,
  a.code,
  CASE a.code
    WHEN 'A' THEN 'Absent'
    WHEN 'AE' THEN 'Excused absence'
    WHEN 'T' THEN 'Tardy'
    WHEN 'TE' THEN 'Excused tardy'
    WHEN 'D' THEN 'Early dismissal'
    ELSE a.code
  END AS description,
  a.excused
FROM ferry_attendance AS a
JOIN ferry_students AS s ON s.district_id = a.district_id AND s.student_id = a.student_id
JOIN ferry_enrollments AS e ON e.district_id = a.district_id AND e.student_id = a.student_id
WHERE a.district_id = @districtId
  AND a.attendance_date = @asOf
  AND (@buildings = '' OR a.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND (@unexcusedOnly = 0 OR a.excused = 0)
  AND e.school_year = @schoolYear
  AND e.entry_date <= @asOf AND (e.exit_date IS NULL OR e.exit_date > @asOf)
  AND e.grade_level BETWEEN @gradeMin AND @gradeMax
ORDER BY a.school_code COLLATE Latin1_General_BIN2, e.grade_level, s.last_name COLLATE Latin1_General_BIN2,
  s.first_name COLLATE Latin1_General_BIN2, s.student_id COLLATE Latin1_General_BIN2
