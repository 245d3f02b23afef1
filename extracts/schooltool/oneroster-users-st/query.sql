-- OneRoster 1.1 users.csv (bulk): students with an enrolment in the school year (the latest one if they returned),
-- then every staff member who teaches a section of the school year. STRING_AGG needs SQL Server 2017 or later.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
WITH enrolled AS (
  SELECT
    e.student_id,
    e.school_code,
    e.grade_level,
    ROW_NUMBER() OVER (PARTITION BY e.student_id ORDER BY e.entry_date DESC) AS n
  FROM ferry_enrollments AS e
  WHERE e.district_id = @districtId AND e.school_year = @schoolYear
),
teaching AS (
  SELECT t.teacher_staff_id AS staff_id, STRING_AGG(t.school_code, ',') WITHIN GROUP (ORDER BY t.school_code COLLATE Latin1_General_BIN2) AS schools
  FROM (
    SELECT DISTINCT teacher_staff_id, school_code FROM ferry_sections
    WHERE district_id = @districtId AND school_year = @schoolYear
  ) AS t
  GROUP BY t.teacher_staff_id
)
SELECT
  [sourcedId], [status], [dateLastModified], [enabledUser], [orgSourcedIds], [role], [username], [userIds], [givenName], [familyName],
  [middleName], [identifier], [email], [sms], [phone], [agentSourcedIds], [grades], [password]
FROM (
  SELECT
    s.student_id AS [sourcedId],
    NULL AS [status],
    NULL AS [dateLastModified],
    CASE WHEN s.active = 1 THEN 'true' ELSE 'false' END AS [enabledUser],
    e.school_code AS [orgSourcedIds],
    'student' AS [role],
    COALESCE(s.email, s.student_number) AS [username],
    NULL AS [userIds],
    s.first_name AS [givenName],
    s.last_name AS [familyName],
    s.middle_name AS [middleName],
    s.student_number AS [identifier],
    s.email AS [email],
    NULL AS [sms],
    CAST(NULL AS nvarchar(100)) AS [phone], -- typed, as the teacher rows' phones are
    NULL AS [agentSourcedIds],
    CASE
      WHEN e.grade_level = -1 THEN 'PK'
      WHEN e.grade_level = 0 THEN 'KG'
      WHEN e.grade_level < 10 THEN CONCAT('0', e.grade_level)
      ELSE CAST(e.grade_level AS nvarchar(2))
    END AS [grades],
    NULL AS [password],
    0 AS sort_role,
    e.school_code AS sort_school
  FROM enrolled AS e
  JOIN ferry_students AS s ON s.district_id = @districtId AND s.student_id = e.student_id
  WHERE e.n = 1
  UNION ALL
  SELECT
    st.staff_id,
    NULL,
    NULL,
    CASE WHEN st.active = 1 THEN 'true' ELSE 'false' END,
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
  JOIN ferry_staff AS st ON st.district_id = @districtId AND st.staff_id = t.staff_id
) AS u
ORDER BY sort_role, sort_school COLLATE Latin1_General_BIN2, [sourcedId] COLLATE Latin1_General_BIN2
