import os from 'node:os';
import { FerryError } from '../core/errors.js';
import type { Integration } from '../config/model.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';

/** Options every command understands. */
export interface GlobalOptions {
  config: string;
  verbose?: boolean;
}

/** Where a command writes; tests and the entry point pass process streams. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTty: boolean;
}

/** The person behind a CLI action, for run records and enable/disable audit. */
export function currentUser(env: NodeJS.ProcessEnv = process.env): string {
  return env.FERRY_USER ?? os.userInfo().username;
}

export async function withRuntime<T>(opts: GlobalOptions, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime({ configDir: opts.config });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

export function findIntegration(rt: Pick<Runtime, 'config'>, id: string): Integration {
  const integration = rt.config.integrations.get(id);
  if (!integration) {
    const known = [...rt.config.integrations.keys()];
    throw new FerryError('config', `unknown integration "${id}"${known.length ? ` (known: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''})` : ''}`, { field: 'integration' });
  }
  return integration;
}

/** `--param k=v` pairs → an overrides object; a malformed pair is a usage error. */
export function parseParamPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new FerryError('params', `--param "${p}" must look like name=value`, { field: 'param' });
    out[p.slice(0, eq).trim()] = p.slice(eq + 1);
  }
  return out;
}
