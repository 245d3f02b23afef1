import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';

/** Transport settings as `ferry validate` and `ferry show` treat them, through the spawned CLI. */
const INTEGRATION = {
  id: 'hilltop-clever-students-pg',
  extract: 'clever-students-pg',
  source: 'district-pg',
  destination: 'demo-sftp',
  remotePath: '{district}/clever/students.csv',
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
  inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' },
};
const pg = (fields: Record<string, unknown>) => ({ kind: 'postgres', host: 'sis.hilltop.example.org', database: 'sis', user: 'ferry', password: { env: 'PGPASS' }, ...fields });
// validate checks that secrets resolve: the variables exist here (their values are never used).
const ENV = { PGPASS: 'not-used', PS_SECRET: 'not-used' };
const config = (sources: Record<string, unknown>) =>
  makeDemoConfigDir({ extraFerry: { sources: { 'demo-sis': { kind: 'sqlite', path: '../var/demo/sis.sqlite' }, ...sources } }, integrations: [INTEGRATION] });

describe('transport settings in validate and show', () => {
  it('validate refuses cleartext PostgreSQL to a remote host without allowPlaintext, and http:// API URLs to a remote host', async () => {
    const cfg = await config({
      'district-pg': pg({ ssl: false }),
      'district-ps': { kind: 'powerschool', baseUrl: 'http://ps.hilltop.example.org', clientId: 'x', clientSecret: { env: 'PS_SECRET' } },
    });
    const r = await ferry(['validate', '--config', cfg.dir], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sources\.district-pg\.ssl: false sends the password and every row in cleartext to a host that is not loopback; remove it \(TLS, certificate verified\), or add allowPlaintext: true to accept that/);
    expect(r.stderr).toMatch(/sources\.district-ps\.baseUrl: must be an https:\/\/ URL: http:\/\/ is allowed only to loopback/);
  });

  it('the default (TLS, verified) is quiet; an explicit opt-out validates with a warning that show repeats', async () => {
    const quiet = await config({ 'district-pg': pg({}) });
    const ok = await ferry(['validate', '--config', quiet.dir], { env: ENV });
    expect([ok.code, ok.stderr]).toEqual([0, '']);

    const cfg = await config({ 'district-pg': pg({ ssl: false, allowPlaintext: true }), 'district-st': { kind: 'schooltool', host: 'sql.hilltop.example.org', database: 'st', user: 'ferry', trustServerCertificate: true } });
    const r = await ferry(['validate', '--config', cfg.dir], { env: ENV });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'ferry: warning: source district-pg: ssl: false (allowPlaintext: true) sends the password and every row to sis.hilltop.example.org in cleartext\n' +
        "ferry: warning: source district-st: trustServerCertificate: true encrypts without checking sql.hilltop.example.org's certificate, so anyone in the path can pose as the server\n",
    );
    const show = await ferry(['show', INTEGRATION.id, '--config', cfg.dir], { env: ENV });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('  transport    warning: source district-pg: ssl: false (allowPlaintext: true) sends the password and every row to sis.hilltop.example.org in cleartext\n');
    const json = JSON.parse((await ferry(['show', INTEGRATION.id, '--json', '--config', cfg.dir], { env: ENV })).stdout) as { source: { transportWarning: string } };
    expect(json.source.transportWarning).toMatch(/^source district-pg: ssl: false/);
  });
});
