import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createLogger, setLogLevel } from '../../src/logging/logger.js';
import { tempDir } from '../helpers/cli.js';

it('setLogLevel changes what the file and every child logger write, while the logger runs', async () => {
  const file = path.join(tempDir('ferry-log-level-'), 'logs', 'ferry.log');
  const logger = createLogger({ level: 'info', file });
  const child = logger.child({ component: 'scheduler' }); // made before the change, as the daemon's are
  child.debug('before: hidden');
  child.info('before: shown');
  setLogLevel(logger, 'debug');
  child.debug('debug: shown');
  setLogLevel(logger, 'warn');
  child.info('info: hidden');
  logger.warn('warn: shown');
  await new Promise<void>((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
  });
  // The file transport may still be flushing after the logger's finish; its own finish comes last.
  await Promise.all(logger.transports.map((t) => (t.writableFinished ? undefined : new Promise((r) => t.once('finish', r)))));
  const messages = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { message: string }).message);
  expect(messages).toEqual(['before: shown', 'debug: shown', 'warn: shown']);
});
