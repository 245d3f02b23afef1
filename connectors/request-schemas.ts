import type { z } from 'zod';
import { eSchoolDataRequestSchema } from './eschooldata/eschooldata-request.js';
import { powerSchoolRequestSchema } from './powerschool/powerschool-request.js';

/**
 * Each API connector owns the schema of its extracts' `request:` block; the config loader asks here, so that a bad
 * request is reported by `ferry validate` with its field, like every other config problem.
 */
const SCHEMAS: Partial<Record<string, z.ZodType>> = {
  powerschool: powerSchoolRequestSchema,
  eschooldata: eSchoolDataRequestSchema,
};

export interface RequestProblem {
  field: string;
  message: string;
}

export function checkRequest(kind: string, request: unknown): RequestProblem[] {
  const schema = SCHEMAS[kind];
  if (!schema) return [{ field: '', message: `${kind} extracts cannot be read yet (no ${kind} connector is installed)` }];
  const res = schema.safeParse(request);
  if (res.success) return [];
  return res.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message }));
}
