-- Clever sections.csv: sections of the school year whose teacher is active (teachers.csv lists only active staff).
WITH y AS (SELECT :schoolYear::integer AS ends)
SELECT
  sec.school_code AS "School_id",
  sec.section_id AS "Section_id",
  sec.teacher_staff_id AS "Teacher_id",
  c.name || ' - Section ' || right(sec.section_id, 2) AS "Name",
  right(sec.section_id, 2) AS "Section_number",
  CASE c.grade_level WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE c.grade_level::text END AS "Grade",
  c.name AS "Course_name",
  sec.course_code AS "Course_number",
  sec.period AS "Period",
  c.subject AS "Subject",
  (y.ends - 1)::text || '-' || y.ends::text AS "Term_name",
  make_date(y.ends - 1, 7, 1) AS "Term_start",
  make_date(y.ends, 6, 30) AS "Term_end"
FROM sections AS sec
CROSS JOIN y
JOIN courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
JOIN staff AS st ON st.district_id = sec.district_id AND st.staff_id = sec.teacher_staff_id
WHERE sec.district_id = :districtId::text
  AND sec.school_year = y.ends
  AND (cardinality(:buildings::text[]) = 0 OR sec.school_code = ANY(:buildings::text[]))
  AND st.active
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY sec.school_code COLLATE "C", sec.section_id COLLATE "C";
