/**
 * OneRoster 1.1 CSV binding as data: file names, headers in spec order, required values, vocabularies,
 * date fields, multi-valued fields and references between files.
 *
 * Source: ../shared/reference/sis-apis-and-formats.md §4 (4.1 packaging and data types, 4.2 manifest.csv,
 * 4.3 bulk vs delta, 4.4 exact 1.1 headers, required columns and enumerations). The 1.1 headers of
 * categories, resources, lineItems and results are marked UNCONFIRMED there; they are kept here so that a
 * bundle carrying them can be checked, but Ferry does not write them today.
 */

/** Every data file the 1.1 manifest can list, in the order the manifest lists them (§4.2). */
export const ONEROSTER_FILE_NAMES = [
  'academicSessions',
  'categories',
  'classes',
  'classResources',
  'courses',
  'courseResources',
  'demographics',
  'enrollments',
  'lineItems',
  'orgs',
  'resources',
  'results',
  'users',
] as const;
export type OneRosterFileName = (typeof ONEROSTER_FILE_NAMES)[number];

export const MANIFEST_FILE = 'manifest.csv';
export const MANIFEST_HEADER = ['propertyName', 'value'] as const;
export const MANIFEST_VERSION = '1.0';
export const ONEROSTER_VERSION = '1.1';
export const FILE_MODES = ['bulk', 'delta', 'absent'] as const;
export type FileMode = (typeof FILE_MODES)[number];
/** Optional manifest properties besides the versions and the file.* rows (§4.2). */
export const OPTIONAL_MANIFEST_PROPERTIES = ['source.systemName', 'source.systemCode'] as const;

/** `status` in delta files; `inactive` was removed from 1.1 (§4.4). */
export const STATUS_VALUES = ['active', 'tobedeleted'] as const;
export const BOOLEAN_VALUES = ['true', 'false'] as const;

/** A column whose values point at sourcedIds of another file. */
export interface ForeignKey {
  column: string;
  target: OneRosterFileName;
}

export interface OneRosterFileSpec {
  name: OneRosterFileName;
  /** Exact header names in spec order; every column must be present even when its values are blank (§4.1). */
  headers: readonly string[];
  /** Columns whose values must not be blank. */
  required: readonly string[];
  /** Closed vocabularies (booleans included), checked on non-blank values. */
  enums: Readonly<Record<string, readonly string[]>>;
  /** `YYYY-MM-DD`. */
  dates: readonly string[];
  /** ISO 8601 UTC, e.g. 2024-01-15T10:30:00.000Z. */
  datetimes: readonly string[];
  /** `YYYY` of the year in which the school year ends. */
  years: readonly string[];
  /** Comma-separated lists inside one (quoted) field. */
  multiValued: readonly string[];
  foreignKeys: readonly ForeignKey[];
}

const COMMON = ['sourcedId', 'status', 'dateLastModified'] as const;
const RACE_FLAGS = [
  'americanIndianOrAlaskaNative',
  'asian',
  'blackOrAfricanAmerican',
  'nativeHawaiianOrOtherPacificIslander',
  'white',
  'demographicRaceTwoOrMoreRaces',
  'hispanicOrLatinoEthnicity',
] as const;

type SpecInput = Omit<OneRosterFileSpec, 'headers' | 'enums' | 'datetimes' | 'dates' | 'years' | 'multiValued' | 'foreignKeys'> & {
  columns: readonly string[];
  enums?: Record<string, readonly string[]>;
  dates?: readonly string[];
  years?: readonly string[];
  multiValued?: readonly string[];
  foreignKeys?: readonly ForeignKey[];
};

/** Adds what every file shares: the three leading columns, the status vocabulary and dateLastModified. */
function defineFile(input: SpecInput): OneRosterFileSpec {
  return Object.freeze({
    name: input.name,
    headers: Object.freeze([...COMMON, ...input.columns]),
    required: Object.freeze(['sourcedId', ...input.required]),
    enums: Object.freeze({ status: STATUS_VALUES, ...input.enums }),
    dates: Object.freeze([...(input.dates ?? [])]),
    datetimes: Object.freeze(['dateLastModified']),
    years: Object.freeze([...(input.years ?? [])]),
    multiValued: Object.freeze([...(input.multiValued ?? [])]),
    foreignKeys: Object.freeze([...(input.foreignKeys ?? [])]),
  });
}

const SPECS: readonly OneRosterFileSpec[] = [
  defineFile({
    name: 'academicSessions',
    columns: ['title', 'type', 'startDate', 'endDate', 'parentSourcedId', 'schoolYear'],
    required: ['title', 'type', 'startDate', 'endDate', 'schoolYear'],
    enums: { type: ['term', 'gradingPeriod', 'schoolYear', 'semester'] },
    dates: ['startDate', 'endDate'],
    years: ['schoolYear'],
    foreignKeys: [{ column: 'parentSourcedId', target: 'academicSessions' }],
  }),
  defineFile({
    name: 'orgs',
    columns: ['name', 'type', 'identifier', 'parentSourcedId'],
    required: ['name', 'type'],
    enums: { type: ['department', 'school', 'district', 'local', 'state', 'national'] },
    foreignKeys: [{ column: 'parentSourcedId', target: 'orgs' }],
  }),
  defineFile({
    name: 'courses',
    columns: ['schoolYearSourcedId', 'title', 'courseCode', 'grades', 'orgSourcedId', 'subjects', 'subjectCodes'],
    required: ['title', 'orgSourcedId'],
    multiValued: ['grades', 'subjects', 'subjectCodes'],
    foreignKeys: [
      { column: 'orgSourcedId', target: 'orgs' },
      { column: 'schoolYearSourcedId', target: 'academicSessions' },
    ],
  }),
  defineFile({
    name: 'classes',
    columns: ['title', 'grades', 'courseSourcedId', 'classCode', 'classType', 'location', 'schoolSourcedId', 'termSourcedIds', 'subjects', 'subjectCodes', 'periods'],
    // courseSourcedId is optional in the spec but ClassLink requires it (§4.4); we write it always, so require it.
    required: ['title', 'courseSourcedId', 'classType', 'schoolSourcedId', 'termSourcedIds'],
    enums: { classType: ['homeroom', 'scheduled'] },
    multiValued: ['grades', 'termSourcedIds', 'subjects', 'subjectCodes', 'periods'],
    foreignKeys: [
      { column: 'courseSourcedId', target: 'courses' },
      { column: 'schoolSourcedId', target: 'orgs' },
      { column: 'termSourcedIds', target: 'academicSessions' },
    ],
  }),
  defineFile({
    name: 'users',
    columns: ['enabledUser', 'orgSourcedIds', 'role', 'username', 'userIds', 'givenName', 'familyName', 'middleName', 'identifier', 'email', 'sms', 'phone', 'agentSourcedIds', 'grades', 'password'],
    required: ['enabledUser', 'orgSourcedIds', 'role', 'username', 'givenName', 'familyName'],
    enums: {
      enabledUser: BOOLEAN_VALUES,
      role: ['administrator', 'aide', 'guardian', 'parent', 'proctor', 'relative', 'student', 'teacher'],
    },
    multiValued: ['orgSourcedIds', 'userIds', 'agentSourcedIds', 'grades'],
    foreignKeys: [
      { column: 'orgSourcedIds', target: 'orgs' },
      { column: 'agentSourcedIds', target: 'users' },
    ],
  }),
  defineFile({
    name: 'enrollments',
    columns: ['classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role', 'primary', 'beginDate', 'endDate'],
    required: ['classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role'],
    enums: { role: ['administrator', 'proctor', 'student', 'teacher'], primary: BOOLEAN_VALUES },
    dates: ['beginDate', 'endDate'],
    foreignKeys: [
      { column: 'userSourcedId', target: 'users' },
      { column: 'classSourcedId', target: 'classes' },
      { column: 'schoolSourcedId', target: 'orgs' },
    ],
  }),
  defineFile({
    name: 'demographics',
    columns: ['birthDate', 'sex', ...RACE_FLAGS, 'countryOfBirthCode', 'stateOfBirthAbbreviation', 'cityOfBirth', 'publicSchoolResidenceStatus'],
    required: [],
    enums: { sex: ['male', 'female'], ...Object.fromEntries(RACE_FLAGS.map((f) => [f, BOOLEAN_VALUES])) },
    dates: ['birthDate'],
    // In 1.1 a demographics record's sourcedId is the sourcedId of its user.
    foreignKeys: [{ column: 'sourcedId', target: 'users' }],
  }),
  defineFile({ name: 'categories', columns: ['title'], required: ['title'] }),
  defineFile({
    name: 'classResources',
    columns: ['title', 'classSourcedId', 'resourceSourcedId'],
    required: ['classSourcedId', 'resourceSourcedId'],
    foreignKeys: [
      { column: 'classSourcedId', target: 'classes' },
      { column: 'resourceSourcedId', target: 'resources' },
    ],
  }),
  defineFile({
    name: 'courseResources',
    columns: ['title', 'courseSourcedId', 'resourceSourcedId'],
    required: ['courseSourcedId', 'resourceSourcedId'],
    foreignKeys: [
      { column: 'courseSourcedId', target: 'courses' },
      { column: 'resourceSourcedId', target: 'resources' },
    ],
  }),
  defineFile({
    name: 'resources',
    columns: ['vendorResourceId', 'title', 'roles', 'importance', 'vendorId', 'applicationId'],
    required: ['vendorResourceId'],
    multiValued: ['roles'],
  }),
  defineFile({
    name: 'lineItems',
    columns: ['title', 'description', 'assignDate', 'dueDate', 'classSourcedId', 'categorySourcedId', 'gradingPeriodSourcedId', 'resultValueMin', 'resultValueMax'],
    required: ['title', 'assignDate', 'dueDate', 'classSourcedId', 'categorySourcedId', 'gradingPeriodSourcedId'],
    dates: ['assignDate', 'dueDate'],
    foreignKeys: [
      { column: 'classSourcedId', target: 'classes' },
      { column: 'categorySourcedId', target: 'categories' },
      { column: 'gradingPeriodSourcedId', target: 'academicSessions' },
    ],
  }),
  defineFile({
    name: 'results',
    columns: ['lineItemSourcedId', 'studentSourcedId', 'scoreStatus', 'score', 'scoreDate', 'comment'],
    required: ['lineItemSourcedId', 'studentSourcedId', 'scoreStatus'],
    // From memory of the 1.1 ScoreStatus vocabulary; not in the reference (UNCONFIRMED, like these headers).
    enums: { scoreStatus: ['exempt', 'fully graded', 'not submitted', 'partially graded', 'submitted'] },
    dates: ['scoreDate'],
    foreignKeys: [
      { column: 'lineItemSourcedId', target: 'lineItems' },
      { column: 'studentSourcedId', target: 'users' },
    ],
  }),
];

export const ONEROSTER_SPECS: ReadonlyMap<OneRosterFileName, OneRosterFileSpec> = new Map(SPECS.map((s) => [s.name, s]));

/** The spec for a file name as it appears in a bundle ("users.csv"), or undefined for anything else. */
export function specForFile(fileName: string): OneRosterFileSpec | undefined {
  if (!fileName.endsWith('.csv')) return undefined;
  return ONEROSTER_SPECS.get(fileName.slice(0, -4) as OneRosterFileName);
}
