-- District-office staff have no building, so a building filter leaves them out.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  st.staff_id,
  st.first_name,
  st.last_name,
  st.email,
  st.title,
  st.department,
  st.school_code,
  sc.name AS school_name,
  st.phone,
  st.active
FROM ferry_staff AS st
LEFT JOIN ferry_schools AS sc ON sc.district_id = st.district_id AND sc.school_code = st.school_code
WHERE st.district_id = @districtId
  AND (@buildings = '' OR st.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND (@activeOnly = 0 OR st.active = 1)
ORDER BY st.last_name COLLATE Latin1_General_BIN2, st.first_name COLLATE Latin1_General_BIN2, st.staff_id COLLATE Latin1_General_BIN2
