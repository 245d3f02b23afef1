/** mssql's code for our refusal, so mssql-errors.ts can name it. */
export const NOT_ENCRYPTED = 'ENOTENCRYPTED';

type Prelogin = { encryptionString?: string };
type Negotiate = (this: unknown, prelogin: Prelogin, signal: AbortSignal) => Promise<void>;

/**
 * With `encrypt: true`, tedious (19.x) starts TLS only when the server's PRELOGIN answer is ON or REQ; an answer of
 * NOT_SUP (or OFF) makes it carry on in cleartext, LOGIN7 password and all. This makes `encrypt: true` mean what it
 * says: any other answer ends the connection before LOGIN7 is written. It wraps tedious's own step between reading
 * the PRELOGIN answer and sending LOGIN7 (performTlsNegotiation), on this connection only; if a tedious upgrade
 * renames that step, the connection is refused rather than left unguarded (and the TDS tests fail).
 */
export function refuseCleartext(conn: object): void {
  const c = conn as { performTlsNegotiation?: Negotiate; close?: () => void };
  const negotiate = c.performTlsNegotiation;
  if (typeof negotiate !== 'function') {
    c.close?.();
    throw Object.assign(new Error('this tedious version cannot be checked for an encrypted connection'), { code: NOT_ENCRYPTED });
  }
  c.performTlsNegotiation = async function (this: unknown, prelogin: Prelogin, signal: AbortSignal): Promise<void> {
    const answer = prelogin.encryptionString;
    if (answer !== 'ON' && answer !== 'REQ') {
      throw Object.assign(new Error(`the server answered PRELOGIN with encryption ${answer ?? 'unknown'}`), { code: NOT_ENCRYPTED, encryption: answer });
    }
    return negotiate.call(this, prelogin, signal);
  };
}
