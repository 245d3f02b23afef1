-- Clever sections.csv: sections of the school year whose teacher is active (teachers.csv lists only active staff).
-- The year is cast because a bound number arrives as a REAL, which would print as 2027.0.
WITH y AS (SELECT CAST(:schoolYear AS INTEGER) AS ends)
SELECT
  sec.school_code AS "School_id",
  sec.section_id AS "Section_id",
  sec.teacher_staff_id AS "Teacher_id",
  c.name || ' - Section ' || substr(sec.section_id, -2) AS "Name",
  substr(sec.section_id, -2) AS "Section_number",
  CASE c.grade_level WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(c.grade_level AS TEXT) END AS "Grade",
  c.name AS "Course_name",
  sec.course_code AS "Course_number",
  sec.period AS "Period",
  c.subject AS "Subject",
  (y.ends - 1) || '-' || y.ends AS "Term_name",
  (y.ends - 1) || '-07-01' AS "Term_start",
  y.ends || '-06-30' AS "Term_end"
FROM sections AS sec
CROSS JOIN y
JOIN courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
JOIN staff AS st ON st.district_id = sec.district_id AND st.staff_id = sec.teacher_staff_id
WHERE sec.district_id = :districtId
  AND sec.school_year = y.ends
  AND (json_array_length(:buildings) = 0 OR sec.school_code IN (SELECT value FROM json_each(:buildings)))
  AND st.active = 1
ORDER BY sec.school_code, sec.section_id;
