import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../../connectors/index.js';
import { postgresSourceSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import type { Source } from '../../src/core/source.js';
import { startOwnPostgres, type OwnPostgresServer } from '../helpers/postgres.js';
import { createSelfSignedCert, nonLoopbackAddress } from '../helpers/tls-cert.js';

/**
 * A real PostgreSQL with ssl = on and a self-signed certificate, reached at this machine's address that is not
 * loopback: Ferry's default there is TLS with the certificate verified.
 */
const PASSWORD_ENV = 'FERRY_TEST_PG_TLS_PASSWORD';

describe('PostgreSQL source TLS against a real server with ssl = on', () => {
  const address = nonLoopbackAddress();
  let server: OwnPostgresServer;
  let configDir: string;
  const opened: Source[] = [];

  beforeAll(async () => {
    const cert = createSelfSignedCert([address, '127.0.0.1'], 'ferry-test-pg');
    server = await startOwnPostgres({ tls: cert, listen: [address] });
    configDir = mkdtempSync(join(tmpdir(), 'ferry-pg-tls-'));
    writeFileSync(join(configDir, 'district-sis-ca.pem'), cert.cert);
    process.env[PASSWORD_ENV] = server.password;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    delete process.env[PASSWORD_ENV];
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** A source exactly as ferry.yaml would give it: parsed by the schema, then built by the one source factory. */
  const open = (fields: Record<string, unknown>): Source => {
    const config = postgresSourceSchema.parse({ kind: 'postgres', port: server.port, database: 'postgres', user: server.user, password: { env: PASSWORD_ENV }, connectTimeoutSeconds: 30, ...fields });
    const source = createSource({ ...config, id: 'district-sis' }, { configDir, integration: 'hilltop-roster' });
    opened.push(source);
    return source;
  };

  const sslInUse = async (source: Source): Promise<unknown> => {
    for await (const batch of source.stream({ text: 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', values: {} })) {
      if (batch.rows.length > 0) return batch.rows[0]![0];
    }
    return undefined;
  };

  const failure = async (source: Source): Promise<FerryError> => {
    const err = await source.testConnection!().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  };

  it('by default (no ssl setting) connects over TLS to a host that is not loopback, trusting the CA given as sslCa', async () => {
    const source = open({ host: address, sslCa: 'district-sis-ca.pem' });
    await expect(source.testConnection!()).resolves.toMatchObject({ server: expect.stringMatching(/^PostgreSQL /) });
    expect(await sslInUse(source)).toBe(true);
  });

  it('by default refuses a certificate it cannot verify, in one sentence naming the source and sslCa', async () => {
    const err = await failure(open({ host: address }));
    expect(err.kind).toBe('source_auth');
    expect(err.retryable).toBe(false);
    expect(err.field).toBe('sources.district-sis.sslCa');
    expect(err.message).toMatch(/^integration hilltop-roster: source district-sis: PostgreSQL at [\d.]+:\d+ presented a self-signed certificate that no trusted CA signed: give its CA as sslCa \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/);
  });

  it("ssl: require verifies the certificate too (even on loopback)", async () => {
    const err = await failure(open({ host: '127.0.0.1', ssl: 'require' }));
    expect(err.field).toBe('sources.district-sis.sslCa');
    const ok = open({ host: '127.0.0.1', ssl: 'require', sslCa: 'district-sis-ca.pem' });
    expect(await sslInUse(ok)).toBe(true);
  });

  it("ssl: 'insecure-no-verify' encrypts without verifying; a loopback host defaults to no TLS", async () => {
    expect(await sslInUse(open({ host: address, ssl: 'insecure-no-verify' }))).toBe(true);
    expect(await sslInUse(open({ host: '127.0.0.1' }))).toBe(false);
  });

  it('cleartext to a host that is not loopback takes allowPlaintext: true', async () => {
    const refused = postgresSourceSchema.safeParse({ kind: 'postgres', host: address, database: 'd', user: 'u', ssl: false });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]).toMatchObject({ path: ['ssl'], message: expect.stringMatching(/^false sends the password and every row in cleartext .*allowPlaintext: true/) });
    expect(await sslInUse(open({ host: address, ssl: false, allowPlaintext: true }))).toBe(false);
  });

  it('a missing sslCa file is named, not a TLS error', async () => {
    const err = await failure(open({ host: address, sslCa: 'no-such-ca.pem' }));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/source district-sis: the CA file .*no-such-ca\.pem \(sslCa\) does not exist$/);
  });
});
