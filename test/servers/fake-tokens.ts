import { randomUUID } from 'node:crypto';

/**
 * OAuth2 client-credentials tokens as the SIS servers hand them out: one token at a time, the same one returned
 * until it expires (with `expires_in` counting down), and a revoke() for the "expired mid-run" fault.
 */
export interface TokenStore {
  issue(): { token: string; expiresIn: number };
  check(token: string | undefined): { ok: true; seq: number } | { ok: false; expired: boolean };
  revoke(): void;
  /** Tokens issued so far. */
  readonly issued: number;
}

export function createTokenStore(ttlSeconds: number, now: () => number = Date.now): TokenStore {
  let current: { token: string; seq: number; expiresAt: number } | undefined;
  const expired = new Set<string>();
  let issued = 0;
  const live = () => {
    if (current && now() >= current.expiresAt) {
      expired.add(current.token);
      current = undefined;
    }
    return current;
  };
  return {
    issue() {
      const c = live() ?? (current = { token: randomUUID(), seq: ++issued, expiresAt: now() + ttlSeconds * 1000 });
      return { token: c.token, expiresIn: Math.max(0, Math.ceil((c.expiresAt - now()) / 1000)) };
    },
    check(token) {
      const c = live();
      if (token !== undefined && c?.token === token) return { ok: true, seq: c.seq };
      return { ok: false, expired: token !== undefined && expired.has(token) };
    },
    revoke() {
      if (current) expired.add(current.token);
      current = undefined;
    },
    get issued() {
      return issued;
    },
  };
}
