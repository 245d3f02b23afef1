import type { Knex } from 'knex';
import type { Logger } from 'winston';

/**
 * knex's `log` option, routed to Ferry's logger. Left to itself knex prints its warnings on stdout with a stack trace
 * ("Acquire connection error: …" on every failed connection): in one PostgreSQL outage that was hundreds of lines
 * mixed into the daemon's JSON log stream. Here each becomes one JSON line with the first line of knex's text.
 */
export function knexLog(logger: Logger): Knex.Logger {
  const log = logger.child({ component: 'store' });
  return {
    // A connection that cannot be had is the outage itself, which the store watchdog tells once ("store
    // unreachable"); knex says it at every attempt, so those lines go to debug.
    warn: (message: unknown) => {
      const detail = oneLine(message);
      if (detail.startsWith('Acquire connection error')) log.debug('run store driver warning', { detail });
      else log.warn('run store driver warning', { detail });
    },
    error: (message: unknown) => log.error('run store driver error', { detail: oneLine(message) }),
    // knex builds "X is deprecated, please use Y" itself and hands over that one string.
    deprecate: (message: string) => log.warn('run store driver deprecation', { detail: oneLine(message) }),
    debug: (message: unknown) => log.debug('run store driver debug', { detail: oneLine(message) }),
  };
}

/**
 * The message without its stack trace. Non-text messages (knex's debug hands over query objects, bindings included,
 * and bindings can be student data) are not logged at all, only named.
 */
function oneLine(message: unknown): string {
  const text = message instanceof Error ? message.message : typeof message === 'string' ? message : `(${typeof message} not shown)`;
  return text
    .split('\n')
    .filter((line) => !/^\s+at /.test(line))
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}
