-- OneRoster 1.1 demographics.csv (bulk): one row per student in users.csv (students with an enrolment in the school year).
-- 1.1 allows only male and female for sex, so a student recorded as X has it left empty.
SELECT
  s.student_id AS "sourcedId",
  NULL::text AS "status",
  NULL::text AS "dateLastModified",
  s.birth_date AS "birthDate",
  CASE s.gender WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS "sex",
  NULL::text AS "americanIndianOrAlaskaNative",
  NULL::text AS "asian",
  NULL::text AS "blackOrAfricanAmerican",
  NULL::text AS "nativeHawaiianOrOtherPacificIslander",
  NULL::text AS "white",
  NULL::text AS "demographicRaceTwoOrMoreRaces",
  NULL::text AS "hispanicOrLatinoEthnicity",
  NULL::text AS "countryOfBirthCode",
  NULL::text AS "stateOfBirthAbbreviation",
  NULL::text AS "cityOfBirth",
  NULL::text AS "publicSchoolResidenceStatus"
FROM students AS s
WHERE s.district_id = :districtId::text
  AND EXISTS (
    SELECT 1 FROM student_enrollments AS e
    WHERE e.district_id = s.district_id AND e.student_id = s.student_id AND e.school_year = :schoolYear::integer
  )
ORDER BY s.student_id COLLATE "C";
