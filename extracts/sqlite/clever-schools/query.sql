-- Clever schools.csv: the district's buildings. The principal is the building's active staff member titled Principal,
-- the lowest staff id should there be two, so each school is one row.
WITH principals AS (
  SELECT
    st.school_code,
    st.first_name,
    st.last_name,
    st.email,
    row_number() OVER (PARTITION BY st.school_code ORDER BY st.staff_id) AS n
  FROM staff AS st
  WHERE st.district_id = :districtId AND st.title = 'Principal' AND st.active = 1 AND st.school_code IS NOT NULL
)
SELECT
  sc.school_code AS "School_id",
  sc.name AS "School_name",
  sc.school_code AS "School_number",
  CASE sc.low_grade WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(sc.low_grade AS TEXT) END AS "Low_grade",
  CASE sc.high_grade WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(sc.high_grade AS TEXT) END AS "High_grade",
  p.first_name || ' ' || p.last_name AS "Principal",
  p.email AS "Principal_email",
  sc.phone AS "School_phone"
FROM schools AS sc
LEFT JOIN principals AS p ON p.school_code = sc.school_code AND p.n = 1
WHERE sc.district_id = :districtId
  AND (json_array_length(:buildings) = 0 OR sc.school_code IN (SELECT value FROM json_each(:buildings)))
ORDER BY sc.school_code;
