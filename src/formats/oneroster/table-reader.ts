import { CsvReader } from './parse-csv.js';
import { ProblemList } from './problems.js';

/** What a format checks in one data file, row by row. */
export interface TableRules {
  /** The header row ([] when the file has none); its problems go to `problems`. Called once, before any row. */
  header(header: readonly string[], problems: ProblemList): void;
  /** One data row (row 2 is the first after the header). */
  row(cells: readonly string[], row: number, problems: ProblemList): void;
  /** The whole file has been read. */
  end?(): void;
}

/**
 * One data file read as a stream of text: records go to the format's rules as they complete, and nothing but the
 * unfinished record is kept. Problems are kept apart by section and come out in the order a whole-file read reported
 * them: the BOM, the malformed record (reported once the file ends), field counts, the header, then the rows. Each
 * section keeps the first `max`, so the merged list holds the same first `max` as before.
 */
export class TableReader {
  private readonly bom: ProblemList;
  private readonly malformed: ProblemList;
  private readonly fields: ProblemList;
  private readonly headerProblems: ProblemList;
  private readonly rowProblems: ProblemList;
  private readonly sections: readonly ProblemList[];
  private readonly reader: CsvReader;
  private started = false;
  private width = -1;

  constructor(
    readonly fileName: string,
    /** The message for a leading byte order mark, or undefined to drop it without a word. */
    private readonly bomMessage: string | undefined,
    max: number,
    private readonly rules: TableRules,
  ) {
    this.sections = [
      (this.bom = new ProblemList(max)),
      (this.malformed = new ProblemList(max)),
      (this.fields = new ProblemList(max)),
      (this.headerProblems = new ProblemList(max)),
      (this.rowProblems = new ProblemList(max)),
    ];
    this.reader = new CsvReader((record) => this.record(record));
  }

  /** Data rows read (the header is not one). */
  get rows(): number {
    return Math.max(0, this.reader.records - 1);
  }

  push(text: string): void {
    if (text.length === 0) return;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) {
        if (this.bomMessage !== undefined) this.bom.add('bom', this.fileName, this.bomMessage, { row: 1 });
        text = text.slice(1);
      }
    }
    this.reader.push(text);
  }

  end(): void {
    this.reader.end();
    if (this.width < 0) this.header([]);
    const error = this.reader.error;
    if (error) this.malformed.add('csv', this.fileName, `${error.message}; later rows were not checked`, { row: error.row });
    this.rules.end?.();
  }

  /** This file's problems, in report order. */
  drainInto(problems: ProblemList): void {
    for (const list of this.sections) problems.absorb(list);
  }

  private header(header: readonly string[]): void {
    this.width = header.length;
    this.rules.header(header, this.headerProblems);
  }

  private record(cells: string[]): void {
    if (this.width < 0) return this.header(cells);
    const row = this.reader.records;
    if (cells.length !== this.width) this.fields.add('csv', this.fileName, `has ${cells.length} fields; the header has ${this.width}`, { row });
    this.rules.row(cells, row, this.rowProblems);
  }
}
