import type { ColumnDef, Extract } from '../config/model.js';
import { FerryError, type RunCounts } from '../core/errors.js';
import type { RowBatch } from '../core/source.js';

/**
 * What a stream of rows added up to, watched while it passes: which declared columns ever held a value (one flag per
 * column, never the rows), how many rows, and the count the source reported on its last batch (`expected`).
 *
 * A declared column of an API extract that is empty in every row almost always means its path matches nothing (a
 * misspelt path, or a field the plugin does not expose): the file would go out with that column blank for everyone.
 */
export interface StreamWatch {
  watch(batches: AsyncIterable<RowBatch>): AsyncGenerator<RowBatch>;
  readonly rows: number;
  /** The source's count, when it reported one. */
  readonly expected: number | undefined;
  /** Declared columns, not marked optional, with no value in any row; empty when no row was read. */
  emptyColumns(): ColumnDef[];
}

const isEmpty = (v: unknown) => v === null || v === undefined || v === '';

export function watchStream(columns: readonly ColumnDef[]): StreamWatch {
  const filled = new Uint8Array(columns.length);
  let rows = 0;
  let expected: number | undefined;
  let index: number[] | undefined; // column i of `columns` sits at index[i] in the batches (-1: absent)
  return {
    async *watch(batches) {
      for await (const batch of batches) {
        index ??= columns.map((c) => batch.columns.indexOf(c.name));
        if (batch.expected !== undefined) expected = batch.expected;
        rows += batch.rows.length;
        for (let c = 0; c < columns.length; c++) {
          const at = index[c]!;
          if (filled[c] || at < 0) continue;
          if (batch.rows.some((row) => !isEmpty(row[at]))) filled[c] = 1;
        }
        yield batch;
      }
    },
    get rows() {
      return rows;
    },
    get expected() {
      return expected;
    },
    emptyColumns() {
      return rows === 0 ? [] : columns.filter((c, i) => !filled[i] && !c.optional);
    },
  };
}

/** The column and its source path, e.g. `middle_name (path name.middle_name)`. */
export function describeColumn(c: ColumnDef): string {
  return `${c.name} (path ${c.path ?? c.name})`;
}

/** `ferry preview` and `ferry test-connection`: the same finding as a warning, over the rows they read. */
export function emptyColumnsWarning(integrationId: string, extract: Pick<Extract, 'name'>, empty: readonly ColumnDef[], rows: number): string {
  const one = empty.length === 1;
  return `warning: integration ${integrationId}: column${one ? '' : 's'} ${empty.map(describeColumn).join(', ')} ${one ? 'is' : 'are'} empty in all ${rows} rows read; a run fails on ${one ? 'it' : 'them'} unless the path is fixed in extract ${extract.name} or the column is marked optional: true`;
}

/** The run's failure for declared columns empty in every row. */
export function emptyColumnsError(integrationId: string, extract: Pick<Extract, 'name'>, empty: readonly ColumnDef[], counts: RunCounts, bundleFile?: string): FerryError {
  const { rows } = counts;
  const list = empty.map(describeColumn).join(', ');
  const one = empty.length === 1;
  const where = bundleFile === undefined ? '' : `${bundleFile} (extract ${extract.name}): `;
  return new FerryError(
    'columns',
    `integration ${integrationId}: ${where}column${one ? '' : 's'} ${list} ${one ? 'is' : 'are'} empty in every one of ${rows} rows, so nothing was delivered; fix the path in extract ${extract.name}, or mark the column optional: true if it may be empty`,
    { integration: integrationId, counts, field: `${bundleFile === undefined ? '' : `bundle.files.${bundleFile}.`}columns.${empty[0]!.name}` },
  );
}
