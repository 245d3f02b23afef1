-- Clever teachers.csv: active staff who teach a section of the school year, once each (Teacher_id is unique in the file).
WITH teaching AS (
  SELECT sec.teacher_staff_id AS staff_id, min(sec.school_code COLLATE "C") AS school_code
  FROM sections AS sec
  WHERE sec.district_id = :districtId::text
    AND sec.school_year = :schoolYear::integer
    AND (cardinality(:buildings::text[]) = 0 OR sec.school_code = ANY(:buildings::text[]))
  GROUP BY sec.teacher_staff_id
)
SELECT
  t.school_code AS "School_id",
  st.staff_id AS "Teacher_id",
  st.last_name AS "Last_name",
  st.first_name AS "First_name",
  st.email AS "Teacher_email",
  st.title AS "Title"
FROM teaching AS t
JOIN staff AS st ON st.district_id = :districtId::text AND st.staff_id = t.staff_id
WHERE st.active
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY t.school_code COLLATE "C", st.last_name COLLATE "C", st.first_name COLLATE "C", st.staff_id COLLATE "C";
