import type { HttpClient, HttpRequest, HttpResponse } from './http-client.js';

/**
 * OAuth2 client-credentials tokens for one source: fetched when first needed, reused until shortly before they
 * expire, fetched once more after a 401. Concurrent callers share one token request.
 */
export interface IssuedToken {
  accessToken: string;
  /** From `expires_in`; PowerSchool sends it as a string, so callers pass `Number(expires_in)`. */
  expiresInSeconds: number;
}

export interface TokenProvider {
  get(signal?: AbortSignal): Promise<string>;
  /** After a 401 with `stale`: a fresh token (unless another request already replaced it). */
  renew(stale: string, signal?: AbortSignal): Promise<string>;
  /** Token requests made so far (for logs and tests). */
  readonly fetches: number;
}

// When the server sends no usable lifetime, assume a short one rather than "forever".
const FALLBACK_TTL_S = 300;

export function createTokenProvider(fetchToken: (signal?: AbortSignal) => Promise<IssuedToken>, now: () => number = Date.now): TokenProvider {
  let current: { value: string; refreshAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  let fetches = 0;

  const refresh = (signal?: AbortSignal): Promise<string> => {
    inflight ??= (async () => {
      try {
        fetches++;
        const t = await fetchToken(signal);
        const ttl = Number.isFinite(t.expiresInSeconds) && t.expiresInSeconds > 0 ? t.expiresInSeconds : FALLBACK_TTL_S;
        // Renew a little early (10% of the lifetime, at most a minute) so a token never expires mid-request.
        const margin = Math.min(60, ttl / 10) * 1000;
        current = { value: t.accessToken, refreshAt: now() + ttl * 1000 - margin };
        return t.accessToken;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    async get(signal) {
      if (current && now() < current.refreshAt) return current.value;
      return refresh(signal);
    },
    async renew(stale, signal) {
      if (current && current.value !== stale && now() < current.refreshAt) return current.value;
      if (inflight) return inflight;
      current = undefined;
      return refresh(signal);
    },
    get fetches() {
      return fetches;
    },
  };
}

/** Send with `Authorization: Bearer`; on a 401, fetch a new token once and retry that request once. */
export async function sendAuthorized(http: HttpClient, tokens: TokenProvider, req: HttpRequest): Promise<HttpResponse> {
  const withToken = (token: string): HttpRequest => ({ ...req, headers: { ...req.headers, Authorization: `Bearer ${token}` } });
  const token = await tokens.get(req.signal);
  const res = await http.send(withToken(token));
  if (res.status !== 401) return res;
  req.logger?.info('api token rejected; fetching a new one', { path: res.path, expired: /expired/i.test(res.headers['www-authenticate'] ?? '') });
  return http.send(withToken(await tokens.renew(token, req.signal)));
}
