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
WHERE a.district_id = :districtId::text
  AND a.attendance_date = :asOf::date
  AND (cardinality(:buildings::text[]) = 0 OR a.school_code = ANY(:buildings::text[]))
  AND (NOT :unexcusedOnly::boolean OR NOT a.excused)
  AND e.school_year = :schoolYear::integer
  AND e.entry_date <= :asOf::date AND (e.exit_date IS NULL OR e.exit_date > :asOf::date)
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY a.school_code COLLATE "C", e.grade_level, s.last_name COLLATE "C", s.first_name COLLATE "C", s.student_id COLLATE "C";
