import fs from 'node:fs';
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import type { ErrorKind } from '../core/errors.js';
import type { SecretRef } from './schema.js';

/**
 * Secrets are resolved only at the moment a connection needs them. Every resolved value is remembered so that the
 * logger and the run store can scrub it from any text as a last line of defence.
 */
const known = new Set<string>();

export interface SecretContext {
  configDir: string;
  /** e.g. "source demo-sis" */
  owner: string;
  field: string;
  integration?: string | undefined;
  /** Kind of the error when the secret cannot be read. */
  kind?: ErrorKind;
  env?: NodeJS.ProcessEnv;
}

export function resolveSecret(ref: SecretRef, ctx: SecretContext): string {
  const where = `${ctx.integration ? `integration ${ctx.integration}: ` : ''}${ctx.owner} field ${ctx.field}`;
  let value: string;
  if ('env' in ref) {
    const v = (ctx.env ?? process.env)[ref.env];
    if (v === undefined || v === '') {
      throw new FerryError(ctx.kind ?? 'config', `${where}: environment variable ${ref.env} is not set`, { integration: ctx.integration, field: ctx.field });
    }
    value = v;
  } else {
    const file = path.resolve(ctx.configDir, ref.file);
    try {
      value = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new FerryError(ctx.kind ?? 'config', `${where}: cannot read secret file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        integration: ctx.integration,
        field: ctx.field,
        cause: err,
      });
    }
  }
  remember(value);
  return value;
}

function remember(value: string): void {
  // Short values would scrub ordinary words; a secret that short is a bad secret, not something to hunt for.
  if (value.length >= 6) known.add(value);
  // Private keys: also remember each base64 line, in case a library echoes part of one.
  if (value.includes('\n')) for (const line of value.split(/\r?\n/)) if (line.length >= 16) known.add(line);
}

/** Replace any known secret inside a text. */
export function scrubSecrets(text: string): string {
  if (known.size === 0) return text;
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

/**
 * Why a secret reference would not resolve at run time, or why its file is unsafe, without reading out the value:
 * the variable unset or empty; the file missing, not a file, unreadable, or readable by group or others (a private
 * key or password file must be mode 0600 or stricter, as OpenSSH demands of a key). Undefined when it is fine.
 */
export function secretRefProblem(ref: SecretRef, configDir: string, env: NodeJS.ProcessEnv): string | undefined {
  if ('env' in ref) {
    const v = env[ref.env];
    return v === undefined || v === '' ? `environment variable ${ref.env} is not set (or is empty) for this user` : undefined;
  }
  const file = path.resolve(configDir, ref.file);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `secret file ${file} does not exist` : `cannot look at secret file ${file} (${code ?? 'error'})`;
  }
  if (!st.isFile()) return `secret file ${file} is not a file`;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    return `secret file ${file} cannot be read by this user (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const mode = st.mode & 0o777;
  if (mode & 0o077) return `secret file ${file} is open to group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}`;
  return undefined;
}
