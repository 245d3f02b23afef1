-- Lunch balances: students enrolled on the as-of date with a food-service account. The balance is written from whole
-- cents with integer arithmetic, so it is exact and always has two decimals ("-12.50", "0.05").
SELECT
  s.student_id,
  s.student_number,
  s.first_name,
  s.last_name,
  e.school_code,
  e.grade_level,
  a.account_number,
  printf('%s%d.%02d', CASE WHEN a.balance_cents < 0 THEN '-' ELSE '' END, abs(a.balance_cents) / 100, abs(a.balance_cents) % 100) AS balance,
  a.balance_date
FROM student_enrollments AS e
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
JOIN lunch_accounts AS a ON a.district_id = s.district_id AND a.student_id = s.student_id
WHERE e.district_id = :districtId
  AND e.school_year = :schoolYear
  AND (json_array_length(:buildings) = 0 OR e.school_code IN (SELECT value FROM json_each(:buildings)))
  AND e.grade_level BETWEEN :gradeMin AND :gradeMax
  AND (:activeOnly = 0 OR s.active = 1)
  AND e.entry_date <= :asOf AND (e.exit_date IS NULL OR e.exit_date > :asOf)
  AND (:belowCents IS NULL OR a.balance_cents < :belowCents)
ORDER BY e.school_code, s.last_name, s.first_name, s.student_id;
