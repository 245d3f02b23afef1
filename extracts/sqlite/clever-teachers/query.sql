-- Clever teachers.csv: active staff who teach a section of the school year, once each (Teacher_id is unique in the file).
WITH teaching AS (
  SELECT sec.teacher_staff_id AS staff_id, min(sec.school_code) AS school_code
  FROM sections AS sec
  WHERE sec.district_id = :districtId
    AND sec.school_year = :schoolYear
    AND (json_array_length(:buildings) = 0 OR sec.school_code IN (SELECT value FROM json_each(:buildings)))
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
JOIN staff AS st ON st.district_id = :districtId AND st.staff_id = t.staff_id
WHERE st.active = 1
ORDER BY t.school_code, st.last_name, st.first_name, st.staff_id;
