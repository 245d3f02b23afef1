import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createESchoolDataSource } from '../../connectors/eschooldata/eschooldata-source.js';
import { createPowerSchoolSource } from '../../connectors/powerschool/powerschool-source.js';
import { eSchoolDataSourceSchema, powerSchoolSourceSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { nonLoopbackAddress } from '../helpers/tls-cert.js';

/**
 * API sources send their client secret (HTTP Basic, or a form) and then every record: over http:// only to loopback.
 * An HTTP server listens on this machine's address that is not loopback and must hear nothing.
 */
describe('API sources refuse http:// except to loopback', () => {
  const address = nonLoopbackAddress();
  let server: http.Server;
  let requests = 0;
  let url: string;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    url = `http://${address}:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const common = { id: 'district-api', clientId: () => 'client-id', clientSecret: () => 'client-secret-123', timeoutSeconds: 5, maxConcurrency: 1, retries: 0, integration: 'hilltop-roster' };

  it('validate: a PowerSchool baseUrl or an eSchoolData URL with http:// to another host is a config problem; loopback is fine', () => {
    const ps = powerSchoolSourceSchema.safeParse({ kind: 'powerschool', baseUrl: url, clientId: 'x', clientSecret: { env: 'S' } });
    expect(ps.success).toBe(false);
    expect(ps.error?.issues[0]).toMatchObject({ path: ['baseUrl'], message: expect.stringMatching(/^must be an https:\/\/ URL: http:\/\/ is allowed only to loopback/) });
    const esd = eSchoolDataSourceSchema.safeParse({ kind: 'eschooldata', tokenUrl: `${url}/token`, apiBase: 'https://guru.example.org/api/v1', clientId: 'x', clientSecret: { env: 'S' } });
    expect(esd.error?.issues.map((i) => i.path)).toEqual([['tokenUrl']]);
    for (const local of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://district.powerschool.com']) {
      expect(powerSchoolSourceSchema.safeParse({ kind: 'powerschool', baseUrl: local, clientId: 'x', clientSecret: { env: 'S' } }).success).toBe(true);
    }
  });

  it('run time: PowerSchool refuses before sending anything, naming the source and baseUrl', async () => {
    const source = createPowerSchoolSource({ ...common, baseUrl: url });
    const err = await source.testConnection!().then(() => undefined, (e: unknown) => e);
    await source.close();
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'config', field: 'sources.district-api.baseUrl' });
    expect((err as Error).message).toBe(`integration hilltop-roster: source district-api: refuses to send GET /ws/v1/time to ${address}:${new URL(url).port} over http://; use an https:// URL (http:// is allowed only to loopback)`);
    expect(requests).toBe(0);
  });

  it('run time: eSchoolData refuses its token request, naming tokenUrl', async () => {
    const source = createESchoolDataSource({ ...common, tokenUrl: `${url}/api/v1/auth/token`, apiBase: `${url}/api/v1` });
    const err = await source.testConnection!().then(() => undefined, (e: unknown) => e);
    await source.close();
    expect(err).toMatchObject({ kind: 'config', field: 'sources.district-api.tokenUrl' });
    expect(requests).toBe(0);
  });
});
