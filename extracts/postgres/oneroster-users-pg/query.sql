-- OneRoster 1.1 users.csv (bulk): students with an enrolment in the school year (the latest one if they returned),
-- then every staff member who teaches a section of the school year.
WITH enrolled AS (
  SELECT e.*, row_number() OVER (PARTITION BY e.student_id ORDER BY e.entry_date DESC) AS n
  FROM student_enrollments AS e
  WHERE e.district_id = :districtId::text AND e.school_year = :schoolYear::integer
),
teaching AS (
  SELECT sec.teacher_staff_id AS staff_id, string_agg(sec.school_code, ',' ORDER BY sec.school_code COLLATE "C") AS schools
  FROM (
    SELECT DISTINCT teacher_staff_id, school_code FROM sections
    WHERE district_id = :districtId::text AND school_year = :schoolYear::integer
  ) AS sec
  GROUP BY sec.teacher_staff_id
)
SELECT
  "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds", "givenName", "familyName",
  "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password"
FROM (
  SELECT
    s.student_id AS "sourcedId",
    NULL::text AS "status",
    NULL::text AS "dateLastModified",
    CASE WHEN s.active THEN 'true' ELSE 'false' END AS "enabledUser",
    e.school_code AS "orgSourcedIds",
    'student'::text AS "role",
    coalesce(s.email, s.student_number) AS "username",
    NULL::text AS "userIds",
    s.first_name AS "givenName",
    s.last_name AS "familyName",
    s.middle_name AS "middleName",
    s.student_number AS "identifier",
    s.email AS "email",
    NULL::text AS "sms",
    NULL::text AS "phone",
    NULL::text AS "agentSourcedIds",
    CASE e.grade_level WHEN -1 THEN 'PK' WHEN 0 THEN 'KG' ELSE lpad(e.grade_level::text, 2, '0') END AS "grades",
    NULL::text AS "password",
    0 AS sort_role,
    e.school_code AS sort_school
  FROM enrolled AS e
  JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
  WHERE e.n = 1
  UNION ALL
  SELECT
    st.staff_id,
    NULL,
    NULL,
    CASE WHEN st.active THEN 'true' ELSE 'false' END,
    t.schools,
    'teacher',
    st.email,
    NULL,
    st.first_name,
    st.last_name,
    NULL,
    st.staff_id,
    st.email,
    NULL,
    st.phone,
    NULL,
    NULL,
    NULL,
    1,
    NULL
  FROM teaching AS t
  JOIN staff AS st ON st.district_id = :districtId::text AND st.staff_id = t.staff_id
) AS u
ORDER BY sort_role, sort_school COLLATE "C", "sourcedId" COLLATE "C";
