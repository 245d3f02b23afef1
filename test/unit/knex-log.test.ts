import TransportStream from 'winston-transport';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { knexLog } from '../../src/store/knex-log.js';

class Capture extends TransportStream {
  readonly lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

describe('knex’s log option routed to the Ferry logger', () => {
  const capture = new Capture();
  const log = knexLog(createLogger({ level: 'debug', transports: [capture] }));

  it('keeps the first line of a warning and drops the stack trace', () => {
    const err = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    log.warn!(`Acquire connection error: ${err.stack}`);
    // Said at every failed attempt during an outage, which the store watchdog tells once: debug.
    expect(capture.lines.at(-1)).toMatchObject({ level: 'debug', message: 'run store driver warning', component: 'store', detail: 'Acquire connection error: Error: connect ECONNREFUSED 127.0.0.1:5432' });
    log.warn!('Undefined binding(s) detected when compiling SELECT');
    expect(capture.lines.at(-1)).toMatchObject({ level: 'warn', message: 'run store driver warning', detail: 'Undefined binding(s) detected when compiling SELECT' });
  });

  it('logs errors and deprecations as such', () => {
    log.error!('Debug: renameColumn does not exist');
    expect(capture.lines.at(-1)).toMatchObject({ level: 'error', message: 'run store driver error', detail: 'Debug: renameColumn does not exist' });
    // knex composes the sentence and calls the function with it alone.
    (log.deprecate as unknown as (message: string) => void)('json(true) is deprecated, please use jsonb()');
    expect(capture.lines.at(-1)).toMatchObject({ level: 'warn', message: 'run store driver deprecation', detail: 'json(true) is deprecated, please use jsonb()' });
  });

  it('does not log the query objects knex’s debug hands over: their bindings can be student data', () => {
    log.debug!({ sql: 'select * from students where last_name = ?', bindings: ['Okafor'] });
    const line = capture.lines.at(-1)!;
    expect(line).toMatchObject({ level: 'debug', message: 'run store driver debug', detail: '(object not shown)' });
    expect(JSON.stringify(line)).not.toContain('Okafor');
  });
});
