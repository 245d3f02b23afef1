import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DemoConfig } from '../config/model.js';
import { ensureDemoSis } from './demo-sis.js';
import { startEmbeddedSftpServer, type EmbeddedSftpServer } from './sftp-server.js';
import { ensureKeyPairFiles } from './ssh-keys.js';

/**
 * The bundled demo: a synthetic SIS database, an SSH host key whose fingerprint the demo config pins (by file),
 * and a client key for the demo destination. Everything is created on first use under var/, never committed.
 */
export async function ensureDemo(demo: DemoConfig, personKeyFile?: string): Promise<{ hostKeyFingerprint: string; created: boolean }> {
  if (personKeyFile) await ensureSecretFile(personKeyFile);
  const sis = ensureDemoSis(demo.sisPath);
  const host = await ensureKeyPairFiles(demo.sftp.hostKeyPath, 'ferry-demo-sftp-host');
  const client = await ensureKeyPairFiles(demo.sftp.clientKeyPath, 'ferry-demo-client');
  const pinFile = `${demo.sftp.hostKeyPath}.sha256`;
  const pinned = await fs.readFile(pinFile, 'utf8').catch(() => '');
  if (pinned.trim() !== host.fingerprint) await fs.writeFile(pinFile, `${host.fingerprint}\n`, { mode: 0o600 });
  await fs.mkdir(demo.sftp.root, { recursive: true, mode: 0o700 });
  return { hostKeyFingerprint: host.fingerprint, created: sis.created || host.created || client.created };
}

export async function startDemoSftp(demo: DemoConfig, logger?: { info(m: string, meta?: object): void; warn(m: string, meta?: object): void }): Promise<EmbeddedSftpServer> {
  const hostKey = await fs.readFile(demo.sftp.hostKeyPath);
  const clientPub = await fs.readFile(`${demo.sftp.clientKeyPath}.pub`);
  return startEmbeddedSftpServer({
    root: demo.sftp.root,
    host: demo.sftp.host,
    port: demo.sftp.port,
    hostKey,
    username: demo.sftp.username,
    authorizedKeys: [clientPub],
    ...(logger ? { logger } : {}),
  });
}

/** A random 32-byte key (hex) at `file`, 0600, unless one is there already: the demo's person-digest key. */
async function ensureSecretFile(file: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await fs.writeFile(file, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
