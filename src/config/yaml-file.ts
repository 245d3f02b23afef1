import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';

/** Reading config files: YAML with line and column in errors, zod with field paths, paths shown the short way. */
/** Paths under the working folder are shown relative to it, others in full. */
export function displayPath(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === '' || r.startsWith('..') ? p : r;
}

export type AddProblem = (file: string, field: string, message: string) => void;

export function readYaml(file: string, add: AddProblem): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    add(file, '', (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`);
    return undefined;
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      add(file, pos ? `line ${pos.line}, column ${pos.col}` : '', `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    return undefined;
  }
  return doc.toJS() ?? null;
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string, prefix: string, add: AddProblem): z.infer<T> | undefined {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  for (const issue of res.error.issues) {
    const field = [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
      .filter((s) => s !== '')
      .join('.')
      .replace(/\.\[/g, '[');
    add(file, field, issue.message);
  }
  return undefined;
}

/**
 * Parse an object schema field by field: every problem is reported (as parseWith does), and each field that is valid
 * on its own is kept, so that checks which need only those fields (references, parameters) still run and their
 * problems are reported in the same pass. `ok` is whether the whole value parsed.
 */
export function parsePartial<T extends z.ZodObject>(schema: T, value: unknown, file: string, prefix: string, add: AddProblem): { data: Partial<z.infer<T>>; ok: boolean } {
  const whole = parseWith(schema, value, file, prefix, add);
  if (whole !== undefined) return { data: whole, ok: true };
  const data: Record<string, unknown> = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const raw = value as Record<string, unknown>;
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const res = field.safeParse(raw[key]);
      if (res.success) data[key] = res.data;
    }
  }
  return { data: data as Partial<z.infer<T>>, ok: false };
}
