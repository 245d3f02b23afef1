import { isDeepStrictEqual } from 'node:util';
import type { FerryConfig } from './model.js';

/**
 * What a reload can change in a running daemon. Every setting of FerryConfig has a decision here (the type makes a new
 * setting without one a compile error): `live` settings are read again by their users (the runner, scheduler, alerter,
 * limiter, logger); `restart` settings were used once at start (a bound port, an opened store, timers, the log file).
 */
type When = 'live' | 'restart';
type Rules = { readonly [K in keyof FerryConfig]-?: When | { readonly [P in keyof NonNullable<FerryConfig[K]>]-?: When } };

const RULES: Rules = {
  dir: 'restart', // the folder the daemon was started on; a reload reads the same one
  dataDir: 'restart', // pid files, the default store and log folder
  spoolDir: 'live',
  baselineDir: 'live',
  logDir: 'restart', // the log file is opened at start
  extractsDir: 'live',
  store: 'restart',
  keepSpool: 'live',
  spoolKeepDays: 'live',
  receiptsDir: 'restart',
  concurrency: { global: 'live', perSource: 'live', perDestinationHost: 'live' },
  // The queue worker's lease, heartbeat and poll timers and the scheduler's misfire window are set at start.
  scheduler: { leaseSeconds: 'restart', heartbeatSeconds: 'restart', pollSeconds: 'restart', misfireWindowHours: 'restart' },
  http: { host: 'restart', port: 'restart' },
  alerts: 'live',
  governance: 'live', // read at each check and each scheduled run's hold check, which follow the config in force
  shutdownGraceSeconds: 'live',
  logLevel: 'live',
  debugLog: 'live',
  sources: 'live',
  destinations: 'live',
  extracts: 'live',
  districts: 'live',
  integrations: 'live',
  demo: 'restart', // the embedded SFTP server is started once
  personDigests: 'live', // the key is read at each run
};

export interface ReloadPlan {
  /** Changed settings that take effect now, as setting paths (`logLevel`, `concurrency.global`, `alerts`). */
  readonly applied: readonly string[];
  /** Changed settings that keep their old value until the daemon restarts (`http.port`, `store`). */
  readonly needsRestart: readonly string[];
  /**
   * The configuration to put in force: `next`, except that restart-only settings keep the value the daemon runs with,
   * so that what the daemon reports as its configuration is what it actually does.
   */
  readonly config: FerryConfig;
}

/** Compare the running configuration with a freshly loaded one and decide, setting by setting, what a reload applies. */
export function planReload(old: FerryConfig, next: FerryConfig): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const inForce: Record<string, unknown> = { ...next };
  const note = (when: When, name: string) => (when === 'live' ? applied : needsRestart).push(name);

  for (const key of Object.keys(RULES) as (keyof FerryConfig)[]) {
    const rule = RULES[key];
    const was: unknown = old[key];
    const now: unknown = next[key];
    if (isDeepStrictEqual(was, now)) continue;
    if (typeof rule === 'string') {
      note(rule, key);
      if (rule === 'restart') inForce[key] = was;
      continue;
    }
    const parts = Object.entries(rule as Record<string, When>);
    if (!isObject(was) || !isObject(now)) {
      // Turned on or off (`http: false`): one setting, live only if every part of it is.
      const when: When = parts.every(([, w]) => w === 'live') ? 'live' : 'restart';
      note(when, key);
      if (when === 'restart') inForce[key] = was;
      continue;
    }
    const merged: Record<string, unknown> = { ...now };
    for (const [part, when] of parts) {
      if (isDeepStrictEqual(was[part], now[part])) continue;
      note(when, `${key}.${part}`);
      if (when === 'restart') merged[part] = was[part];
    }
    inForce[key] = Object.freeze(merged);
  }
  return { applied, needsRestart, config: Object.freeze(inForce) as unknown as FerryConfig };
}

/** The one wording, used by the daemon's log and by `ferry reload`. */
export function needsRestartSentence(needsRestart: readonly string[]): string {
  return `configuration reloaded; these settings need a restart to take effect: ${needsRestart.join(', ')}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
