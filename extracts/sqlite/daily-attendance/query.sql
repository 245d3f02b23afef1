-- Daily attendance exceptions on the as-of date. The grade is the student's enrolment on that day.
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
FROM daily_attendance AS a
JOIN students AS s ON s.district_id = a.district_id AND s.student_id = a.student_id
JOIN student_enrollments AS e ON e.district_id = a.district_id AND e.student_id = a.student_id
WHERE a.district_id = :districtId
  AND a.attendance_date = :asOf
  AND (json_array_length(:buildings) = 0 OR a.school_code IN (SELECT value FROM json_each(:buildings)))
  AND (:unexcusedOnly = 0 OR a.excused = 0)
  AND e.school_year = :schoolYear
  AND e.entry_date <= :asOf AND (e.exit_date IS NULL OR e.exit_date > :asOf)
  AND e.grade_level BETWEEN :gradeMin AND :gradeMax
ORDER BY a.school_code, e.grade_level, s.last_name, s.first_name, s.student_id;
