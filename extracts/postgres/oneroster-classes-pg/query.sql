-- OneRoster 1.1 classes.csv (bulk): one class per section of the school year.
SELECT
  sec.section_id AS "sourcedId",
  NULL::text AS "status",
  NULL::text AS "dateLastModified",
  c.name || ' - Section ' || right(sec.section_id, 2) AS "title",
  CASE c.grade_level WHEN -1 THEN 'PK' WHEN 0 THEN 'KG' ELSE lpad(c.grade_level::text, 2, '0') END AS "grades",
  sec.course_code AS "courseSourcedId",
  sec.section_id AS "classCode",
  CASE WHEN c.subject = 'homeroom' THEN 'homeroom' ELSE 'scheduled' END AS "classType",
  sec.room AS "location",
  sec.school_code AS "schoolSourcedId",
  sec.district_id || '-' || CAST(:schoolYear::integer AS text) AS "termSourcedIds",
  CASE WHEN c.subject = 'homeroom' THEN NULL ELSE c.subject END AS "subjects",
  NULL::text AS "subjectCodes",
  sec.period AS "periods"
FROM sections AS sec
JOIN courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
WHERE sec.district_id = :districtId::text
  AND sec.school_year = :schoolYear::integer
ORDER BY sec.school_code COLLATE "C", sec.section_id COLLATE "C";
