-- Clever staff.csv: active building staff who teach no section of the school year (those are in teachers.csv).
SELECT
  st.school_code AS "School_id",
  st.staff_id AS "Staff_id",
  st.email AS "Staff_email",
  st.first_name AS "First_name",
  st.last_name AS "Last_name",
  st.department AS "Department",
  st.title AS "Title"
FROM staff AS st
WHERE st.district_id = :districtId::text
  AND st.active
  AND st.school_code IS NOT NULL
  AND (cardinality(:buildings::text[]) = 0 OR st.school_code = ANY(:buildings::text[]))
  AND NOT EXISTS (
    SELECT 1 FROM sections AS sec
    WHERE sec.district_id = st.district_id AND sec.teacher_staff_id = st.staff_id AND sec.school_year = :schoolYear::integer
  )
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY st.school_code COLLATE "C", st.last_name COLLATE "C", st.first_name COLLATE "C", st.staff_id COLLATE "C";
