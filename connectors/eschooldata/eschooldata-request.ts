import { z } from 'zod';

/**
 * The `request:` block of an eSchoolData (GURU API) extract.
 *
 * ```yaml
 * request:
 *   endpoint: students                 # relative to the source's apiBase; must be enabled for the district
 *   params: { includeInactive: true }  # extra static query parameters; "{{param}}" takes a bound parameter
 *   filters:
 *     schoolYear: { param: schoolYear, path: schoolYear }      # sent as ?schoolYear=2027, re-checked on each record
 *     buildings:  { param: buildingCode, path: buildingCode }  # sent when exactly one building, else checked after
 *     grades: gradeLevel                                        # checked after the fetch ("PK", "K", "01" … understood)
 *     activeOnly: { path: studentStatus, active: [Active], param: studentStatus }
 *   each: contacts                     # one row per element of this array (see below)
 *   where:                             # kept only when every condition holds (checked after the fetch)
 *     title: [Teacher]                 # the value is one of these
 *     buildingCode: { not: [""] }      # … or is none of these ("" is a missing value)
 *     contacts.receivesCorrespondence: { in: [true], when: correspondenceOnly }  # only while that boolean param is true
 *   columns:                           # how a column gets its value when its `path` is not enough
 *     role: { value: student }                                     # a constant ("{{param}}" takes a bound parameter)
 *     grades: { path: gradeLevel, map: { K: KG } }                 # a value looked up in a table; others pass through
 *     enabledUser: { path: studentStatus, map: { Active: "true" }, default: "false" }  # default: unmatched or missing
 *     sourcedId: { join: [sectionId, roster.studentId], separator: "-" }               # non-empty values joined
 *     username: { first: [email, districtStudentId] }              # the first non-empty value
 * ```
 *
 * Several endpoints make one file with `parts:`, a list of such blocks read one after the other, their rows
 * concatenated in order (OneRoster's users.csv is students then teachers). Each part has its own endpoint, filters,
 * `where`, `each` and `columns`; a column a part does not name in `columns` takes the column's own `path` (or name).
 *
 * `each: roster` reads one row per element of the record's `roster` array; in that row the path `roster` names the
 * element, so `roster.studentId` is the element's field and `sectionId` still the record's. Filters and `where` see
 * the flattened row, and a record whose array is missing or empty yields no row.
 *
 * Only `pageNo`/`pageSize` and `pagingInfo.totalCount` are documented by an observed client (reference §2.1); which
 * other query parameters a district's API honours is not, so a filter with a `path` is always re-checked after the
 * fetch and a `param` alone is trusted only for buildings and schoolYear.
 */
const path = z.string().regex(/^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$/, 'must be a dotted field path like enrollment.buildingCode');
const param = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a query parameter name');
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const target = z
  .strictObject({ param: param.optional(), path: path.optional() })
  .refine((t) => t.param !== undefined || t.path !== undefined, { message: 'give a query param, a field path, or both' });

/** An operand of `join` and `first`: a field path, or `{ value: constant }`. */
const operand = z.union([path, z.strictObject({ value: scalar })], { error: 'must be a field path or { value: constant }' });

export const columnSourceSchema = z
  .strictObject({
    path: path.optional(),
    value: scalar.optional(),
    join: z.array(operand).min(1).optional(),
    /** Between joined values; default none. */
    separator: z.string().optional(),
    first: z.array(operand).min(2, 'give at least two candidates').optional(),
    /** Looked up by the value's text; a value not in the table passes through unless `default` is given. */
    map: z.record(z.string(), scalar).optional(),
    /** Used for a missing value and, with `map`, for a value not in the table. */
    default: scalar.optional(),
  })
  .superRefine((c, ctx) => {
    const given = (['path', 'value', 'join', 'first'] as const).filter((k) => c[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of path, value, join or first' });
    if (c.separator !== undefined && c.join === undefined) ctx.addIssue({ code: 'custom', path: ['separator'], message: 'only applies to join' });
  });
export type ColumnSource = z.infer<typeof columnSourceSchema>;

const condition = z.union(
  [
    z.array(scalar).min(1),
    z
      .strictObject({ in: z.array(scalar).min(1).optional(), not: z.array(scalar).min(1).optional(), when: param.optional() })
      .refine((c) => (c.in === undefined) !== (c.not === undefined), { message: 'give in or not' }),
  ],
  { error: 'must be a list of values or { in | not: [values], when?: booleanParam }' },
);
export type WhereCondition = z.infer<typeof condition>;

const partFields = {
  endpoint: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'must be an endpoint path relative to apiBase, such as students'),
  params: z
    .record(param, z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .refine((p) => !('pageNo' in p) && !('pageSize' in p), { message: 'pageNo and pageSize are set by Ferry' }),
  /** Key of the record list in each page. */
  recordsKey: z.string().min(1).default('data'),
  filters: z
    .strictObject({
      schoolYear: target.optional(),
      buildings: target.optional(),
      grades: path.optional(),
      activeOnly: z.strictObject({ path, active: z.array(z.union([z.string(), z.number()])).min(1), param: param.optional() }).optional(),
      asOf: z.strictObject({ entry: path, exit: path }).optional(),
    })
    .default({}),
  each: path.optional(),
  where: z.record(path, condition).default({}),
  columns: z.record(z.string().min(1), columnSourceSchema).default({}),
};

export const eSchoolDataPartSchema = z.strictObject(partFields);
export type ESchoolDataPart = z.infer<typeof eSchoolDataPartSchema>;

const partsSchema = z.strictObject({ parts: z.array(eSchoolDataPartSchema).min(1, 'must list at least one part') });

/** Either one part written at the top level or `parts: [...]`; both come out as `{ parts }`. */
export const eSchoolDataRequestSchema = z.unknown().transform((raw, ctx): { parts: ESchoolDataPart[] } => {
  const multi = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'parts' in raw;
  const res = multi ? partsSchema.safeParse(raw) : eSchoolDataPartSchema.safeParse(raw);
  if (!res.success) {
    for (const issue of res.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [...issue.path] });
    return z.NEVER;
  }
  return 'parts' in res.data ? res.data : { parts: [res.data] };
});

export type ESchoolDataRequest = z.infer<typeof eSchoolDataRequestSchema>;
