import os from 'node:os';
import { FerryError } from '../core/errors.js';
import type { Integration } from '../config/model.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';

/** Options every command understands. */
export interface GlobalOptions {
  config: string;
  verbose?: boolean;
  /** `--ticket`: the ticket behind the action, recorded in the audit log. */
  ticket?: string;
}

/** Where a command writes; tests and the entry point pass process streams. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTty: boolean;
}

/**
 * The person behind a CLI action, for run records and enable/disable audit: the real one. Under `sudo -u ferry` that
 * is the user who ran sudo (`SUDO_USER`), not the service account; `FERRY_USER` (a shared desk name, a ticket queue)
 * is recorded beside the person, never instead, and only when it says something. The account the process runs as is
 * named whenever it is not the person, so a forged `SUDO_USER` still shows who really ran it.
 * "alice", "alice (via sudo as ferry)", "alice (as FERRY_USER=ops-desk; via sudo as ferry)".
 */
export function currentUser(env: NodeJS.ProcessEnv = process.env, osUser: string = osUserName()): string {
  const sudo = clean(env.SUDO_USER);
  const person = sudo && sudo !== osUser ? sudo : osUser;
  const as = clean(env.FERRY_USER);
  const notes = [...(as && as !== person ? [`as FERRY_USER=${as.slice(0, 40)}`] : []), ...(person !== osUser ? [`via sudo as ${osUser}`] : [])];
  // The store keeps 128 characters of a name.
  return (notes.length ? `${person} (${notes.join('; ')})` : person).slice(0, 128);
}

/** A name as recorded: no control characters, trimmed; empty means not set. */
function clean(value: string | undefined): string {
  return (value ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
}

function osUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    // A container user with no passwd entry.
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/** `--force --reason "…"`: both or neither; the reason is what the record keeps. Undefined when not forcing. */
export function parseForce(opts: { force?: boolean; reason?: string }): string | undefined {
  const reason = opts.reason?.trim();
  if (opts.force && !reason) throw new FerryError('params', '--force needs --reason "…" (it is recorded with the run)', { field: 'reason' });
  if (!opts.force && opts.reason !== undefined) throw new FerryError('params', '--reason goes with --force (it says why the run is forced)', { field: 'force' });
  return opts.force ? reason : undefined;
}

/** Every line a forced action prints carries this, so nobody reads its output without seeing it was forced. */
export function forcedIo(io: Io, what: 'run' | 'release', reason: string): Io {
  const tag = (text: string) => text.replace(/\n/g, ` [warning: forced ${what} (reason: ${reason})]\n`);
  return { out: (t) => io.out(tag(t)), err: (t) => io.err(tag(t)), isTty: io.isTty };
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
