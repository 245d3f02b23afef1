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
  const n = text.length;
  if (n === 0) return { records };
  const fail = (message: string): ParsedCsv => ({ records, error: { row: records.length + 1, message } });
  let record: string[] = [];
  let pos = 0;
  for (;;) {
    let field: string;
    if (text.charCodeAt(pos) === 0x22) {
      field = '';
      let p = pos + 1;
      for (;;) {
        const q = text.indexOf('"', p);
        if (q < 0) return fail('a quoted field is never closed');
        field += text.slice(p, q);
        if (text.charCodeAt(q + 1) === 0x22) {
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
        if (c === 0x2c || c === 0x0a || c === 0x0d) break;
        if (c === 0x22) return fail('a double quote appears inside an unquoted field');
      }
      field = text.slice(pos, p);
      pos = p;
    }
    record.push(field);
    if (pos >= n) break;
    const c = text.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      continue;
    }
    if (c === 0x0d && text.charCodeAt(pos + 1) === 0x0a) pos += 2;
    else if (c === 0x0a) pos++;
    else return fail(c === 0x0d ? 'a record ends with a bare CR' : 'a quoted field has text after its closing quote');
    records.push(record);
    record = [];
    if (pos >= n) return { records };
  }
  records.push(record);
  return { records };
}
