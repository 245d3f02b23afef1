-- OneRoster 1.1 orgs.csv (bulk): the district first, then its schools with students enrolled in the school year.
SELECT "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"
FROM (
  SELECT
    d.district_id AS "sourcedId",
    NULL::text AS "status",
    NULL::text AS "dateLastModified",
    d.name AS "name",
    'district'::text AS "type",
    NULL::text AS "identifier",
    NULL::text AS "parentSourcedId",
    0 AS sort_level
  FROM districts AS d
  WHERE d.district_id = :districtId::text
  UNION ALL
  SELECT sc.school_code, NULL, NULL, sc.name, 'school', sc.school_code, sc.district_id, 1
  FROM schools AS sc
  WHERE sc.district_id = :districtId::text
    AND EXISTS (
      SELECT 1 FROM student_enrollments AS e
      WHERE e.district_id = sc.district_id AND e.school_code = sc.school_code AND e.school_year = :schoolYear::integer
    )
) AS o
ORDER BY sort_level, "sourcedId" COLLATE "C";
