-- Clever teachers.csv: active staff who teach a section of the school year, once each (Teacher_id is unique in the file).
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
WITH teaching AS (
  SELECT sec.teacher_staff_id AS staff_id, MIN(sec.school_code COLLATE Latin1_General_BIN2) AS school_code
  FROM ferry_sections AS sec
  WHERE sec.district_id = @districtId
    AND sec.school_year = @schoolYear
    AND (@buildings = '' OR sec.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  GROUP BY sec.teacher_staff_id
)
SELECT
  t.school_code AS [School_id],
  st.staff_id AS [Teacher_id],
  st.last_name AS [Last_name],
  st.first_name AS [First_name],
  st.email AS [Teacher_email],
  st.title AS [Title]
FROM teaching AS t
JOIN ferry_staff AS st ON st.district_id = @districtId AND st.staff_id = t.staff_id
WHERE st.active = 1
ORDER BY t.school_code COLLATE Latin1_General_BIN2, st.last_name COLLATE Latin1_General_BIN2,
  st.first_name COLLATE Latin1_General_BIN2, st.staff_id COLLATE Latin1_General_BIN2
