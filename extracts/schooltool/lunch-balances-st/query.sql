-- Lunch balances: students enrolled on the as-of date with a food-service account. The balance is written from whole
-- cents with integer arithmetic, so it is exact and always has two decimals ("-12.50", "0.05").
-- COLLATE Latin1_General_BIN2 sorts by code point (SQL Server's default collation ignores case), as the SQLite and
-- PostgreSQL twins do, so every source gives the same row order.
SELECT
  s.student_id,
  s.student_number,
  s.first_name,
  s.last_name,
  e.school_code,
  e.grade_level,
  a.account_number,
  CONCAT(
    CASE WHEN a.balance_cents < 0 THEN '-' ELSE '' END,
    ABS(a.balance_cents) / 100,
    '.',
    CASE WHEN ABS(a.balance_cents) % 100 < 10 THEN '0' ELSE '' END,
    ABS(a.balance_cents) % 100
  ) AS balance,
  a.balance_date
FROM ferry_enrollments AS e
JOIN ferry_students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
JOIN ferry_lunch_accounts AS a ON a.district_id = s.district_id AND a.student_id = s.student_id
WHERE e.district_id = @districtId
  AND e.school_year = @schoolYear
  AND (@buildings = '' OR e.school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))
  AND e.grade_level BETWEEN @gradeMin AND @gradeMax
  AND (@activeOnly = 0 OR s.active = 1)
  AND e.entry_date <= @asOf AND (e.exit_date IS NULL OR e.exit_date > @asOf)
  AND (@belowCents IS NULL OR a.balance_cents < @belowCents)
ORDER BY e.school_code COLLATE Latin1_General_BIN2, s.last_name COLLATE Latin1_General_BIN2,
  s.first_name COLLATE Latin1_General_BIN2, s.student_id COLLATE Latin1_General_BIN2
