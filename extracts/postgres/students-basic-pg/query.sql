SELECT
  s.student_id,
  s.first_name,
  s.middle_name,
  s.last_name,
  e.grade_level,
  s.birth_date,
  e.school_code,
  e.entry_date,
  s.active,
  greatest(s.updated_at, e.updated_at) AS updated_at
FROM student_enrollments AS e
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
WHERE e.district_id = :districtId::text
  AND e.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR e.school_code = ANY(:buildings::text[]))
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
  AND (NOT :activeOnly::boolean OR s.active)
ORDER BY e.school_code COLLATE "C", e.grade_level, s.student_id COLLATE "C";
