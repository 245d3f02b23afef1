-- Clever schools.csv: the district's buildings. The principal is the building's active staff member titled Principal,
-- the lowest staff id should there be two, so each school is one row.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
WITH principals AS (
  SELECT
    st.school_code,
    st.first_name,
    st.last_name,
    st.email,
    ROW_NUMBER() OVER (PARTITION BY st.school_code ORDER BY st.staff_id COLLATE Latin1_General_BIN2) AS n
  FROM ferry_staff AS st
  WHERE st.district_id = @districtId AND st.title = 'Principal' AND st.active = 1 AND st.school_code IS NOT NULL
)
SELECT
  sc.school_code AS [School_id],
  sc.name AS [School_name],
  sc.school_code AS [School_number],
  CASE sc.low_grade WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(sc.low_grade AS nvarchar(2)) END AS [Low_grade],
  CASE sc.high_grade WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(sc.high_grade AS nvarchar(2)) END AS [High_grade],
  CASE WHEN p.last_name IS NOT NULL THEN CONCAT(p.first_name, ' ', p.last_name) END AS [Principal],
  p.email AS [Principal_email],
  sc.phone AS [School_phone]
FROM ferry_schools AS sc
LEFT JOIN principals AS p ON p.school_code = sc.school_code AND p.n = 1
WHERE sc.district_id = @districtId
  AND (@buildings = '' OR sc.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
ORDER BY sc.school_code COLLATE Latin1_General_BIN2
