-- OneRoster 1.1 demographics.csv (bulk): one row per student in users.csv (students with an enrolment in the school year).
-- 1.1 allows only male and female for sex, so a student recorded as X has it left empty.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  s.student_id AS [sourcedId],
  NULL AS [status],
  NULL AS [dateLastModified],
  s.birth_date AS [birthDate],
  CASE s.gender WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS [sex],
  NULL AS [americanIndianOrAlaskaNative],
  NULL AS [asian],
  NULL AS [blackOrAfricanAmerican],
  NULL AS [nativeHawaiianOrOtherPacificIslander],
  NULL AS [white],
  NULL AS [demographicRaceTwoOrMoreRaces],
  NULL AS [hispanicOrLatinoEthnicity],
  NULL AS [countryOfBirthCode],
  NULL AS [stateOfBirthAbbreviation],
  NULL AS [cityOfBirth],
  NULL AS [publicSchoolResidenceStatus]
FROM ferry_students AS s
WHERE s.district_id = @districtId
  AND EXISTS (
    SELECT 1 FROM ferry_enrollments AS e
    WHERE e.district_id = s.district_id AND e.student_id = s.student_id AND e.school_year = @schoolYear
  )
ORDER BY s.student_id COLLATE Latin1_General_BIN2
