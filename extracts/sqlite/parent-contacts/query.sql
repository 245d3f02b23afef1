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
WHERE e.district_id = :districtId
  AND e.school_year = :schoolYear
  AND (json_array_length(:buildings) = 0 OR e.school_code IN (SELECT value FROM json_each(:buildings)))
  AND e.grade_level BETWEEN :gradeMin AND :gradeMax
  AND (:activeOnly = 0 OR s.active = 1)
  AND e.entry_date <= :asOf AND (e.exit_date IS NULL OR e.exit_date > :asOf)
  AND (:correspondenceOnly = 0 OR sg.receives_correspondence = 1)
ORDER BY e.school_code, s.student_id, sg.contact_priority;
