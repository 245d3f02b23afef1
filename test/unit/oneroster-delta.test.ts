import { describe, expect, it } from 'vitest';
import { computeDeltaFile } from '../../src/formats/oneroster/delta.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';

const STAMP = '2026-11-23T07:30:00.000Z';
const header = 'sourcedId,status,dateLastModified,name,type';

describe('computeDeltaFile', () => {
  it('writes new and changed rows as active and gone rows as tobedeleted (with their last values), leaving unchanged rows out', () => {
    const baseline = [header, 'A,,,Alpha,school', 'B,,,"Beta, Inc",school', 'C,,,Gamma,school'].join('\r\n') + '\r\n';
    const today = [header, 'A,,,Alpha,school', 'B,,,"Beta ""2""",school', 'D,,,Delta,district'].join('\r\n') + '\r\n';
    const d = computeDeltaFile('orgs.csv', baseline, today, STAMP);
    expect(d).toMatchObject({ changed: 2, deleted: 1 });
    expect(d.text).toBe(
      [header, `B,active,${STAMP},"Beta ""2""",school`, `D,active,${STAMP},Delta,district`, `C,tobedeleted,${STAMP},Gamma,school`].join('\r\n') + '\r\n',
    );
  });

  it('sends every row as active when there is no baseline for the file, and only the header when nothing changed', () => {
    const today = [header, 'A,,,Alpha,school'].join('\r\n') + '\r\n';
    expect(computeDeltaFile('orgs.csv', undefined, today, STAMP).text).toBe(`${header}\r\nA,active,${STAMP},Alpha,school\r\n`);
    expect(computeDeltaFile('orgs.csv', today, today, STAMP)).toEqual({ text: `${header}\r\n`, changed: 0, deleted: 0 });
  });

  it('matches columns by name, so a baseline with another column order still compares', () => {
    const baseline = ['sourcedId,status,dateLastModified,type,name', 'A,,,school,Alpha'].join('\r\n');
    const today = [header, 'A,,,Alpha,school'].join('\r\n');
    expect(computeDeltaFile('orgs.csv', baseline, today, STAMP).changed).toBe(0);
    const parsed = parseCsv(computeDeltaFile('orgs.csv', baseline, [header, 'A,,,Alpha,district'].join('\r\n'), STAMP).text).records;
    expect(parsed).toEqual([header.split(','), ['A', 'active', STAMP, 'Alpha', 'district']]);
  });
});
