SELECT
  s.student_id,
  s.display_name AS student_name,
  e.grade_level,
  e.school_code,
  g.guardian_id,
  g.first_name || ' ' || g.last_name AS guardian_name,
  sg.relationship,
  g.phone,
  g.email,
  sg.receives_correspondence
FROM student_enrollments AS e
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
JOIN student_guardians AS sg ON sg.district_id = s.district_id AND sg.student_id = s.student_id
JOIN guardians AS g ON g.district_id = sg.district_id AND g.guardian_id = sg.guardian_id
WHERE e.district_id = :districtId::text
  AND e.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR e.school_code = ANY(:buildings::text[]))
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
  AND (NOT :activeOnly::boolean OR s.active)
  AND e.entry_date <= :asOf::date AND (e.exit_date IS NULL OR e.exit_date > :asOf::date)
  AND (NOT :correspondenceOnly::boolean OR sg.receives_correspondence)
ORDER BY e.school_code COLLATE "C", s.student_id COLLATE "C", sg.contact_priority;
