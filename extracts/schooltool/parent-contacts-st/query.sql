-- Guardian contacts: one row per student enrolled on the as-of date and guardian, in contact priority order.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  s.student_id,
  s.display_name AS student_name,
  e.grade_level,
  e.school_code,
  g.guardian_id,
  CONCAT(g.first_name, ' ', g.last_name) AS guardian_name,
  g.relationship,
  g.phone,
  g.email,
  g.receives_correspondence
FROM ferry_enrollments AS e
JOIN ferry_students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
JOIN ferry_guardians AS g ON g.district_id = s.district_id AND g.student_id = s.student_id
WHERE e.district_id = @districtId
  AND e.school_year = @schoolYear
  AND (@buildings = '' OR e.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND e.grade_level BETWEEN @gradeMin AND @gradeMax
  AND (@activeOnly = 0 OR s.active = 1)
  AND e.entry_date <= @asOf AND (e.exit_date IS NULL OR e.exit_date > @asOf)
  AND (@correspondenceOnly = 0 OR g.receives_correspondence = 1)
ORDER BY e.school_code COLLATE Latin1_General_BIN2, s.student_id COLLATE Latin1_General_BIN2, g.contact_priority
