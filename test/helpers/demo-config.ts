import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { agreementsFor } from './agreements.js';
import { freePort } from './postgres.js';
import { REPO, tempDir } from './cli.js';

export interface DemoConfigDir {
  dir: string;
  dataDir: string;
  sftpRoot: string;
  port: number;
}

/**
 * A copy of the bundled demo configuration in a temp folder: its own data folder, its own SFTP port, and
 * one Hilltop integration with fixed parameters (so its output is the same every day).
 */
export async function makeDemoConfigDir(opts: { cron?: string; extraFerry?: Record<string, unknown>; integrations?: Record<string, unknown>[]; agreements?: Record<string, unknown>[] } = {}): Promise<DemoConfigDir> {
  const root = tempDir();
  const dir = path.join(root, 'config');
  const dataDir = path.join(root, 'var');
  fs.mkdirSync(path.join(dir, 'integrations'), { recursive: true });
  const port = await freePort();
  const ferryYaml = {
    dataDir: '../var',
    extractsDir: path.join(REPO, 'extracts'),
    concurrency: { global: 4, perSource: 2 },
    shutdownGraceSeconds: 10,
    // Any free port: several test daemons run at once, and a developer's own daemon may hold 9750.
    http: { host: '127.0.0.1', port: 0 },
    sources: { 'demo-sis': { kind: 'sqlite', path: '../var/demo/sis.sqlite' } },
    destinations: {
      'demo-sftp': {
        kind: 'sftp',
        host: '127.0.0.1',
        port,
        username: 'ferry',
        privateKey: { file: '../var/demo/ferry_client_ed25519' },
        hostKeySha256: { file: '../var/demo/ssh_host_ed25519_key.sha256' },
        basePath: '/',
        retries: 0,
      },
    },
    demo: {
      sisPath: '../var/demo/sis.sqlite',
      sftp: { host: '127.0.0.1', port, root: '../var/sftp', username: 'ferry', hostKeyPath: '../var/demo/ssh_host_ed25519_key', clientKeyPath: '../var/demo/ferry_client_ed25519' },
    },
    ...opts.extraFerry,
  };
  fs.writeFileSync(path.join(dir, 'ferry.yaml'), YAML.stringify(ferryYaml));
  const integrations = opts.integrations ?? [
      {
        id: 'hilltop-clever-students',
        extract: 'clever-students',
        source: 'demo-sis',
        destination: 'demo-sftp',
        remotePath: '{district}/clever/students.csv',
        schedule: { cron: opts.cron ?? '0 2 * * *', timezone: 'America/New_York' },
        params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
        inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering', ticket: 'T-1' },
      },
    ];
  const district = {
    district: { id: 'hilltop-csd', name: 'Hilltop Central School District (DEMO)', gradeBands: { ES: 'K-5', MS: '6-8', HS: '9-12' } },
    agreements: opts.agreements ?? agreementsFor(integrations, 'hilltop-csd'),
    integrations,
  };
  fs.writeFileSync(path.join(dir, 'integrations', 'hilltop-csd.yaml'), YAML.stringify(district));
  return { dir, dataDir, sftpRoot: path.join(dataDir, 'sftp'), port };
}
