-- OneRoster 1.1 classes.csv (bulk): one class per section of the school year.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  sec.section_id AS [sourcedId],
  NULL AS [status],
  NULL AS [dateLastModified],
  CONCAT(c.name, ' - Section ', sec.section_number) AS [title],
  CASE
    WHEN c.grade_level = -1 THEN 'PK'
    WHEN c.grade_level = 0 THEN 'KG'
    WHEN c.grade_level < 10 THEN CONCAT('0', c.grade_level)
    ELSE CAST(c.grade_level AS nvarchar(2))
  END AS [grades],
  sec.course_code AS [courseSourcedId],
  sec.section_id AS [classCode],
  CASE WHEN c.subject = 'homeroom' THEN 'homeroom' ELSE 'scheduled' END AS [classType],
  sec.room AS [location],
  sec.school_code AS [schoolSourcedId],
  CONCAT(sec.district_id, '-', @schoolYear) AS [termSourcedIds],
  CASE WHEN c.subject = 'homeroom' THEN NULL ELSE c.subject END AS [subjects],
  NULL AS [subjectCodes],
  sec.period AS [periods]
FROM ferry_sections AS sec
JOIN ferry_courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
WHERE sec.district_id = @districtId
  AND sec.school_year = @schoolYear
ORDER BY sec.school_code COLLATE Latin1_General_BIN2, sec.section_id COLLATE Latin1_General_BIN2
