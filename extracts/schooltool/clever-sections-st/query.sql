-- Clever sections.csv: sections of the school year whose teacher is active (teachers.csv lists only active staff).
-- Term dates are written as YYYY-MM-DD text; the Clever writer renders the declared date columns as MM/DD/YYYY.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  sec.school_code AS [School_id],
  sec.section_id AS [Section_id],
  sec.teacher_staff_id AS [Teacher_id],
  CONCAT(c.name, ' - Section ', sec.section_number) AS [Name],
  sec.section_number AS [Section_number],
  CASE c.grade_level WHEN -1 THEN 'PreKindergarten' WHEN 0 THEN 'Kindergarten' ELSE CAST(c.grade_level AS nvarchar(2)) END AS [Grade],
  c.name AS [Course_name],
  sec.course_code AS [Course_number],
  sec.period AS [Period],
  c.subject AS [Subject],
  CONCAT(@schoolYear - 1, '-', @schoolYear) AS [Term_name],
  CONCAT(@schoolYear - 1, '-07-01') AS [Term_start],
  CONCAT(@schoolYear, '-06-30') AS [Term_end]
FROM ferry_sections AS sec
JOIN ferry_courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
JOIN ferry_staff AS st ON st.district_id = sec.district_id AND st.staff_id = sec.teacher_staff_id
WHERE sec.district_id = @districtId
  AND sec.school_year = @schoolYear
  AND (@buildings = '' OR sec.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND st.active = 1
ORDER BY sec.school_code COLLATE Latin1_General_BIN2, sec.section_id COLLATE Latin1_General_BIN2
