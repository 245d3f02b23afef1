-- OneRoster 1.1 academicSessions.csv (bulk). The demo SIS has no terms table, so the school year is the only session and
-- classes name it in termSourcedIds. Dates are the New York school year, 1 July to 30 June.
WITH y AS (SELECT :schoolYear::integer AS ends)
SELECT
  d.district_id || '-' || y.ends::text AS "sourcedId",
  NULL::text AS "status",
  NULL::text AS "dateLastModified",
  (y.ends - 1)::text || '-' || y.ends::text AS "title",
  'schoolYear'::text AS "type",
  make_date(y.ends - 1, 7, 1) AS "startDate",
  make_date(y.ends, 6, 30) AS "endDate",
  NULL::text AS "parentSourcedId",
  y.ends::text AS "schoolYear"
FROM districts AS d, y
WHERE d.district_id = :districtId::text
  AND EXISTS (SELECT 1 FROM student_enrollments AS e WHERE e.district_id = d.district_id AND e.school_year = y.ends);
