import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';

const { utils } = ssh2;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

// "ssh-ed25519" string + 32-byte key string, each with a uint32 length prefix.
const ED25519_BLOB_LENGTH = 4 + 11 + 4 + 32;

export function generateEd25519KeyPair(comment?: string): KeyPair {
  // ssh2 1.17's keygen strips leading zero bytes from the raw ed25519 public key, so about 1 in
  // 256 generated pairs is malformed (31-byte key, unparseable by ssh2 and OpenSSH). Retry those.
  for (let attempt = 0; attempt < 32; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', comment === undefined ? {} : { comment });
    const pub = utils.parseKey(pair.public);
    const priv = utils.parseKey(pair.private);
    if (pub instanceof Error || priv instanceof Error || Array.isArray(pub) || Array.isArray(priv)) continue;
    if (pub.getPublicSSH().length !== ED25519_BLOB_LENGTH) continue;
    return { privateKey: pair.private, publicKey: pair.public };
  }
  throw new Error('Could not generate a well-formed ed25519 key pair');
}

/** OpenSSH-style fingerprint of a wire-format public key blob. */
export function sshFingerprintSha256(publicKeyBlob: Buffer): string {
  const digest = createHash('sha256').update(publicKeyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function parseSshKey(data: string | Buffer, what: string): ParsedKey {
  const parsed: ParsedKey | ParsedKey[] | Error = utils.parseKey(data);
  // ssh2 returns an array when the input holds several keys; only one is expected here.
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) {
    const reason = key instanceof Error ? key.message : 'no key found';
    throw new Error(`Invalid ${what}: ${reason}`);
  }
  return key;
}

export function fingerprintOfPublicKeyLine(line: string): string {
  return sshFingerprintSha256(parseSshKey(line.trim(), 'public key').getPublicSSH());
}

export function fingerprintOfPrivateKey(privateKeyText: string): string {
  return sshFingerprintSha256(parseSshKey(privateKeyText, 'private key').getPublicSSH());
}

function publicLineOf(privateKeyText: string): string {
  const key = parseSshKey(privateKeyText, 'private key');
  const blob = key.getPublicSSH().toString('base64');
  return key.comment ? `${key.type} ${blob} ${key.comment}\n` : `${key.type} ${blob}\n`;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface KeyPairFiles extends KeyPair {
  fingerprint: string;
  created: boolean;
}

export async function ensureKeyPairFiles(privatePath: string, comment?: string): Promise<KeyPairFiles> {
  const publicPath = `${privatePath}.pub`;
  const existing = await readIfExists(privatePath);
  if (existing !== undefined) return loadExisting(existing, publicPath);

  await fs.mkdir(path.dirname(privatePath), { recursive: true, mode: 0o700 });
  const pair = generateEd25519KeyPair(comment);
  let handle: fs.FileHandle;
  try {
    // 'wx' + 0600 at creation: the key is never readable by others, not even briefly.
    handle = await fs.open(privatePath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return loadExisting(await fs.readFile(privatePath, 'utf8'), publicPath);
  }
  try {
    await handle.writeFile(pair.privateKey);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.writeFile(publicPath, ensureNewline(pair.publicKey), { mode: 0o644 });
  return { ...pair, fingerprint: fingerprintOfPrivateKey(pair.privateKey), created: true };
}

async function loadExisting(privateKey: string, publicPath: string): Promise<KeyPairFiles> {
  const fingerprint = fingerprintOfPrivateKey(privateKey);
  let publicKey = await readIfExists(publicPath);
  if (publicKey === undefined || fingerprintOfPublicKeyLine(publicKey) !== fingerprint) {
    publicKey = publicLineOf(privateKey);
    await fs.writeFile(publicPath, publicKey, { mode: 0o644 });
  }
  return { privateKey, publicKey, fingerprint, created: false };
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
