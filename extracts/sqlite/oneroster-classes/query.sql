-- OneRoster 1.1 classes.csv (bulk): one class per section of the school year.
SELECT
  sec.section_id AS "sourcedId",
  NULL AS "status",
  NULL AS "dateLastModified",
  c.name || ' - Section ' || substr(sec.section_id, -2) AS "title",
  CASE c.grade_level WHEN -1 THEN 'PK' WHEN 0 THEN 'KG' ELSE printf('%02d', c.grade_level) END AS "grades",
  sec.course_code AS "courseSourcedId",
  sec.section_id AS "classCode",
  CASE WHEN c.subject = 'homeroom' THEN 'homeroom' ELSE 'scheduled' END AS "classType",
  sec.room AS "location",
  sec.school_code AS "schoolSourcedId",
  sec.district_id || '-' || CAST(:schoolYear AS INTEGER) AS "termSourcedIds",
  CASE WHEN c.subject = 'homeroom' THEN NULL ELSE c.subject END AS "subjects",
  NULL AS "subjectCodes",
  sec.period AS "periods"
FROM sections AS sec
JOIN courses AS c ON c.district_id = sec.district_id AND c.course_code = sec.course_code
WHERE sec.district_id = :districtId
  AND sec.school_year = :schoolYear
ORDER BY sec.school_code, sec.section_id;
