/**
 * A strict RFC 4180 reader for checking files we did not write: comma-separated, fields optionally in double
 * quotes with "" for a quote, records ended by CRLF or LF, one optional line break at the end of the file.
 * It reports the first malformed record instead of guessing, and its message never quotes the text.
 */
export interface ParsedCsv {
  records: string[][];
  /** 1-based record number (the header is record 1) of the first malformed record; records holds those before it. */
  error?: { row: number; message: string };
}

export function parseCsv(text: string): ParsedCsv {
  const records: string[][] = [];
  const reader = new CsvReader((r) => records.push(r));
  reader.push(text);
  reader.end();
  return reader.error ? { records, error: reader.error } : { records };
}

/** No OneRoster or Clever record comes near this; a longer one is a broken file (an unclosed quote) or a bomb. */
export const MAX_RECORD_CHARS = 1024 * 1024;

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The same reader fed text in pieces of any size (a stream), handing over each record as it completes. Only the
 * unfinished record is kept between pieces, so memory is one record however big the file; a record longer than
 * `maxRecordChars` is an error. After an error, the rest of the text is ignored.
 */
export class CsvReader {
  /** Records handed over so far. */
  records = 0;
  error?: { row: number; message: string };
  private carry = '';

  constructor(
    private readonly onRecord: (fields: string[]) => void,
    private readonly maxRecordChars = MAX_RECORD_CHARS,
  ) {}

  push(text: string): void {
    if (this.error || text.length === 0) return;
    const buf = this.carry.length > 0 ? this.carry + text : text;
    const rest = this.scan(buf, false);
    this.carry = this.error ? '' : buf.slice(rest);
    if (this.carry.length > this.maxRecordChars) {
      this.carry = '';
      this.fail(`a record is longer than ${this.maxRecordChars} characters`);
    }
  }

  /** The end of the text: what is left is the last record. */
  end(): void {
    if (this.error || this.carry.length === 0) return;
    const buf = this.carry;
    this.carry = '';
    this.scan(buf, true);
  }

  private fail(message: string): number {
    this.error = { row: this.records + 1, message };
    return 0;
  }

  private emit(record: string[]): void {
    this.records++;
    this.onRecord(record);
  }

  /**
   * Reads whole records from `text`; returns where the first unfinished one starts (text.length when none is).
   * Unless `final`, a record is unfinished when the text ends before its line break could be told apart from more of
   * it (an open quote, a quote that may be doubled, a CR that may be a CRLF).
   */
  private scan(text: string, final: boolean): number {
    const n = text.length;
    let start = 0;
    let record: string[] = [];
    let pos = 0;
    for (;;) {
      let field: string;
      if (text.charCodeAt(pos) === QUOTE) {
        field = '';
        let p = pos + 1;
        for (;;) {
          const q = text.indexOf('"', p);
          if (q < 0 || (q + 1 >= n && !final)) {
            if (!final) return start;
            return this.fail('a quoted field is never closed');
          }
          field += text.slice(p, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            field += '"';
            p = q + 2;
            continue;
          }
          pos = q + 1;
          break;
        }
      } else {
        let p = pos;
        for (; p < n; p++) {
          const c = text.charCodeAt(p);
          if (c === COMMA || c === LF || c === CR) break;
          if (c === QUOTE) return this.fail('a double quote appears inside an unquoted field');
        }
        if (p >= n && !final) return start;
        field = text.slice(pos, p);
        pos = p;
      }
      record.push(field);
      if (pos >= n) {
        if (!final) return start;
        this.emit(record);
        return n;
      }
      const c = text.charCodeAt(pos);
      if (c === COMMA) {
        pos++;
        continue;
      }
      if (c === CR && pos + 1 >= n && !final) return start;
      if (c === CR && text.charCodeAt(pos + 1) === LF) pos += 2;
      else if (c === LF) pos++;
      else return this.fail(c === CR ? 'a record ends with a bare CR' : 'a quoted field has text after its closing quote');
      this.emit(record);
      record = [];
      start = pos;
      if (pos >= n) return n;
    }
  }
}
