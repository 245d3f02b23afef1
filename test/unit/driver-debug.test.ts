import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { DRIVER_DEBUG_FILE, recordDriverText } from '../../src/logging/driver-debug.js';
import { tempDir } from '../helpers/cli.js';

describe('driver debug log', () => {
  const failure = () =>
    new FerryError('source_query', 'source sis: PostgreSQL at db:5432 could not handle a value in the data (SQLSTATE 22P02)', {
      cause: Object.assign(new Error('invalid input syntax for type integer: "Maria"'), { code: '22P02' }),
    });

  it('is off by default: nothing is written', () => {
    const logDir = path.join(tempDir('ferry-debug-'), 'logs');
    recordDriverText({ debugLog: false, logDir }, { runId: 1, integration: 'i' }, failure());
    expect(fs.existsSync(path.join(logDir, DRIVER_DEBUG_FILE))).toBe(false);
  });

  it('when on, keeps the driver text with the run id, readable by the owner only', () => {
    const logDir = path.join(tempDir('ferry-debug-'), 'logs');
    recordDriverText({ debugLog: true, logDir }, { runId: 7, integration: 'hilltop' }, failure());
    const file = path.join(logDir, DRIVER_DEBUG_FILE);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ runId: 7, integration: 'hilltop', errorKind: 'source_query', causes: [{ name: 'Error', code: '22P02', message: 'invalid input syntax for type integer: "Maria"' }] });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });
});
