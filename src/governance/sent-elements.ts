import type { ColumnDef, Integration } from '../config/model.js';

/** One shipped column with the data element it carries; `file` names the bundle file it is written to. */
export interface SentColumn {
  readonly file: string | null;
  readonly column: ColumnDef;
}

/** The columns an integration actually sends: every bundle file's columns, or the extract's after the fields: allowlist. */
export function sentColumns(i: Integration): SentColumn[] {
  if (i.bundle) return i.bundle.files.flatMap((f) => f.extract.columns.map((column) => ({ file: f.name, column })));
  return i.extract.columns.map((column) => ({ file: null, column }));
}

/** The distinct data elements an integration sends, in the order its columns first carry them. */
export function sentElements(i: Integration): string[] {
  return [...new Set(sentColumns(i).flatMap(({ column }) => (column.element === undefined ? [] : [column.element])))];
}
