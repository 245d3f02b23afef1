/**
 * Clever SFTP CSV set as data: file names, known column names, required columns, MM/DD/YYYY date columns,
 * id columns and references between files.
 *
 * Source: ../shared/reference/sis-apis-and-formats.md §5. Confirmed there: the file names (case-sensitive),
 * the header row is required and its names must match exactly, column order does not matter, quotes are
 * optional, only active records. The column sets come from Genesis SIS's Clever export plus the extra student
 * columns the reference lists "in spec". UNCONFIRMED in the reference (kept as it marks them): the required
 * fields ("from memory of spec v2.x"); the Grade vocabulary (not checked here); how many Teacher_N_id columns
 * sections.csv may carry (the reference writes `Teacher_2_id…`; Teacher_2_id to Teacher_10_id are accepted here).
 * The reference says nothing about a byte order mark, so a BOM is not reported.
 */

export const CLEVER_FILE_NAMES = ['schools', 'students', 'teachers', 'sections', 'enrollments', 'staff'] as const;
export type CleverFileName = (typeof CLEVER_FILE_NAMES)[number];

export interface CleverForeignKey {
  column: string;
  target: CleverFileName;
}

export interface CleverFileSpec {
  name: CleverFileName;
  /** Every known column, spelled as Clever spells them (case-sensitive). Order does not matter (§5). */
  columns: readonly string[];
  /** Columns that must be in the header and hold a value on every row [UNCONFIRMED in §5]. */
  required: readonly string[];
  /** `MM/DD/YYYY`. */
  dates: readonly string[];
  /** The column whose values must be unique within the file, if any. */
  id?: string;
  foreignKeys: readonly CleverForeignKey[];
}

/** sections.csv: Teacher_2_id… (§5; the upper bound is not in the reference). */
const EXTRA_TEACHERS = Array.from({ length: 9 }, (_, i) => `Teacher_${i + 2}_id`);

const SPECS: readonly CleverFileSpec[] = [
  {
    name: 'schools',
    columns: [
      'School_id', 'School_name', 'School_number', 'State_id', 'Nces_id', 'Low_grade', 'High_grade', 'Principal',
      'Principal_email', 'School_address', 'School_city', 'School_state', 'School_zip', 'School_phone',
    ],
    required: ['School_id', 'School_name', 'School_number'],
    dates: [],
    id: 'School_id',
    foreignKeys: [],
  },
  {
    name: 'students',
    columns: [
      'School_id', 'Student_id', 'Student_number', 'State_id', 'Last_name', 'Middle_name', 'First_name', 'Gender', 'Dob',
      'Grade', 'Race', 'Hispanic_Latino', 'Ell_status', 'Frl_status', 'Iep_status', 'Student_zip', 'Student_email',
      'Contact_name', 'Contact_type', 'Contact_phone', 'Contact_email', 'Username', 'Password',
      'Graduation_year', 'Home_language', 'Contact_relationship', 'Contact_sis_id',
    ],
    required: ['School_id', 'Student_id', 'Last_name', 'First_name'],
    dates: ['Dob'],
    id: 'Student_id',
    foreignKeys: [{ column: 'School_id', target: 'schools' }],
  },
  {
    name: 'teachers',
    columns: [
      'School_id', 'Teacher_id', 'Teacher_number', 'State_teacher_id', 'Last_name', 'Middle_name', 'First_name',
      'Teacher_email', 'Title', 'Username', 'Password',
    ],
    required: ['School_id', 'Teacher_id', 'Last_name', 'First_name'],
    dates: [],
    id: 'Teacher_id',
    foreignKeys: [{ column: 'School_id', target: 'schools' }],
  },
  {
    name: 'sections',
    columns: [
      'School_id', 'Section_id', 'Teacher_id', ...EXTRA_TEACHERS, 'Name', 'Section_number', 'Grade', 'Course_name',
      'Course_number', 'Course_description', 'Period', 'Subject', 'Term_name', 'Term_start', 'Term_end',
    ],
    required: ['School_id', 'Section_id', 'Teacher_id'],
    dates: ['Term_start', 'Term_end'],
    id: 'Section_id',
    foreignKeys: [
      { column: 'School_id', target: 'schools' },
      { column: 'Teacher_id', target: 'teachers' },
      ...EXTRA_TEACHERS.map((column) => ({ column, target: 'teachers' as const })),
    ],
  },
  {
    name: 'enrollments',
    columns: ['School_id', 'Section_id', 'Student_id'],
    required: ['School_id', 'Section_id', 'Student_id'],
    dates: [],
    foreignKeys: [
      { column: 'School_id', target: 'schools' },
      { column: 'Section_id', target: 'sections' },
      { column: 'Student_id', target: 'students' },
    ],
  },
  {
    name: 'staff',
    columns: ['School_id', 'Staff_id', 'Staff_email', 'First_name', 'Last_name', 'Department', 'Title', 'Username', 'Password', 'Role'],
    required: ['School_id', 'Staff_id', 'Staff_email', 'First_name', 'Last_name'],
    dates: [],
    id: 'Staff_id',
    foreignKeys: [{ column: 'School_id', target: 'schools' }],
  },
];

export const CLEVER_SPECS: ReadonlyMap<CleverFileName, CleverFileSpec> = new Map(SPECS.map((s) => [s.name, s]));

/** The spec for an exact Clever file name such as `students.csv` (case-sensitive), or undefined. */
export function cleverSpecForFile(fileName: string): CleverFileSpec | undefined {
  if (!fileName.endsWith('.csv')) return undefined;
  return CLEVER_SPECS.get(fileName.slice(0, -4) as CleverFileName);
}
