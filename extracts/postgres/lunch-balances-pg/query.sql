-- Lunch balances: students enrolled on the as-of date with a food-service account. numeric division is exact, and
-- round(…, 2) fixes the scale at two, so the balance is written as "-12.50", "0.05".
SELECT
  s.student_id,
  s.student_number,
  s.first_name,
  s.last_name,
  e.school_code,
  e.grade_level,
  a.account_number,
  round(a.balance_cents::numeric / 100, 2) AS balance,
  a.balance_date
FROM student_enrollments AS e
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
JOIN lunch_accounts AS a ON a.district_id = s.district_id AND a.student_id = s.student_id
WHERE e.district_id = :districtId::text
  AND e.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR e.school_code = ANY(:buildings::text[]))
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
  AND (NOT :activeOnly::boolean OR s.active)
  AND e.entry_date <= :asOf::date AND (e.exit_date IS NULL OR e.exit_date > :asOf::date)
  AND (:belowCents::integer IS NULL OR a.balance_cents < :belowCents::integer)
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY e.school_code COLLATE "C", s.last_name COLLATE "C", s.first_name COLLATE "C", s.student_id COLLATE "C";
