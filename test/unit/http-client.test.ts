import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHttpClient, retryAfterMs } from '../../connectors/http/http-client.js';
import { gradeNumber, substituteParams } from '../../connectors/http/records.js';
import { failureOf } from '../helpers/api-source.js';
import { freePort } from '../helpers/postgres.js';

const client = (sleeps: number[], retries = 2) =>
  createHttpClient({ who: 'source t', field: 'sources.t.baseUrl', timeoutMs: 2000, maxConcurrency: 1, retries, sleep: async (ms) => void sleeps.push(ms) });

describe('shared HTTP layer', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Mon, 23 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('retries a refused connection with growing, jittered waits and then fails as source_connect', async () => {
    const sleeps: number[] = [];
    const port = await freePort();
    const c = client(sleeps, 3);
    const err = await failureOf(c.send({ method: 'GET', url: `http://127.0.0.1:${port}/ws/v1/metadata`, headers: { Authorization: 'Bearer tok-abcdef123456' } }));
    c.close();
    expect([err.kind, err.message]).toEqual(['source_connect', 'source t: GET /ws/v1/metadata failed (ECONNREFUSED); gave up after 4 attempts']);
    expect(sleeps).toHaveLength(3);
    expect(sleeps[0]).toBeGreaterThanOrEqual(250);
    expect(sleeps[0]).toBeLessThanOrEqual(500);
    expect(sleeps[2]).toBeGreaterThanOrEqual(1000);
    expect(JSON.stringify(err.cause)).not.toContain('tok-abcdef123456');
  });

  it('retries a 200 whose JSON is cut short and a body cut off mid-transfer, then hands over the parsed answer', async () => {
    let calls = 0;
    const server = http.createServer((_req, res) => {
      calls++;
      if (calls === 1) return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"students":[{"id":"S-0001","last_name":"Ma');
      if (calls === 2) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
        return res.write('{"students":[', () => res.destroy());
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"students":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sleeps: number[] = [];
    const c = client(sleeps, 2);
    try {
      const res = await c.send({ method: 'GET', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/students` });
      expect([res.status, res.json, calls, sleeps.length]).toEqual([200, { students: [] }, 3, 2]);
    } finally {
      c.close();
      server.close();
    }
  });

  it('gives up on JSON that stays cut short as source_transient, quoting none of the body', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"students":[{"last_name":"Maria'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c = client([], 1);
    try {
      const err = await failureOf(c.send({ method: 'GET', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/students` }));
      expect([err.kind, err.retryable, err.message]).toEqual(['source_transient', true, 'source t: GET /api/v1/students answered HTTP 200 with a body that is not complete JSON (cut off in transit?); gave up after 2 attempts']);
      expect(JSON.stringify(err.cause)).not.toContain('Maria');
    } finally {
      c.close();
      server.close();
    }
  });

  it('retries a connection reset and returns the next answer', async () => {
    let calls = 0;
    const server = http.createServer((req, res) => {
      if (++calls === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sleeps: number[] = [];
    const c = client(sleeps);
    try {
      const res = await c.send({ method: 'GET', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x` });
      expect([res.status, res.body, sleeps.length]).toEqual([200, '{"ok":true}', 1]);
    } finally {
      c.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('understands grade codes and substitutes {{param}} placeholders with their types', () => {
    expect(['PK', 'K', 'KF', '01', '12', 5, 'X'].map(gradeNumber)).toEqual([-1, 0, 0, 1, 12, 5, undefined]);
    const fail = (n: string): never => {
      throw new Error(`unbound ${n}`);
    };
    expect(substituteParams({ a: '{{year}}', b: ['{{ids}}'], c: 'y={{year}}' }, { year: 2027, ids: ['1', '2'] }, fail)).toEqual({ a: 2027, b: [['1', '2']], c: 'y=2027' });
    expect(() => substituteParams('{{nope}}', {}, fail)).toThrow('unbound nope');
  });
});
