import { describe, expect, it } from 'vitest';
import { BAD_JSON, classifyNetworkFailure, classifyStatus, TIMEOUT } from '../../connectors/http/http-errors.js';

describe('HTTP error table', () => {
  it.each([
    [500, 'source_transient', true],
    [502, 'source_transient', true],
    [503, 'source_transient', true],
    [504, 'source_transient', true],
    [429, 'source_transient', true],
    [501, 'source_query', false],
    [505, 'source_query', false],
    [401, 'source_auth', false],
    [403, 'source_auth', false],
    [400, 'source_query', false],
    [404, 'source_query', false],
    [302, 'source_query', false],
  ] as const)('HTTP %i → %s (retried in place: %s)', (status, kind, retry) => {
    expect(classifyStatus(status)).toEqual({ kind, retry });
  });

  it('a 2xx is no failure', () => {
    expect(classifyStatus(200)).toBeUndefined();
    expect(classifyStatus(204)).toBeUndefined();
  });

  it.each([
    ['ECONNRESET', 'source_transient', true], // axios: "socket hang up" / "read ECONNRESET"
    ['EPIPE', 'source_transient', true],
    ['ETIMEDOUT', 'source_transient', true],
    ['ERR_BAD_RESPONSE', 'source_transient', true], // axios: "stream has been aborted" (body cut off)
    [BAD_JSON, 'source_transient', true],
    ['ECONNREFUSED', 'source_connect', true],
    ['ENOTFOUND', 'source_connect', true],
    [TIMEOUT, 'source_connect', true],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'source_connect', false],
  ] as const)('%s → %s (retried in place: %s)', (code, kind, retry) => {
    expect(classifyNetworkFailure(code)).toEqual({ kind, retry });
  });
});
