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
 * ```
 * Only `pageNo`/`pageSize` and `pagingInfo.totalCount` are documented by an observed client (reference §2.1); which
 * other query parameters a district's API honours is not, so a filter with a `path` is always re-checked after the
 * fetch and a `param` alone is trusted only for buildings and schoolYear.
 */
const path = z.string().regex(/^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$/, 'must be a dotted field path like enrollment.buildingCode');
const param = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a query parameter name');
const target = z
  .strictObject({ param: param.optional(), path: path.optional() })
  .refine((t) => t.param !== undefined || t.path !== undefined, { message: 'give a query param, a field path, or both' });

export const eSchoolDataRequestSchema = z.strictObject({
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
});

export type ESchoolDataRequest = z.infer<typeof eSchoolDataRequestSchema>;
