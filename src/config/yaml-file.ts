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
