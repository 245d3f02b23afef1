import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { RowBatch } from '../../src/core/source.js';
import { encodeCsv } from '../../src/formats/csv.js';
import { formatSchema } from '../../src/config/schema.js';

/**
 * Ferry's hot path quotes fields itself (csv-stringify doubled the time of a 1M-row extract). csv-stringify stays as
 * the reference: on random text full of delimiters, quotes, CR, LF and non-ASCII, both must write the same bytes.
 */
function mulberry32(seed: number) {
  return () => {
    let t = (seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ALPHABET = ['a', 'Z', '0', ' ', ',', ';', '|', '\t', '"', '\r', '\n', 'é', 'ß', '🙂', "'", '\\', '.'];

async function collect(gen: AsyncIterable<string>): Promise<string> {
  let s = '';
  for await (const c of gen) s += c;
  return s;
}

describe('CSV quoting matches csv-stringify', () => {
  for (const delimiter of [',', '\t', ';', '|'] as const) {
    for (const lineEnding of ['crlf', 'lf'] as const) {
      it(`delimiter ${JSON.stringify(delimiter)}, ${lineEnding}`, async () => {
        const rand = mulberry32(delimiter.charCodeAt(0) * 7 + lineEnding.length);
        const cell = () => (rand() < 0.1 ? null : Array.from({ length: Math.floor(rand() * 8) }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join(''));
        const rows = Array.from({ length: 400 }, () => [cell(), cell(), cell()]);
        const columns = [
          { name: 'a', type: 'string' as const },
          { name: 'b,"x"', type: 'string' as const },
          { name: 'c', type: 'string' as const },
        ];
        const format = formatSchema.parse({ delimiter, lineEnding });
        async function* batches(): AsyncGenerator<RowBatch> {
          yield { columns: columns.map((c) => c.name), rows: rows.slice(0, 150) };
          yield { columns: columns.map((c) => c.name), rows: rows.slice(150) };
        }
        const ours = await collect(encodeCsv(batches(), columns, format, 'oracle', { rows: 0 }));
        const reference = stringify([columns.map((c) => c.name), ...rows], {
          delimiter,
          record_delimiter: lineEnding === 'crlf' ? '\r\n' : '\n',
          quote_record_delimiter: true,
        });
        expect(ours).toBe(reference);
      });
    }
  }
});
