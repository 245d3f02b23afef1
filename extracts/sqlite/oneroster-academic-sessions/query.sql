-- OneRoster 1.1 academicSessions.csv (bulk). The demo SIS has no terms table, so the school year is the only session and
-- classes name it in termSourcedIds. Dates are the New York school year, 1 July to 30 June.
-- The year is cast because a bound number arrives as a REAL, which would print as 2027.0.
WITH y AS (SELECT CAST(:schoolYear AS INTEGER) AS ends)
SELECT
  d.district_id || '-' || y.ends AS "sourcedId",
  NULL AS "status",
  NULL AS "dateLastModified",
  (y.ends - 1) || '-' || y.ends AS "title",
  'schoolYear' AS "type",
  (y.ends - 1) || '-07-01' AS "startDate",
  y.ends || '-06-30' AS "endDate",
  NULL AS "parentSourcedId",
  CAST(y.ends AS TEXT) AS "schoolYear"
FROM districts AS d, y
WHERE d.district_id = :districtId
  AND EXISTS (SELECT 1 FROM student_enrollments AS e WHERE e.district_id = d.district_id AND e.school_year = y.ends);
