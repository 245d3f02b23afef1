/**
 * The demo SIS schema, written once and rendered as SQLite or PostgreSQL DDL,
 * so both copies of the demo database have the same tables, columns and keys.
 */

export type DemoColumnType = 'text' | 'integer' | 'date' | 'boolean' | 'timestamp';

export interface DemoColumn {
  readonly name: string;
  readonly type: DemoColumnType;
  readonly nullable?: boolean;
}

export interface DemoForeignKey {
  readonly columns: readonly string[];
  readonly table: string;
  readonly references: readonly string[];
}

export interface DemoTable {
  readonly name: string;
  readonly columns: readonly DemoColumn[];
  readonly primaryKey: readonly string[];
  readonly foreignKeys?: readonly DemoForeignKey[];
  readonly indexes?: readonly (readonly string[])[];
}

const text = (name: string, nullable = false): DemoColumn => ({ name, type: 'text', nullable });
const int = (name: string, nullable = false): DemoColumn => ({ name, type: 'integer', nullable });
const date = (name: string, nullable = false): DemoColumn => ({ name, type: 'date', nullable });
const bool = (name: string): DemoColumn => ({ name, type: 'boolean' });
const districtId = text('district_id');
const updatedAt: DemoColumn = { name: 'updated_at', type: 'timestamp' };

const inDistrict = (table: string, ...cols: string[]): DemoForeignKey => ({
  columns: ['district_id', ...cols],
  table,
  references: ['district_id', ...cols],
});

/** In dependency order: a table only references tables listed before it. */
export const DEMO_SIS_TABLES: readonly DemoTable[] = [
  {
    name: 'districts',
    columns: [districtId, text('name'), text('state_code'), text('time_zone'), updatedAt],
    primaryKey: ['district_id'],
  },
  {
    name: 'schools',
    columns: [districtId, text('school_code'), text('name'), int('low_grade'), int('high_grade'), text('phone'), updatedAt],
    primaryKey: ['district_id', 'school_code'],
    foreignKeys: [{ columns: ['district_id'], table: 'districts', references: ['district_id'] }],
  },
  {
    name: 'students',
    columns: [
      districtId,
      text('student_id'),
      text('student_number'),
      text('state_id'),
      text('first_name'),
      text('middle_name', true),
      text('last_name'),
      text('name_suffix', true),
      text('display_name'),
      text('gender'),
      date('birth_date'),
      text('email', true),
      bool('active'),
      updatedAt,
    ],
    primaryKey: ['district_id', 'student_id'],
    foreignKeys: [{ columns: ['district_id'], table: 'districts', references: ['district_id'] }],
  },
  {
    // One row per student per school year (and per stay, should a student leave and return).
    name: 'student_enrollments',
    columns: [
      districtId,
      text('student_id'),
      int('school_year'),
      text('school_code'),
      int('grade_level'),
      date('entry_date'),
      date('exit_date', true),
      updatedAt,
    ],
    primaryKey: ['district_id', 'student_id', 'school_year', 'entry_date'],
    foreignKeys: [inDistrict('students', 'student_id'), inDistrict('schools', 'school_code')],
    indexes: [['district_id', 'school_year', 'school_code', 'grade_level']],
  },
  {
    name: 'staff',
    columns: [
      districtId,
      text('staff_id'),
      text('first_name'),
      text('last_name'),
      text('email'),
      text('title'),
      text('department'),
      text('school_code', true), // NULL for district-office staff
      text('phone'),
      bool('active'),
      updatedAt,
    ],
    primaryKey: ['district_id', 'staff_id'],
    foreignKeys: [inDistrict('schools', 'school_code')],
  },
  {
    name: 'courses',
    columns: [districtId, text('course_code'), text('name'), text('subject'), int('grade_level'), updatedAt],
    primaryKey: ['district_id', 'course_code'],
    foreignKeys: [{ columns: ['district_id'], table: 'districts', references: ['district_id'] }],
  },
  {
    name: 'sections',
    columns: [
      districtId,
      text('section_id'),
      int('school_year'),
      text('school_code'),
      text('course_code'),
      text('teacher_staff_id'),
      text('period'),
      text('room'),
      updatedAt,
    ],
    primaryKey: ['district_id', 'section_id'],
    foreignKeys: [
      inDistrict('schools', 'school_code'),
      inDistrict('courses', 'course_code'),
      { columns: ['district_id', 'teacher_staff_id'], table: 'staff', references: ['district_id', 'staff_id'] },
    ],
  },
  {
    name: 'section_enrollments',
    columns: [districtId, text('section_id'), text('student_id'), date('entry_date'), date('exit_date', true), updatedAt],
    primaryKey: ['district_id', 'section_id', 'student_id'],
    foreignKeys: [inDistrict('sections', 'section_id'), inDistrict('students', 'student_id')],
    indexes: [['district_id', 'student_id']],
  },
  {
    name: 'guardians',
    columns: [districtId, text('guardian_id'), text('first_name'), text('last_name'), text('phone'), text('email', true), updatedAt],
    primaryKey: ['district_id', 'guardian_id'],
    foreignKeys: [{ columns: ['district_id'], table: 'districts', references: ['district_id'] }],
  },
  {
    name: 'student_guardians',
    columns: [
      districtId,
      text('student_id'),
      text('guardian_id'),
      text('relationship'),
      int('contact_priority'),
      bool('receives_correspondence'),
      updatedAt,
    ],
    primaryKey: ['district_id', 'student_id', 'guardian_id'],
    foreignKeys: [inDistrict('students', 'student_id'), inDistrict('guardians', 'guardian_id')],
    indexes: [['district_id', 'guardian_id']],
  },
  {
    // The food-service account per student; a negative balance is money owed (calling systems remind families).
    name: 'lunch_accounts',
    columns: [districtId, text('student_id'), text('account_number'), int('balance_cents'), date('balance_date'), updatedAt],
    primaryKey: ['district_id', 'student_id'],
    foreignKeys: [inDistrict('students', 'student_id')],
  },
  {
    // Daily attendance exceptions: one row per student per school day that is not "present" (the way an SIS stores
    // daily marks). code: A absent, AE excused absence, T tardy, TE excused tardy, D early dismissal.
    name: 'daily_attendance',
    columns: [districtId, text('student_id'), date('attendance_date'), text('school_code'), text('code'), bool('excused'), updatedAt],
    primaryKey: ['district_id', 'student_id', 'attendance_date'],
    foreignKeys: [inDistrict('students', 'student_id'), inDistrict('schools', 'school_code')],
    indexes: [['district_id', 'attendance_date']],
  },
];

/** Bumped whenever the tables or the generator change; an older demo SIS file is rebuilt. */
export const DEMO_SIS_VERSION = 2;

export type Dialect = 'sqlite' | 'postgres';

function columnDdl(col: DemoColumn, dialect: Dialect): string {
  const nullSql = col.nullable ? '' : ' NOT NULL';
  if (dialect === 'postgres') {
    const pgType = { text: 'text', integer: 'integer', date: 'date', boolean: 'boolean', timestamp: 'timestamptz' }[col.type];
    return `${col.name} ${pgType}${nullSql}`;
  }
  // SQLite has no date or boolean type; the CHECKs keep the stored text and 0/1 in the shapes the extracts rely on.
  switch (col.type) {
    case 'text':
      return `${col.name} TEXT${nullSql}`;
    case 'integer':
      return `${col.name} INTEGER${nullSql}`;
    case 'boolean':
      return `${col.name} INTEGER${nullSql} CHECK (${col.name} IN (0, 1))`;
    case 'date':
      return `${col.name} TEXT${nullSql} CHECK (${col.name} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]')`;
    case 'timestamp':
      return `${col.name} TEXT${nullSql} CHECK (${col.name} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z')`;
  }
}

function tableDdl(table: DemoTable, dialect: Dialect): string {
  const lines = table.columns.map((c) => columnDdl(c, dialect));
  lines.push(`PRIMARY KEY (${table.primaryKey.join(', ')})`);
  for (const fk of table.foreignKeys ?? []) {
    lines.push(`FOREIGN KEY (${fk.columns.join(', ')}) REFERENCES ${fk.table} (${fk.references.join(', ')})`);
  }
  const strict = dialect === 'sqlite' ? ' STRICT' : '';
  const statements = [`CREATE TABLE ${table.name} (\n  ${lines.join(',\n  ')}\n)${strict};`];
  for (const cols of table.indexes ?? []) {
    statements.push(`CREATE INDEX ${table.name}_${cols.slice(1).join('_')}_idx ON ${table.name} (${cols.join(', ')});`);
  }
  return statements.join('\n');
}

export function demoSisSchema(dialect: Dialect): string {
  return DEMO_SIS_TABLES.map((t) => tableDdl(t, dialect)).join('\n\n') + '\n';
}

export function demoSisSchemaForSqlite(): string {
  return demoSisSchema('sqlite');
}

export function demoSisSchemaForPostgres(): string {
  return demoSisSchema('postgres');
}
