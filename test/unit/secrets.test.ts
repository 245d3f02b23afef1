import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { resolveSecret, scrubSecrets } from '../../src/config/secrets.js';
import type { SecretContext } from '../../src/config/secrets.js';

let configDir: string;
beforeAll(() => {
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-'));
  fs.mkdirSync(path.join(configDir, 'secrets'));
  fs.writeFileSync(path.join(configDir, 'secrets', 'pg-password'), 'file-secret-8c1f\n');
  fs.writeFileSync(path.join(configDir, 'secrets', 'crlf-password'), 'crlf-secret-77aa\r\n');
  fs.writeFileSync(path.join(configDir, 'secrets', 'key'), 'line-one-of-a-key\nline-two-of-a-key\n');
});
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));

const ctx = (over: Partial<SecretContext> = {}): SecretContext => ({ configDir, owner: 'source district-sis', field: 'password', env: {}, ...over });

function thrown(fn: () => unknown): FerryError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FerryError);
  return caught as FerryError;
}

describe('resolveSecret', () => {
  it('reads an environment variable from the given environment', () => {
    expect(resolveSecret({ env: 'PG_PASSWORD' }, ctx({ env: { PG_PASSWORD: 'env-secret-3b9d' } }))).toBe('env-secret-3b9d');
  });

  it('reads a file relative to the config folder, without its trailing newline', () => {
    expect(resolveSecret({ file: 'secrets/pg-password' }, ctx())).toBe('file-secret-8c1f');
    expect(resolveSecret({ file: 'secrets/crlf-password' }, ctx())).toBe('crlf-secret-77aa');
    expect(resolveSecret({ file: path.join(configDir, 'secrets', 'pg-password') }, ctx())).toBe('file-secret-8c1f');
  });

  it('keeps inner newlines of a multi-line secret such as a private key', () => {
    expect(resolveSecret({ file: 'secrets/key' }, ctx())).toBe('line-one-of-a-key\nline-two-of-a-key');
  });

  it('names the owner, field and variable when an environment variable is missing or empty, and no value', () => {
    const env = { PG_PASSWORD_OLD: 'old-secret-5e2a', PG_PASSWORD: '' };
    for (const e of [{ PG_PASSWORD_OLD: env.PG_PASSWORD_OLD }, env]) {
      const err = thrown(() => resolveSecret({ env: 'PG_PASSWORD' }, ctx({ env: e, integration: 'hilltop-clever-students' })));
      expect(err.kind).toBe('config');
      expect(err.message).toBe('integration hilltop-clever-students: source district-sis field password: environment variable PG_PASSWORD is not set');
      expect(err.field).toBe('password');
      expect(err.integration).toBe('hilltop-clever-students');
    }
  });

  it('names the owner, field and file when a secret file cannot be read, with the kind the caller asked for', () => {
    const err = thrown(() => resolveSecret({ file: 'secrets/missing' }, ctx({ owner: 'destination district-sftp', field: 'privateKey', kind: 'destination_auth' })));
    expect(err.kind).toBe('destination_auth');
    expect(err.message).toBe(`destination district-sftp field privateKey: cannot read secret file ${path.join(configDir, 'secrets', 'missing')} (ENOENT)`);
    expect(err.field).toBe('privateKey');
    expect(err.cause).toBeInstanceOf(Error);
  });
});

describe('scrubSecrets', () => {
  it('removes every resolved secret from text, including each line of a multi-line key', () => {
    resolveSecret({ env: 'SFTP_PASSWORD' }, ctx({ env: { SFTP_PASSWORD: 'sftp-secret-91c0' } }));
    resolveSecret({ file: 'secrets/key' }, ctx());
    const text = 'login failed for ferry:sftp-secret-91c0 twice (sftp-secret-91c0); key began line-one-of-a-key';
    expect(scrubSecrets(text)).toBe('login failed for ferry:[redacted] twice ([redacted]); key began [redacted]');
  });

  it('does not hunt for secrets so short they would scrub ordinary words', () => {
    expect(resolveSecret({ env: 'SHORT' }, ctx({ env: { SHORT: 'ferry' } }))).toBe('ferry');
    expect(scrubSecrets('connected to sftp.example.org as ferry')).toBe('connected to sftp.example.org as ferry');
  });
});
