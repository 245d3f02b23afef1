import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ColumnDef } from '../../src/config/model.js';
import { formatSchema } from '../../src/config/schema.js';
import type { FormatOptions } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import type { CellValue, RowBatch } from '../../src/core/source.js';
import { encodeCsv } from '../../src/formats/csv.js';

/**
 * The golden files in test/golden/ are written by hand: they are what a vendor must receive, byte for byte.
 * They are never regenerated from the encoder.
 */
const GOLDEN = path.join(import.meta.dirname, '..', 'golden');

async function* batchesOf(...batches: RowBatch[]): AsyncGenerator<RowBatch> {
  for (const b of batches) yield b;
}

async function encode(columns: readonly ColumnDef[], format: Partial<FormatOptions>, ...batches: RowBatch[]): Promise<string> {
  let text = '';
  for await (const chunk of encodeCsv(batchesOf(...batches), columns, formatSchema.parse(format), 'test-integration', { rows: 0 })) text += chunk;
  return text;
}

/** Both as text (for a readable diff) and as bytes (so encoding and BOM count too). */
function expectGolden(text: string, file: string): void {
  const golden = fs.readFileSync(path.join(GOLDEN, file));
  expect(text).toBe(golden.toString('utf8'));
  expect(Buffer.from(text, 'utf8').equals(golden)).toBe(true);
}

async function encodeError(columns: readonly ColumnDef[], ...batches: RowBatch[]): Promise<FerryError> {
  const err = await encode(columns, {}, ...batches).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  return err as FerryError;
}

const col = (name: string, type: ColumnDef['type']): ColumnDef => ({ name, type });

describe('encodeCsv', () => {
  it('writes the default format (comma, CRLF, header, true/false) with RFC 4180 quoting, in the declared column order', async () => {
    const columns = [
      col('id', 'integer'),
      col('name', 'string'),
      col('note', 'string'),
      col('birth_date', 'date'),
      col('updated_at', 'timestamp'),
      col('active', 'boolean'),
    ];
    // The source returns the columns in another order, and the rows in two batches.
    const sourceColumns = ['active', 'updated_at', 'birth_date', 'note', 'name', 'id'];
    const row = (id: CellValue, name: CellValue, note: CellValue, birth: CellValue, updated: CellValue, active: CellValue): CellValue[] => [
      active,
      updated,
      birth,
      note,
      name,
      id,
    ];
    const text = await encode(
      columns,
      {},
      {
        columns: sourceColumns,
        rows: [
          row(1, 'Zoë Müller', 'plain', '2026-03-04', '2026-08-29 16:28:56+00', true),
          row(2n, 'José "Pepe" García', 'Main St, Apt 4', new Date(Date.UTC(2026, 2, 4)), '2026-08-29T16:28:56Z', false),
          row(3, 'Ana 🎒', 'line one\nline two', null, '2026-08-29 16:28:56+05:30', 't'),
        ],
      },
      {
        columns: sourceColumns,
        rows: [
          row('4', 'Li', 'windows\r\nbreak', undefined, new Date('2026-08-29T16:28:56Z'), 'f'),
          row(5, '', 'old mac\rbreak', '2026-03-04 00:00:00', '2026-08-29 16:28-04', 1),
          row(9007199254740993n, 'Big', null, new Date(Date.UTC(2026, 11, 31)), '2026-08-29T16:28:56Z', 0),
        ],
      },
    );
    expectGolden(text, 'basic-crlf.csv');
  });

  it('writes tab-separated LF output with configured booleans, quoting tabs, quotes, LF and CR but not commas', async () => {
    const columns = [col('code', 'string'), col('name', 'string'), col('active', 'boolean'), col('grade', 'integer')];
    const text = await encode(
      columns,
      { delimiter: '\t', lineEnding: 'lf', booleans: ['Y', 'N'] },
      {
        columns: ['code', 'name', 'active', 'grade'],
        rows: [
          ['HES', 'Hilltop, Elementary', true, -1],
          ['HMS', 'tab\there', false, 0],
          ['HHS', 'say "hi"', 'f', 12n],
          ['XYZ', 'two\nlines', 't', null],
          ['CR', 'carriage\rreturn', 'false', '5'],
        ],
      },
    );
    expectGolden(text, 'tsv-lf.tsv');
  });

  it('starts with a UTF-8 BOM when asked, and quotes the semicolon delimiter', async () => {
    const columns = [col('name', 'string'), col('city', 'string'), col('ok', 'boolean')];
    const text = await encode(
      columns,
      { delimiter: ';', bom: true },
      { columns: ['name', 'city', 'ok'], rows: [['Zoë', 'Albany; NY', false], ['José', 'Troy, NY', true]] },
    );
    expectGolden(text, 'bom.csv');
  });

  it('writes no BOM by default', async () => {
    const text = await encode([col('name', 'string')], {}, { columns: ['name'], rows: [['Zoë']] });
    expect(text).toBe('name\r\nZoë\r\n');
    expect(Buffer.from(text, 'utf8')[0]).toBe(0x6e);
  });

  it('writes just the header for an empty result, and nothing at all without a header', async () => {
    const columns = [col('a', 'string'), col('b,c', 'string')];
    expect(await encode(columns, {}, { columns: ['a', 'b,c'], rows: [] })).toBe('a,"b,c"\r\n');
    expect(await encode(columns, { header: false }, { columns: ['a', 'b,c'], rows: [] })).toBe('');
  });

  it('never writes false as an empty field, whatever the source sends', async () => {
    for (const booleans of [undefined, ['Y', 'N'] as [string, string]]) {
      const no = booleans?.[1] ?? 'false';
      const text = await encode(
        [col('flag', 'boolean')],
        { header: false, lineEnding: 'lf', ...(booleans ? { booleans } : {}) },
        { columns: ['flag'], rows: [[false], [0], [0n], ['f'], ['false'], ['0'], [null]] },
      );
      expect(text).toBe(`${no}\n${no}\n${no}\n${no}\n${no}\n${no}\n\n`);
    }
  });

  it('writes a DATE as the calendar day, never epoch milliseconds or a locale string', async () => {
    const text = await encode(
      [col('d', 'date')],
      { header: false, lineEnding: 'lf' },
      { columns: ['d'], rows: [['2026-03-04'], [new Date(Date.UTC(2026, 2, 4))], ['2026-03-04T00:00:00']] },
    );
    expect(text).toBe('2026-03-04\n2026-03-04\n2026-03-04\n');
  });

  it('writes dates as MM/DD/YYYY when the format asks (Clever), from text and from a driver Date alike', async () => {
    const text = await encode(
      [col('d', 'date'), col('n', 'string')],
      { header: false, lineEnding: 'lf', dateFormat: 'MM/DD/YYYY' },
      { columns: ['d', 'n'], rows: [['2026-03-04', 'a'], [new Date(Date.UTC(2019, 11, 31)), 'b'], [null, 'c']] },
    );
    expect(text).toBe('03/04/2026,a\n12/31/2019,b\n,c\n');
  });

  it.each<[string, CellValue]>([
    ['text that is not a date', 'abc'],
    ['epoch milliseconds', Date.UTC(2026, 2, 4)],
    ['a Date that is not midnight', new Date('2026-03-04T15:45:00Z')],
    ['an invalid Date', new Date('nonsense')],
  ])('refuses %s in a date column', async (_what, value) => {
    const err = await encodeError([col('d', 'date')], { columns: ['d'], rows: [[value]] });
    expect(err.kind).toBe('format');
  });

  it('names the column and the row of a bad value, counting across batches, without the value itself', async () => {
    const columns = [col('student_id', 'string'), col('birth_date', 'date')];
    const err = await encodeError(
      columns,
      { columns: ['student_id', 'birth_date'], rows: [['s1', '2010-01-01'], ['s2', '2010-01-02']] },
      { columns: ['student_id', 'birth_date'], rows: [['s3', 'Zoe-Private-Value']] },
    );
    expect(err.kind).toBe('format');
    expect(err.integration).toBe('test-integration');
    expect(err.message).toContain('column birth_date');
    expect(err.message).toContain('row 3');
    expect(err.message).not.toContain('Zoe-Private-Value');
    expect(err.message).not.toContain('s3');
  });

  it.each<[ColumnDef['type'], CellValue]>([
    ['integer', 1.5],
    ['integer', '12a'],
    ['boolean', 'maybe'],
    ['boolean', 2],
    ['timestamp', '29/08/2026 16:28'],
    ['timestamp', 1788020936000],
    ['decimal', Number.NaN],
    ['string', Buffer.from('binary')],
  ])('refuses a value that breaks its %s column (%s)', async (type, value) => {
    const err = await encodeError([col('c', type)], { columns: ['c'], rows: [[value]] });
    expect(err.kind).toBe('format');
    expect(err.message).toContain('column c, row 1');
  });

  it('refuses a result whose columns do not match the declared ones, naming them', async () => {
    const columns = [col('id', 'string'), col('name', 'string'), col('birth_date', 'date')];
    const err = await encodeError(columns, { columns: ['id', 'name', 'ssn'], rows: [['1', 'Zoë', '123-45-6789']] });
    expect(err.kind).toBe('columns');
    expect(err.message).toContain('missing birth_date');
    expect(err.message).toContain('not declared ssn');
    expect(err.message).not.toContain('123-45-6789');
  });

  it('counts the rows it wrote', async () => {
    const stats = { rows: 0 };
    const chunks: string[] = [];
    const batches = batchesOf({ columns: ['a'], rows: [['1'], ['2']] }, { columns: ['a'], rows: [['3']] });
    for await (const chunk of encodeCsv(batches, [col('a', 'string')], formatSchema.parse({}), 'x', stats)) chunks.push(chunk);
    expect(stats.rows).toBe(3);
    expect(chunks.join('')).toBe('a\r\n1\r\n2\r\n3\r\n');
  });
});
