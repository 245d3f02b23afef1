SELECT
  s.student_id,
  s.first_name,
  s.middle_name,
  s.last_name,
  e.grade_level,
  s.birth_date,
  e.school_code,
  e.entry_date,
  s.active
FROM ferry_enrollments AS e
JOIN ferry_students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
WHERE e.district_id = @districtId
  AND e.school_year = @schoolYear
  AND (@buildings = '' OR e.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND e.grade_level BETWEEN @gradeMin AND @gradeMax
  AND (@activeOnly = 0 OR s.active = 1)
ORDER BY e.school_code, e.grade_level, s.student_id
