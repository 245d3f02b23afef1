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
