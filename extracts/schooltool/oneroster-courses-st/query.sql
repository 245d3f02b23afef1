-- OneRoster 1.1 courses.csv (bulk): courses are district-wide, so orgSourcedId is the district.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  c.course_code AS [sourcedId],
  NULL AS [status],
  NULL AS [dateLastModified],
  CONCAT(c.district_id, '-', @schoolYear) AS [schoolYearSourcedId],
  c.name AS [title],
  c.course_code AS [courseCode],
  CASE
    WHEN c.grade_level = -1 THEN 'PK'
    WHEN c.grade_level = 0 THEN 'KG'
    WHEN c.grade_level < 10 THEN CONCAT('0', c.grade_level)
    ELSE CAST(c.grade_level AS nvarchar(2))
  END AS [grades],
  c.district_id AS [orgSourcedId],
  CASE WHEN c.subject = 'homeroom' THEN NULL ELSE c.subject END AS [subjects],
  NULL AS [subjectCodes]
FROM ferry_courses AS c
WHERE c.district_id = @districtId
  AND EXISTS (
    SELECT 1 FROM ferry_sections AS sec
    WHERE sec.district_id = c.district_id AND sec.course_code = c.course_code AND sec.school_year = @schoolYear
  )
ORDER BY c.course_code COLLATE Latin1_General_BIN2
