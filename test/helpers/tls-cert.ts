import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  /** PEM; a self-signed certificate is its own CA, so this is also what a client trusts. */
  cert: string;
  key: string;
}

/** A throwaway self-signed certificate (openssl) for the given host names and IP addresses. */
export function createSelfSignedCert(hosts: readonly string[], commonName = hosts[0] ?? 'localhost'): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cert-'));
  try {
    const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${commonName}`,
      '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** This machine's first address that is not loopback (where a test needs a host that Ferry does not treat as local). */
export function nonLoopbackAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('this machine has no IPv4 address other than loopback; the TLS-by-default test needs one');
}
