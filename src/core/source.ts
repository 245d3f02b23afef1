import type { Logger } from 'winston';
import type { ColumnDef } from '../config/model.js';
import type { FormatOptions } from '../config/schema.js';

/** A value as a source driver hands it over; the format layer turns it into text using the declared column type. */
export type CellValue = string | number | bigint | boolean | Date | Buffer | null | undefined;

/** A batch of rows. `columns` is the same array for every batch of one stream. */
export interface RowBatch {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly CellValue[])[];
  /**
   * API sources, on the last batch: the records the source's own count said it holds (before Ferry's filters), which
   * the read was reconciled against. Absent for SQL sources, where the rows are the count.
   */
  readonly expected?: number | undefined;
}

/**
 * A query ready for the driver: SQL text with `:name` placeholders and the values to bind.
 * Values are never pasted into the text; each connector turns placeholders into its driver's own binding.
 */
export interface BoundQuery {
  /** SQL for database sources; empty for API sources. */
  readonly text: string;
  readonly values: Readonly<Record<string, BindValue>>;
  /** For API sources: the extract's `request:` block (validated by the connector's own schema at load time). */
  readonly request?: Readonly<Record<string, unknown>> | undefined;
  /** The declared output columns; API sources map record fields onto them (`path`). */
  readonly columns?: readonly ColumnDef[] | undefined;
}
export type BindValue = string | number | boolean | null | readonly string[] | readonly number[];

export interface StreamOptions {
  signal?: AbortSignal;
  /** Rows per batch; a hint. */
  batchSize?: number;
  logger?: Logger;
}

export interface ConnectionInfo {
  /** e.g. "PostgreSQL 15.8" */
  server: string;
  details?: Record<string, string | number>;
}

export interface CsvCopyRequest {
  query: BoundQuery;
  /** The columns to write, in order: the integration's allowed fields. */
  columns: readonly ColumnDef[];
  /** Declared columns the query returns but the integration does not ship; they are left out of the COPY. */
  withheld?: readonly string[] | undefined;
  format: FormatOptions;
  signal?: AbortSignal;
}

/** CSV records written by the source itself: no header, each row ending in LF, byte-identical to Ferry's writer. */
export interface CsvCopyStream {
  body: AsyncIterable<Buffer>;
  /** Rows written; final once `body` is exhausted. */
  rowCount(): number;
}

/** What the core needs from any source kind. Optional capabilities are optional methods. */
export interface Source {
  readonly kind: string;
  /** Stream the rows of a query, batch by batch; always at least one batch (possibly empty) so the columns are known. Stops (and releases the connection) when the consumer stops or the signal aborts. */
  stream(query: BoundQuery, options?: StreamOptions): AsyncIterable<RowBatch>;
  /**
   * Optional fast path: the database writes the CSV itself. Returns undefined when it cannot match Ferry's CSV rules
   * for these columns exactly; the pipeline then streams rows instead.
   */
  copyCsv?(request: CsvCopyRequest): Promise<CsvCopyStream | undefined>;
  /** Check reachability and credentials without reading student data. */
  testConnection?(options?: { signal?: AbortSignal }): Promise<ConnectionInfo>;
  close(): Promise<void>;
}
