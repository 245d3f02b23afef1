-- OneRoster 1.1 courses.csv (bulk): courses are district-wide in the demo SIS, so orgSourcedId is the district.
SELECT
  c.course_code AS "sourcedId",
  NULL::text AS "status",
  NULL::text AS "dateLastModified",
  c.district_id || '-' || CAST(:schoolYear::integer AS text) AS "schoolYearSourcedId",
  c.name AS "title",
  c.course_code AS "courseCode",
  CASE c.grade_level WHEN -1 THEN 'PK' WHEN 0 THEN 'KG' ELSE lpad(c.grade_level::text, 2, '0') END AS "grades",
  c.district_id AS "orgSourcedId",
  CASE WHEN c.subject = 'homeroom' THEN NULL ELSE c.subject END AS "subjects",
  NULL::text AS "subjectCodes"
FROM courses AS c
WHERE c.district_id = :districtId::text
  AND EXISTS (
    SELECT 1 FROM sections AS sec
    WHERE sec.district_id = c.district_id AND sec.course_code = c.course_code AND sec.school_year = :schoolYear::integer
  )
ORDER BY c.course_code COLLATE "C";
