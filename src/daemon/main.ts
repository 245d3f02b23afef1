#!/usr/bin/env node
import { ConfigError, formatProblem } from '../config/loader.js';
import { isFerryError } from '../core/errors.js';
import { startDaemon } from './daemon.js';

/** `ferry-daemon [--config DIR]`: the process entry. Exit 0 after a clean shutdown, 2 on bad config, 1 otherwise. */
async function main(argv: string[]): Promise<number> {
  process.umask(0o077); // nothing Ferry writes (store, spool, logs, keys) is readable by other users
  const i = argv.indexOf('--config');
  const configDir = i >= 0 && argv[i + 1] ? argv[i + 1]! : process.env.FERRY_CONFIG ?? 'config';
  let daemon;
  try {
    daemon = await startDaemon({ configDir });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ferry: the daemon did not start: the configuration has ${err.problems.length} problem(s):\n`);
      for (const p of err.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
      return 2;
    }
    process.stderr.write(`ferry: the daemon did not start: ${isFerryError(err) ? err.message : (err as Error).message}\n`);
    return isFerryError(err) && err.kind === 'config' ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`ferry: second ${sig}: exiting now\n`);
        process.exit(1);
      }
      daemon.stop(sig).then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // SIGHUP (or `ferry reload`): load the configuration again; an invalid one is refused and logged.
    process.on('SIGHUP', () => void daemon.reload().catch(() => undefined));
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Timers owned by libraries (cron, pools) must not keep a stopped daemon alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
