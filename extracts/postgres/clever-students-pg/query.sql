-- Clever students.csv: one row per student enrolment in the selected school year.
SELECT
  e.school_code AS "School_id",
  s.student_id AS "Student_id",
  s.student_number AS "Student_number",
  s.state_id AS "State_id",
  s.last_name AS "Last_name",
  s.middle_name AS "Middle_name",
  s.first_name AS "First_name",
  s.gender AS "Gender",
  s.birth_date AS "Dob",
  CASE e.grade_level
    WHEN -1 THEN 'PreKindergarten'
    WHEN 0 THEN 'Kindergarten'
    ELSE e.grade_level::text
  END AS "Grade",
  CASE WHEN :includeEmail::boolean THEN s.email END AS "Student_email"
FROM student_enrollments AS e
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
WHERE e.district_id = :districtId::text
  AND e.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR e.school_code = ANY(:buildings::text[]))
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
  AND (NOT :activeOnly::boolean OR s.active)
  AND e.entry_date <= :asOf::date AND (e.exit_date IS NULL OR e.exit_date > :asOf::date)
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY e.school_code COLLATE "C", s.last_name COLLATE "C", s.first_name COLLATE "C", s.student_id COLLATE "C";
