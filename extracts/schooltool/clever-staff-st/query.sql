-- Clever staff.csv: active building staff who teach no section of the school year (those are in teachers.csv).
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  st.school_code AS [School_id],
  st.staff_id AS [Staff_id],
  st.email AS [Staff_email],
  st.first_name AS [First_name],
  st.last_name AS [Last_name],
  st.department AS [Department],
  st.title AS [Title]
FROM ferry_staff AS st
WHERE st.district_id = @districtId
  AND st.active = 1
  AND st.school_code IS NOT NULL
  AND (@buildings = '' OR st.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND NOT EXISTS (
    SELECT 1 FROM ferry_sections AS sec
    WHERE sec.district_id = st.district_id AND sec.teacher_staff_id = st.staff_id AND sec.school_year = @schoolYear
  )
ORDER BY st.school_code COLLATE Latin1_General_BIN2, st.last_name COLLATE Latin1_General_BIN2,
  st.first_name COLLATE Latin1_General_BIN2, st.staff_id COLLATE Latin1_General_BIN2
