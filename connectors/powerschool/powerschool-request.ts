import { z } from 'zod';
import { filterPathsSchema } from '../http/standard-filters.js';

/**
 * The `request:` block of a PowerSchool extract: either a `/ws/v1` resource or a PowerQuery.
 *
 * ```yaml
 * request:
 *   resource: /ws/v1/district/student        # or /ws/v1/school/{schoolId}/student ({name} = a bound parameter)
 *   expansions: [demographics, school_enrollment]
 *   q: "school_enrollment.enroll_status==A"  # optional static FIQL filter
 *   filters:
 *     grades: school_enrollment.grade_level           # pushed into q as =ge= / =le=
 *     buildings: school_enrollment.school_number      # checked after the fetch (q has no IN operator)
 *     activeOnly: { path: school_enrollment.enroll_status, active: [A] }   # one value → pushed into q
 * ```
 * or
 * ```yaml
 * request:
 *   powerQuery: com.pearson.core.student.search.get_student_basic_info
 *   args: { school_number: "{{school}}" }    # JSON body; "{{param}}" takes a bound parameter
 *   filters: { grades: grade_level }          # PowerQuery records are flat; every filter is checked after the fetch
 * ```
 * schoolYear and asOf: checked after the fetch when `filters.schoolYear` / `filters.asOf: {entry, exit}` name the
 * fields, otherwise not applied (a /ws/v1 student resource describes current enrolment).
 */
const resourcePath = z
  .string()
  .regex(/^\/ws\/v1\/[A-Za-z0-9_]+(\/([A-Za-z0-9_]+|\{[A-Za-z][A-Za-z0-9]*\}))*$/, 'must be a /ws/v1/… resource path such as /ws/v1/district/student')
  .refine((p) => !p.endsWith('/count'), 'name the collection, not its /count');
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower-case PowerSchool name');

export const powerSchoolRequestSchema = z
  .strictObject({
    resource: resourcePath.optional(),
    powerQuery: z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$/, 'must be a dotted PowerQuery name').optional(),
    /** PowerQuery arguments (the JSON body). */
    args: z.record(z.string(), z.unknown()).default({}),
    expansions: z.array(name).default([]),
    extensions: z.array(name).default([]),
    q: z.string().min(1).optional(),
    /** Singular record key of a /ws/v1 resource; default: its last path segment (student → students.student). */
    recordKey: name.optional(),
    filters: filterPathsSchema.default({}),
  })
  .refine((r) => (r.resource === undefined) !== (r.powerQuery === undefined), { message: 'give either resource or powerQuery' })
  .refine((r) => r.powerQuery === undefined || (r.q === undefined && r.expansions.length === 0), {
    message: 'q and expansions apply to /ws/v1 resources, not PowerQueries',
  })
  .refine((r) => r.powerQuery !== undefined || Object.keys(r.args).length === 0, { message: 'args apply to PowerQueries only', path: ['args'] });

export type PowerSchoolRequest = z.infer<typeof powerSchoolRequestSchema>;
