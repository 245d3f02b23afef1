import crypto from 'node:crypto';
import fs from 'node:fs';

/**
 * The pinned host key of an SFTP destination. The one parser of a pin, used by `ferry validate` and by every
 * connection, so that a pin validate accepts is the pin a delivery compares against.
 */

/** SHA256:<base64, no padding>, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** `ssh-keygen -lf` output: "256 SHA256:… comment (ED25519)"; the bit count and the rest are optional. */
const LF_LINE = /^(?:\d+\s+)?(SHA256:[A-Za-z0-9+/]{43})(?:\s.*)?$/;
/** A `.pub` (or known_hosts-style key) line: "ssh-ed25519 AAAA… comment". */
const PUB_LINE = /^((?:ssh|ecdsa-sha2|sk-ssh|sk-ecdsa-sha2)-[A-Za-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/;

export type PinParse = { ok: true; fingerprints: readonly string[] } | { ok: false; problem: string };

/**
 * The fingerprints a pin file holds: each non-empty, non-# line is a fingerprint line as `ssh-keygen -lf` prints it
 * (or the bare `SHA256:…`), or a public key line as in a `.pub` file. Several lines pin several keys (a rotation);
 * the server's key must match one.
 */
export function parsePinnedFingerprints(text: string): PinParse {
  const fingerprints: string[] = [];
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) return { ok: false, problem: 'is empty; write the fingerprint as `ssh-keygen -lf key.pub` prints it, or the .pub key line' };
  for (const [i, line] of lines.entries()) {
    const fp = LF_LINE.exec(line)?.[1] ?? publicKeyFingerprint(line);
    if (fp === undefined) {
      const hint = /^(?:\d+\s+)?MD5:/.test(line) ? ' (an MD5 fingerprint: use `ssh-keygen -lf key.pub -E sha256`)' : '';
      return { ok: false, problem: `line ${i + 1} is neither a SHA256 fingerprint line as \`ssh-keygen -lf\` prints it nor a .pub key line${hint}` };
    }
    fingerprints.push(fp);
  }
  return { ok: true, fingerprints: Object.freeze(fingerprints) };
}

/** An inline `hostKeySha256: SHA256:…` value. */
export function isFingerprint(value: string): boolean {
  return FINGERPRINT.test(value);
}

/** The SHA-256 fingerprint of a public key line, when its blob is a key of the type the line names. */
function publicKeyFingerprint(line: string): string | undefined {
  const m = PUB_LINE.exec(line);
  if (!m) return undefined;
  const blob = Buffer.from(m[2]!, 'base64');
  // The blob starts with its own key type (uint32 length + name): a line whose blob disagrees is not a key.
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (blob.length < 4 + len || blob.subarray(4, 4 + len).toString('latin1') !== m[1]) return undefined;
  return fingerprintOf(blob);
}

/** A pin file read and parsed; a file that cannot be read is a problem like a malformed one. */
export function readPinFile(file: string): PinParse {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'ENOENT' ? `pin file ${file} does not exist` : `cannot read pin file ${file} (${code ?? 'error'})` };
  }
  const parsed = parsePinnedFingerprints(text);
  return parsed.ok ? parsed : { ok: false, problem: `pin file ${file} ${parsed.problem}` };
}
