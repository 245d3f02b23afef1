-- OneRoster 1.1 orgs.csv (bulk): the district first, then its schools with students enrolled in the school year.
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT [sourcedId], [status], [dateLastModified], [name], [type], [identifier], [parentSourcedId]
FROM (
  SELECT
    d.district_id AS [sourcedId],
    NULL AS [status],
    NULL AS [dateLastModified],
    d.name AS [name],
    'district' AS [type],
    -- Typed NULLs: the school rows below give these columns their type, and a bare NULL would say nothing.
    CAST(NULL AS nvarchar(100)) AS [identifier],
    CAST(NULL AS nvarchar(100)) AS [parentSourcedId],
    0 AS sort_level
  FROM ferry_districts AS d
  WHERE d.district_id = @districtId
  UNION ALL
  SELECT sc.school_code, NULL, NULL, sc.name, 'school', sc.school_code, sc.district_id, 1
  FROM ferry_schools AS sc
  WHERE sc.district_id = @districtId
    AND EXISTS (
      SELECT 1 FROM ferry_enrollments AS e
      WHERE e.district_id = sc.district_id AND e.school_code = sc.school_code AND e.school_year = @schoolYear
    )
) AS o
ORDER BY sort_level, [sourcedId] COLLATE Latin1_General_BIN2
