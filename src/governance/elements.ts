/**
 * The data elements a column may carry: the NDPA Schedule of Data (Exhibit B, SDPC/A4L NDPA v1r6–1r7), the
 * vocabulary districts, vendors and the SDPC registry already use, plus the staff elements a district's agreement for
 * staff data lists, and a few tags for columns that carry no personal data (a school's name, a course title).
 *
 * A tag is "Category" (a category with one element, e.g. `Student Name`) or "Category/element"
 * (e.g. `Student Identifiers/local ID`). Category names may hold a slash themselves (`Parent/Guardian Name`), so a tag
 * is looked up whole, never split.
 */
export type ElementGroup = 'student' | 'parent' | 'staff' | 'none';

export interface DataElement {
  /** The tag as written in an extract: "Category" or "Category/element". */
  readonly tag: string;
  readonly category: string;
  readonly element: string | null;
  readonly group: ElementGroup;
}

const STUDENT: Record<string, readonly string[] | null> = {
  'Application Technology Meta Data': ['IP addresses', 'other application technology meta data'],
  'Application Use Statistics': null,
  Assessment: ['standardized test scores', 'observation data', 'other assessment data'],
  Attendance: ['student school daily attendance', 'student class attendance'],
  Communications: null,
  Conduct: null,
  Demographics: ['date of birth', 'place of birth', 'gender', 'ethnicity or race', 'language information', 'other demographic information'],
  Enrollment: ['student school enrollment', 'student grade level', 'homeroom', 'guidance counselor', 'specific curriculum programs', 'year of graduation', 'other enrollment information'],
  Schedule: ['student scheduled courses', 'teacher names'],
  'Special Indicator': ['English language learner information', 'low income status', 'medical alerts / health data', 'student disability information', 'specialized education services', 'living situations', 'other indicator information'],
  'Student Contact Information': ['address', 'email', 'phone'],
  'Student Identifiers': ['local ID', 'state ID', 'provider/app assigned student ID', 'student app username', 'student app passwords'],
  'Student Name': null,
  'Student In App Performance': null,
  'Student Program Membership': null,
  'Student Survey Responses': null,
  'Student Work': null,
  Transcript: ['student course grades', 'student course data', 'other transcript data'],
  Transportation: ['student bus assignment', 'student pick up and/or drop off location', 'student bus card ID', 'other transportation data'],
  Other: null,
};

const PARENT: Record<string, readonly string[] | null> = {
  'Parent/Guardian Contact Information': ['address', 'email', 'phone'],
  'Parent/Guardian ID': null,
  'Parent/Guardian Name': null,
};

// Staff data is outside the NDPA's student schedule; districts' staff agreements list these.
const STAFF: Record<string, readonly string[] | null> = {
  'Staff Name': null,
  'Staff Identifiers': ['local ID', 'state ID', 'app username'],
  'Staff Contact Information': ['email', 'phone'],
  'Staff Employment': ['building', 'title', 'other employment information'],
};

const NONE: Record<string, readonly string[] | null> = {
  'Not personal data': ['school or district information', 'course or class information', 'calendar information', 'other'],
};

function build(): Map<string, DataElement> {
  const out = new Map<string, DataElement>();
  const add = (group: ElementGroup, table: Record<string, readonly string[] | null>) => {
    for (const [category, elements] of Object.entries(table)) {
      if (elements === null) out.set(category, Object.freeze({ tag: category, category, element: null, group }));
      else for (const element of elements) out.set(`${category}/${element}`, Object.freeze({ tag: `${category}/${element}`, category, element, group }));
    }
  };
  add('student', STUDENT);
  add('parent', PARENT);
  add('staff', STAFF);
  add('none', NONE);
  return out;
}

export const DATA_ELEMENTS: ReadonlyMap<string, DataElement> = build();

/** The element a tag names, or undefined. */
export function dataElement(tag: string): DataElement | undefined {
  return DATA_ELEMENTS.get(tag);
}

/**
 * Does an agreement that covers `covered` (tags, or whole categories) cover this element? A category in an agreement
 * covers every element of it; "Other" never covers more than itself.
 */
export function covers(covered: Iterable<string>, element: DataElement): boolean {
  for (const c of covered) if (c === element.tag || c === element.category) return true;
  return false;
}

/** Close tags, for "did you mean": by shared letter pairs (Dice), so a typo ("Student Nmae") still finds its tag. */
export function suggestElements(tag: string, limit = 3): string[] {
  const pairs = (t: string) => {
    const x = t.toLowerCase().replace(/\s+/g, ' ');
    const out = new Map<string, number>();
    for (let i = 0; i < x.length - 1; i++) out.set(x.slice(i, i + 2), (out.get(x.slice(i, i + 2)) ?? 0) + 1);
    return out;
  };
  const dice = (a: Map<string, number>, b: Map<string, number>) => {
    let shared = 0;
    let total = 0;
    for (const [k, n] of a) {
      shared += Math.min(n, b.get(k) ?? 0);
      total += n;
    }
    for (const n of b.values()) total += n;
    return total === 0 ? 0 : (2 * shared) / total;
  };
  const want = pairs(tag);
  return [...DATA_ELEMENTS.keys()]
    .map((t) => ({ t, score: Math.max(dice(want, pairs(t)), dice(want, pairs(DATA_ELEMENTS.get(t)!.category))) }))
    .filter((x) => x.score >= 0.4)
    .sort((a, b) => b.score - a.score || a.t.localeCompare(b.t))
    .slice(0, limit)
    .map((x) => x.t);
}
