-- Clever enrollments.csv: section rosters on the as-of date. The student conditions are those of clever-students-pg and
-- the section conditions those of clever-sections-pg, so the references between the files hold.
SELECT
  sec.school_code AS "School_id",
  sec.section_id AS "Section_id",
  se.student_id AS "Student_id"
FROM section_enrollments AS se
JOIN sections AS sec ON sec.district_id = se.district_id AND sec.section_id = se.section_id
JOIN staff AS st ON st.district_id = sec.district_id AND st.staff_id = sec.teacher_staff_id
JOIN student_enrollments AS e ON e.district_id = se.district_id AND e.student_id = se.student_id
JOIN students AS s ON s.district_id = e.district_id AND s.student_id = e.student_id
WHERE se.district_id = :districtId::text
  AND sec.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR sec.school_code = ANY(:buildings::text[]))
  AND st.active
  AND se.entry_date <= :asOf::date AND (se.exit_date IS NULL OR se.exit_date > :asOf::date)
  AND e.school_year = :schoolYear::integer
  AND (cardinality(:buildings::text[]) = 0 OR e.school_code = ANY(:buildings::text[]))
  AND e.grade_level BETWEEN :gradeMin::integer AND :gradeMax::integer
  AND (NOT :activeOnly::boolean OR s.active)
  AND e.entry_date <= :asOf::date AND (e.exit_date IS NULL OR e.exit_date > :asOf::date)
-- COLLATE "C" sorts by code point, as SQLite does, so both sources give the same row order.
ORDER BY sec.school_code COLLATE "C", sec.section_id COLLATE "C", se.student_id COLLATE "C";
