/** Fixed inputs for the demo SIS generator: the two fictional districts and the (obviously fake) name pools. */

export const CURRENT_SCHOOL_YEAR = 2027; // 2026-27
export const PRIOR_SCHOOL_YEAR = 2026;

export interface DemoSchoolSpec {
  readonly code: string;
  readonly name: string;
  readonly low: number;
  readonly high: number;
  readonly elementary: boolean;
}

export interface DemoDistrictSpec {
  readonly id: string;
  readonly name: string;
  readonly letter: string;
  readonly stateDigit: number;
  readonly domain: string;
  readonly areaCode: string;
  readonly seed: number;
  readonly firstDay: string;
  readonly schools: readonly DemoSchoolSpec[];
}

export const DEMO_DISTRICTS: readonly DemoDistrictSpec[] = [
  {
    id: 'hilltop-csd',
    name: 'Hilltop Central School District (DEMO)',
    letter: 'H',
    stateDigit: 1,
    domain: 'hilltop.example.org',
    areaCode: '518',
    seed: 0x48117017,
    firstDay: '2026-09-02',
    schools: [
      // Hilltop's elementary also houses a small pre-K program, so grade -1 appears in the data.
      { code: 'HES', name: 'Hilltop Elementary School (DEMO)', low: -1, high: 5, elementary: true },
      { code: 'HMS', name: 'Hilltop Middle School (DEMO)', low: 6, high: 8, elementary: false },
      { code: 'HHS', name: 'Hilltop High School (DEMO)', low: 9, high: 12, elementary: false },
    ],
  },
  {
    id: 'riverbend-ufsd',
    name: 'Riverbend Union Free School District (DEMO)',
    letter: 'R',
    stateDigit: 2,
    domain: 'riverbend.example.org',
    areaCode: '607',
    seed: 0x21feb3d0,
    firstDay: '2026-09-03',
    schools: [
      { code: 'RES', name: 'Riverbend Elementary School (DEMO)', low: 0, high: 6, elementary: true },
      { code: 'RHS', name: 'Riverbend Junior-Senior High School (DEMO)', low: 7, high: 12, elementary: false },
    ],
  },
];

export const FEMALE_NAMES = [
  'Ada', 'Beatrix', 'Chloé', 'Delia', 'Elsie', 'Fern', 'Greta', 'Hazel', 'Iris',
  'Juno', 'Lena', 'Maple', 'Nora', 'Opal', 'Renée', 'Tess', 'Wren', 'Zoë',
] as const;
export const MALE_NAMES = [
  'Abel', 'Barnaby', 'Björn', 'Cyrus', 'Dorian', 'Ellis', 'Felix', 'Gideon', 'Hugo',
  'Ivo', 'Jasper', 'José', 'Linus', 'Milo', 'Otto', 'Rufus', 'Silas', 'Tobin',
] as const;
export const NEUTRAL_NAMES = ['Ari', 'Blair', 'Emery', 'Jordan', 'Quinn', 'Reese', 'Rowan', 'Sasha'] as const;

export const SURNAMES = [
  'Sample', 'Testwood', 'Demoson', 'Placeholder', 'Fakeley', 'Mockford', 'Dummington', 'Exampleton',
  'Stubfield', 'Fixture', 'Pretendworth', 'Notreal', 'Specimen', 'Prototype', 'Mockingham', 'Dataworth',
  'Testström', 'Van Demoson', 'Sample-Testwood', "O'Sample", "O'Testwood", 'McFakerson',
] as const;

export type Sex = 'F' | 'M';
/** Guardian sets for a new family; repeats weight the draw toward the common cases. */
export const FAMILY_SHAPES: readonly (readonly (readonly [relationship: string, sex: Sex])[])[] = [
  [['Mother', 'F'], ['Father', 'M']],
  [['Mother', 'F'], ['Father', 'M']],
  [['Mother', 'F'], ['Father', 'M']],
  [['Mother', 'F'], ['Father', 'M']],
  [['Mother', 'F']],
  [['Mother', 'F']],
  [['Father', 'M']],
  [['Mother', 'F'], ['Stepfather', 'M']],
  [['Father', 'M'], ['Stepmother', 'F']],
  [['Mother', 'F'], ['Mother', 'F']],
  [['Father', 'M'], ['Father', 'M']],
  [['Grandmother', 'F'], ['Grandfather', 'M']],
  [['Guardian', 'F']],
  [['Aunt', 'F'], ['Uncle', 'M']],
];

export interface CourseTemplate {
  readonly prefix: string;
  readonly subject: string;
  readonly name: (grade: number) => string;
}

const gradeName = (g: number): string => (g === -1 ? 'Pre-Kindergarten' : g === 0 ? 'Kindergarten' : `Grade ${g}`);
const byGrade = (names: Record<number, string>, fallback: string) => (g: number) => names[g] ?? `${fallback} ${g}`;

/** Self-contained classrooms: the homeroom's department is the grade itself, one teacher per section. */
export const HOMEROOM: CourseTemplate = { prefix: 'HR', subject: 'homeroom', name: (g) => `${gradeName(g)} Homeroom` };
export const homeroomDepartment = gradeName;

export const ELEMENTARY_SPECIALS: readonly CourseTemplate[] = [
  { prefix: 'ART', subject: 'Art', name: (g) => `Art (${gradeName(g)})` },
  { prefix: 'MUS', subject: 'Music', name: (g) => `General Music (${gradeName(g)})` },
  { prefix: 'PE', subject: 'Physical Education', name: (g) => `Physical Education (${gradeName(g)})` },
];

export const SECONDARY_COURSES: readonly CourseTemplate[] = [
  { prefix: 'MATH', subject: 'Mathematics', name: byGrade({ 9: 'Algebra I', 10: 'Geometry', 11: 'Algebra II', 12: 'Precalculus' }, 'Math') },
  { prefix: 'ENG', subject: 'English', name: byGrade({}, 'English') },
  {
    prefix: 'SCI',
    subject: 'Science',
    name: byGrade({ 9: 'Living Environment', 10: 'Earth Science', 11: 'Chemistry', 12: 'Physics' }, 'Science'),
  },
  {
    prefix: 'SS',
    subject: 'Social Studies',
    name: byGrade({ 9: 'Global History I', 10: 'Global History II', 11: 'US History', 12: 'Participation in Government' }, 'Social Studies'),
  },
  { prefix: 'PE', subject: 'Physical Education', name: byGrade({}, 'Physical Education') },
  { prefix: 'SPAN', subject: 'World Languages', name: byGrade({ 6: 'Exploring Languages', 7: 'Spanish 1A', 8: 'Spanish 1B', 9: 'Spanish II', 10: 'Spanish III', 11: 'Spanish IV', 12: 'Spanish V' }, 'Spanish') },
];

/** Non-teaching positions per building (and for the district office, school_code NULL). */
export const BUILDING_POSITIONS: readonly (readonly [title: string, department: string])[] = [
  ['Principal', 'Administration'],
  ['Secretary', 'Administration'],
  ['School Counselor', 'Student Services'],
];
export const HIGH_SCHOOL_POSITIONS: readonly (readonly [title: string, department: string])[] = [
  ['Assistant Principal', 'Administration'],
  ['School Nurse', 'Health Services'],
];
export const DISTRICT_OFFICE_POSITIONS: readonly (readonly [title: string, department: string])[] = [
  ['Superintendent', 'Administration'],
  ['Technology Coordinator', 'Technology'],
];
