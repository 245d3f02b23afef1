-- OneRoster 1.1 academicSessions.csv (bulk). The views hold no terms, so the school year is the only session and
-- classes name it in termSourcedIds. Dates are the New York school year, 1 July to 30 June, written as YYYY-MM-DD text.
SELECT
  CONCAT(d.district_id, '-', @schoolYear) AS [sourcedId],
  NULL AS [status],
  NULL AS [dateLastModified],
  CONCAT(@schoolYear - 1, '-', @schoolYear) AS [title],
  'schoolYear' AS [type],
  CONCAT(@schoolYear - 1, '-07-01') AS [startDate],
  CONCAT(@schoolYear, '-06-30') AS [endDate],
  NULL AS [parentSourcedId],
  CONCAT('', @schoolYear) AS [schoolYear]
FROM ferry_districts AS d
WHERE d.district_id = @districtId
  AND EXISTS (SELECT 1 FROM ferry_enrollments AS e WHERE e.district_id = d.district_id AND e.school_year = @schoolYear)
