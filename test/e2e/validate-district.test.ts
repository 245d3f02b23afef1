import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { requireSshd, startSshd, type SshdServer } from '../helpers/sshd.js';

const sshdOk = requireSshd();

/** The demo's Hilltop integration (see demo-config.ts), with some of its fields changed. */
const hilltop = (over: Record<string, unknown> = {}) => ({
  id: 'hilltop-fastbridge-es',
  extract: 'clever-students',
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: '{district}/fastbridge/students.csv',
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params: { asOf: '2026-11-23', schoolYear: 2027, grades: 'ES' },
  inventory: { vendor: 'FastBridge', contact: 'SIS Admin', purpose: 'Screening, K-5 only' },
  ...over,
});

describe('ferry validate and run: a district sends only its own data', () => {
  it("validate refuses a Hilltop integration set to Riverbend's district id, in one line naming the integration and field", async () => {
    const cfg = await makeDemoConfigDir({ integrations: [hilltop({ params: { districtId: 'riverbend-ufsd', grades: 'ES' } })] });
    const r = await ferry(['validate', '--config', cfg.dir]);
    expect(r.code).toBe(2);
    const file = path.join(cfg.dir, 'integrations/hilltop-csd.yaml');
    expect(r.stderr).toBe(
      `1 problem in ${cfg.dir}:\n  ${file}: integrations[0] (hilltop-fastbridge-es).params.districtId: "riverbend-ufsd" is not this integration's district: it belongs to district hilltop-csd (its district: block), and that id is always used; remove districtId (no override, not even with --force, sends another district's data)\n`,
    );
  });

  it("run refuses --param districtId=<another district>, and nothing reaches the vendor's folder", async () => {
    const cfg = await makeDemoConfigDir({ integrations: [hilltop()] });
    const v = await ferry(['validate', '--config', cfg.dir]);
    expect(v.code).toBe(0); // districtId left out: it comes from the district block
    const r = await ferry(['run', 'hilltop-fastbridge-es', '--param', 'districtId=riverbend-ufsd', '--config', cfg.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ferry: run \d+ failed: integration hilltop-fastbridge-es: parameter districtId: "riverbend-ufsd" is not this integration's district/);
    expect(fs.existsSync(path.join(cfg.sftpRoot, 'hilltop-csd'))).toBe(false);
    const h = JSON.parse((await ferry(['history', 'hilltop-fastbridge-es', '--json', '--config', cfg.dir])).stdout) as Record<string, unknown>[];
    expect(h[0]).toMatchObject({ status: 'failed', errorKind: 'params', remotePath: null });

    // Without the override the same integration delivers Hilltop's students into Hilltop's folder.
    const ok = await ferry(['run', 'hilltop-fastbridge-es', '--config', cfg.dir]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(fs.readdirSync(path.join(cfg.sftpRoot, 'hilltop-csd/fastbridge'))).toEqual(['students.csv']);
    const h2 = JSON.parse((await ferry(['history', 'hilltop-fastbridge-es', '--json', '--config', cfg.dir])).stdout) as Record<string, unknown>[];
    expect(h2[0]).toMatchObject({ status: 'succeeded', params: { districtId: 'hilltop-csd' } });
  });
});

describe.skipIf(!sshdOk)('ferry validate and run: a host key pinned as `ssh-keygen -lf` prints it (real OpenSSH)', () => {
  let server: SshdServer;
  beforeAll(async () => {
    server = await startSshd();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('validate accepts the -lf line and a delivery to sshd then compares it correctly', async () => {
    const keys = path.join(server.homeDir, '..', 'pins');
    fs.mkdirSync(keys, { recursive: true });
    fs.writeFileSync(path.join(keys, 'host.pub'), `${server.hostPublicKey} sftp-host\n`);
    // Exactly what an administrator pastes: the output of ssh-keygen -lf for the server's public key.
    const { stdout: lf } = await promisify(execFile)('ssh-keygen', ['-lf', path.join(keys, 'host.pub')]);
    expect(lf).toMatch(/^256 SHA256:\S+ sftp-host \(ED25519\)\n$/);
    fs.writeFileSync(path.join(keys, 'host.pin'), lf);
    const district = {
      kind: 'sftp',
      host: server.host,
      port: server.port,
      username: server.user,
      privateKey: { file: server.privateKeyPath },
      hostKeySha256: { file: path.join(keys, 'host.pin') },
      basePath: server.homeDir,
      retries: 0,
    };
    const cfg = await makeDemoConfigDir({
      integrations: [hilltop({ destination: 'district-sftp' })],
      extraFerry: { destinations: { 'district-sftp': district } },
    });
    const v = await ferry(['validate', '--config', cfg.dir]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const r = await ferry(['run', 'hilltop-fastbridge-es', '--config', cfg.dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const delivered = fs.readFileSync(path.join(server.homeDir, 'hilltop-csd/fastbridge/students.csv'), 'utf8');
    expect(delivered.split('\r\n')[0]).toMatch(/^School_id,/);

    // The same key pinned as its .pub line works too; a world-readable private key is named by validate.
    fs.writeFileSync(path.join(keys, 'host.pin'), `${server.hostPublicKey}\n`);
    fs.chmodSync(server.privateKeyPath, 0o644);
    try {
      const v2 = await ferry(['validate', '--config', cfg.dir]);
      expect(v2.code).toBe(2);
      expect(v2.stderr).toContain(`destinations.district-sftp.privateKey: secret file ${server.privateKeyPath} is open to group or others (mode 0644); run chmod 600 ${server.privateKeyPath}`);
      expect(v2.stderr).not.toContain('PRIVATE KEY');
    } finally {
      fs.chmodSync(server.privateKeyPath, 0o600);
    }
    const r2 = await ferry(['run', 'hilltop-fastbridge-es', '--config', cfg.dir]);
    expect(r2.code).toBe(0);
  });
});
