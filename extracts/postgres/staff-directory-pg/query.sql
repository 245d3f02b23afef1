-- District-office staff have no building, so a building filter leaves them out.
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
FROM staff AS st
LEFT JOIN schools AS sc ON sc.district_id = st.district_id AND sc.school_code = st.school_code
WHERE st.district_id = :districtId::text
  AND (cardinality(:buildings::text[]) = 0 OR st.school_code = ANY(:buildings::text[]))
  AND (NOT :activeOnly::boolean OR st.active)
ORDER BY st.last_name COLLATE "C", st.first_name COLLATE "C", st.staff_id COLLATE "C";
