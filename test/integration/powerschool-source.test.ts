import { afterEach, describe, expect, it } from 'vitest';
import { createPowerSchoolSource, type PowerSchoolSourceOptions } from '../../connectors/powerschool/powerschool-source.js';
import type { ColumnDef } from '../../src/config/model.js';
import type { BindValue, BoundQuery, Source } from '../../src/core/source.js';
import { captureLogger, demoStateIds, errorDump, failureOf, readAll } from '../helpers/api-source.js';
import { demoStudents } from '../servers/demo-students.js';
import { startFakePowerSchool, type FakePowerSchool, type FakePowerSchoolOptions } from '../servers/powerschool/fake-powerschool.js';
import { BASIC_INFO, STUDENT_PHONES } from '../servers/powerschool/ps-powerqueries.js';
import { psSchoolNumberOf } from '../servers/powerschool/ps-records.js';

const CLIENT_ID = 'ferry-plugin-7f3a91';
const CLIENT_SECRET = 'ps-secret-9c1d4e7b2a55';
const HILLTOP = 'hilltop-csd';
const ALL = demoStudents(HILLTOP);
const N = ALL.length;

const COLUMNS: ColumnDef[] = [
  { name: 'dcid', type: 'integer', path: 'id' },
  { name: 'state_id', type: 'string', path: 'state_province_id' },
  { name: 'first_name', type: 'string', path: 'name.first_name' },
  { name: 'grade', type: 'integer', path: 'school_enrollment.grade_level' },
  { name: 'school', type: 'integer', path: 'school_enrollment.school_number' },
  { name: 'birth_date', type: 'date', path: 'demographics.birth_date' },
  { name: 'email', type: 'string', path: 'contact_info.email' },
];
const FILTERS = {
  grades: 'school_enrollment.grade_level',
  buildings: 'school_enrollment.school_number',
  activeOnly: { path: 'school_enrollment.enroll_status', active: ['A'] },
};
const studentsQuery = (request: Record<string, unknown> = {}, values: Record<string, BindValue> = {}): BoundQuery => ({
  text: '',
  values,
  request: { resource: '/ws/v1/district/student', expansions: ['school_enrollment', 'demographics', 'contact_info'], filters: FILTERS, ...request },
  columns: COLUMNS,
});

let server: FakePowerSchool | undefined;
let source: Source | undefined;
afterEach(async () => {
  await source?.close();
  await server?.close();
  source = server = undefined;
});

async function setup(serverOpts: Partial<FakePowerSchoolOptions> = {}, sourceOpts: Partial<PowerSchoolSourceOptions> = {}) {
  const fake = (server = await startFakePowerSchool({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...serverOpts }));
  const sleeps: number[] = [];
  const src = (source = createPowerSchoolSource({
    id: 'hilltop-ps',
    baseUrl: fake.url,
    clientId: () => CLIENT_ID,
    clientSecret: () => CLIENT_SECRET,
    timeoutSeconds: 5,
    maxConcurrency: 2,
    pageSize: 50,
    retries: 3,
    integration: 'hilltop-ps-test',
    sleep: async (ms) => void sleeps.push(ms),
    ...sourceOpts,
  }));
  return { fake, src, sleeps };
}
/** Page reads; the one-record re-reads of page seams at the end of a read (see paging.ts) are `seamChecks`. */
const pageRequests = (fake: FakePowerSchool, path = '/ws/v1/district/student') => fake.requests.filter((r) => r.path === path && r.query['pagesize'] !== '1');
const seamChecks = (fake: FakePowerSchool, path = '/ws/v1/district/student') => fake.requests.filter((r) => r.path === path && r.query['pagesize'] === '1');
const tokenRequests = (fake: FakePowerSchool) => fake.requests.filter((r) => r.path.startsWith('/oauth/'));

describe('PowerSchool source against the fake PowerSchool', () => {
  it('pages through every student with one token, /count first and the metadata page size', async () => {
    const { fake, src } = await setup({ maxPageSize: 40 }, { pageSize: 100 });
    const out = await readAll(src, studentsQuery());
    expect(out.columns).toEqual(COLUMNS.map((c) => c.name));
    expect(out.rows.map((r) => r[1])).toEqual(ALL.map((s) => s.stateId));
    const first = ALL[0]!;
    expect(out.rows[0]).toEqual([1000 + first.seq, first.stateId, first.firstName, first.gradeLevel, psSchoolNumberOf(HILLTOP, first.schoolCode), first.birthDate, first.email]);
    const pages = pageRequests(fake);
    expect(pages.map((r) => Number(r.query['page']))).toEqual(Array.from({ length: pages.length }, (_, i) => i + 1));
    expect(pages.length).toBe(Math.floor(N / 40) + 1);
    expect(pages.every((r) => r.query['pagesize'] === '40' && r.query['expansions'] === 'school_enrollment,demographics,contact_info')).toBe(true);
    expect(fake.requests.findIndex((r) => r.path.endsWith('/count'))).toBeLessThan(fake.requests.indexOf(pages[0]!));
    // Each page's last record, read again once every page is in: nothing moved, so the read stands.
    expect(seamChecks(fake).map((r) => Number(r.query['page'])).sort((a, b) => a - b)).toEqual(Array.from({ length: pages.length - 1 }, (_, i) => (i + 1) * 40));
    expect(tokenRequests(fake)).toHaveLength(1);
    expect(fake.requests.filter((r) => r.auth === 'bearer').every((r) => r.tokenSeq === 1)).toBe(true);
  });

  it('fetches a new token once when one expires mid-paging, and finishes the read', async () => {
    const { fake, src } = await setup({ faults: { expireTokenOnPage: 3 } });
    const out = await readAll(src, studentsQuery());
    expect(out.rows).toHaveLength(N);
    expect(tokenRequests(fake)).toHaveLength(2);
    const page3 = pageRequests(fake).filter((r) => r.query['page'] === '3');
    expect(page3.map((r) => [r.status, r.tokenSeq])).toEqual([[401, 1], [200, 2]]);
  });

  it('reuses a token until shortly before it expires', async () => {
    let now = Date.parse('2026-11-23T12:00:00Z');
    const { fake, src } = await setup({ tokenTtlSeconds: 3600, students: ALL.slice(0, 10) }, { now: () => now });
    await readAll(src, studentsQuery());
    now += 3000 * 1000;
    await readAll(src, studentsQuery());
    expect(tokenRequests(fake)).toHaveLength(1);
    now += 560 * 1000; // inside the last minute of the hour
    await readAll(src, studentsQuery());
    expect(tokenRequests(fake)).toHaveLength(2);
  });

  it('waits out a 429 for the Retry-After seconds and retries a 500 on page 3', async () => {
    const { fake, src, sleeps } = await setup({ faults: { rateLimitOnPage: 2, retryAfter: '1', serverErrorOnPage: 3 } });
    const out = await readAll(src, studentsQuery());
    expect(out.rows).toHaveLength(N);
    expect(sleeps[0]).toBe(1000);
    expect(sleeps).toHaveLength(2);
    expect(pageRequests(fake).map((r) => r.status)).toContain(500);
  });

  it('retries a page cut off mid-body and a page whose JSON is truncated, and reads every record once', async () => {
    const { fake, src, sleeps } = await setup({ faults: { dropOnPage: 2, malformedOnPage: 3 } });
    const out = await readAll(src, studentsQuery());
    expect(out.rows).toHaveLength(N);
    expect(new Set(out.rows.map((r) => r[0])).size).toBe(N);
    expect(sleeps).toHaveLength(2);
    expect(pageRequests(fake).map((r) => r.query['page'])).toEqual(['1', '2', '2', '3', '3', ...pageRequests(fake).slice(5).map((r) => r.query['page'])]);
  });

  it('gives up with source_transient (a later run may retry) when the 500s do not stop', async () => {
    const { src, sleeps } = await setup({ faults: { serverErrorOnPage: 2, serverErrorTimes: 10 } }, { retries: 2 });
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.retryable]).toEqual(['source_transient', true]);
    expect(err.message).toBe('integration hilltop-ps-test: source hilltop-ps: GET /ws/v1/district/student answered HTTP 500; gave up after 3 attempts');
    expect(sleeps).toHaveLength(2);
  });

  it('fails retryably, with both numbers, when records vanish or appear after /count, and reads on within completeness.tolerance', async () => {
    const remove = 7;
    let { fake, src } = await setup({ faults: { countDrift: { remove } } });
    const short = await failureOf(readAll(src, studentsQuery()));
    expect([short.kind, short.retryable, short.counts]).toEqual(['source_transient', true, { rows: N - remove, expected: N }]);
    expect(short.message).toBe(
      `integration hilltop-ps-test: source hilltop-ps: read ${N - remove} records but /ws/v1/district/student counted ${N}; nothing was delivered (records changed during the read, or the server clipped pages; a retry reads it again)`,
    );
    // The short last page did not end the read: the empty page after it did.
    expect(pageRequests(fake).at(-1)!.query['page']).toBe(String(Math.ceil((N - remove) / 50) + 1));
    await source!.close();
    await fake.close();
    ({ fake, src } = await setup({ faults: { countDrift: { add: 75 } } }));
    const excess = await failureOf(readAll(src, studentsQuery()));
    expect([excess.kind, excess.counts]).toEqual(['source_transient', { rows: N + 75, expected: N }]);
    await source!.close();
    await fake.close();
    ({ fake, src } = await setup({ faults: { countDrift: { add: 75 } } }, { tolerance: 75 }));
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(N + 75);
    // Full pages that never end (a flood of new records, or a server ignoring `page`): a few pages past the count, then stop.
    fake.faults.countDrift = { add: 5000 };
    const before = pageRequests(fake).length;
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.message]).toEqual(['source_query', expect.stringContaining(`kept returning full pages past the ${N + 75} records its count reported`)]);
    expect(pageRequests(fake).length - before).toBe(Math.ceil((N + 75) / 50) + 3);
  });

  it('pages on past pages a plugin clips without saying so in /ws/v1/metadata, at the size it used, and reads every student', async () => {
    const { fake, src } = await setup({ maxPageSize: 100, silentClip: 30 }, { pageSize: 100 });
    const out = await readAll(src, studentsQuery());
    expect(out.rows.map((r) => r[1])).toEqual(ALL.map((s) => s.stateId));
    const sizes = pageRequests(fake).map((r) => r.query['pagesize']);
    expect(sizes).toEqual(['100', ...Array.from({ length: Math.ceil(N / 30) - 1 }, () => '30')]);
  });

  it('fails retryably when one student is deleted and one added mid-paging (the total unchanged, a still-enrolled student skipped)', async () => {
    const { fake, src } = await setup({ faults: { countDrift: { remove: 1, add: 1, afterPage: 2 } } });
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.retryable, err.counts]).toEqual(['source_transient', true, { rows: N, expected: N }]);
    expect(err.message).toBe(
      'integration hilltop-ps-test: source hilltop-ps: records of /ws/v1/district/student moved while it was paged (page 1 no longer ends with the record read there), so a record may have been skipped; nothing was delivered (a retry reads it again)',
    );
    // Read again, the data holds still: the same read now passes, every current student once.
    const out = await readAll(src, studentsQuery());
    expect(out.rows).toHaveLength(N);
    expect(new Set(out.rows.map((r) => r[0])).size).toBe(N);
    expect(seamChecks(fake).length).toBeGreaterThan(0);
  });

  it('handles a one-record page (an object) and an empty result (no singular key)', async () => {
    const { fake, src } = await setup({ students: ALL.slice(0, 51) });
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(51);
    const raw = await fetchJson(fake, '/ws/v1/district/student?page=2&pagesize=50');
    expect(Array.isArray((raw as { students: { student: unknown } }).students.student)).toBe(false);
    const none = await readAll(src, studentsQuery({ q: 'name.last_name==Nobody*' }));
    expect(none).toMatchObject({ rows: [], batches: 1, columns: COLUMNS.map((c) => c.name) });
    expect(await fetchJson(fake, '/ws/v1/district/student?q=name.last_name==Nobody*')).toEqual({ students: expect.not.objectContaining({ student: expect.anything() }) });
  });

  it('fills {param} placeholders in the resource path and sends only q to /count', async () => {
    const { fake, src } = await setup();
    const out = await readAll(src, studentsQuery({ resource: '/ws/v1/school/{schoolId}/student' }, { schoolId: 2 }));
    expect(out.rows.map((r) => r[1]).sort()).toEqual(demoStateIds(HILLTOP, { schoolCodes: ['HMS'] }).sort());
    expect(pageRequests(fake, '/ws/v1/school/2/student/count')[0]!.query).toEqual({});
    const unbound = await failureOf(readAll(src, studentsQuery({ resource: '/ws/v1/school/{schoolId}/student' })));
    expect([unbound.kind, unbound.field]).toEqual(['config', 'request.resource']);
  });

  it('pushes grades and activeOnly into q, filters buildings after the fetch, and selects what the demo data says', async () => {
    const { fake, src } = await setup();
    const hes = String(psSchoolNumberOf(HILLTOP, 'HES'));
    const out = await readAll(src, studentsQuery({ q: 'demographics.gender=ge=A', expansions: ['school_enrollment'] }, { gradeMin: 0, gradeMax: 5, buildings: [hes], activeOnly: true }));
    expect(out.rows.map((r) => r[1]).sort()).toEqual(demoStateIds(HILLTOP, { gradeMin: 0, gradeMax: 5, schoolCodes: ['HES'], activeOnly: true }).sort());
    expect(out.rows.every((r) => r[5] === null)).toBe(true); // demographics not expanded
    const q = 'demographics.gender=ge=A;school_enrollment.grade_level=ge=0;school_enrollment.grade_level=le=5;school_enrollment.enroll_status==A';
    expect(pageRequests(fake).every((r) => r.query['q'] === q && r.query['expansions'] === 'school_enrollment')).toBe(true);
    expect(pageRequests(fake, '/ws/v1/district/student/count')[0]!.query['q']).toBe(q);
    const missing = await failureOf(readAll(src, studentsQuery({ filters: {} }, { buildings: [hes] })));
    expect([missing.kind, missing.field]).toEqual(['config', 'request.filters.buildings']);
  });

  it('reads a PowerQuery page by page with its arguments, and names an ungranted field', async () => {
    const { fake, src } = await setup();
    const hes = psSchoolNumberOf(HILLTOP, 'HES');
    const query: BoundQuery = {
      text: '',
      values: { school: String(hes), activeOnly: true },
      request: { powerQuery: BASIC_INFO, args: { school_number: '{{school}}' }, filters: { activeOnly: { path: 'enroll_status', active: ['0'] } } },
      columns: [{ name: 'state_id', type: 'string', path: 'state_studentnumber' }, { name: 'grade', type: 'integer', path: 'grade_level' }],
    };
    const out = await readAll(src, query);
    expect(out.rows.map((r) => r[0]).sort()).toEqual(demoStateIds(HILLTOP, { schoolCodes: ['HES'], activeOnly: true }).sort());
    const pq = pageRequests(fake, `/ws/schema/query/${BASIC_INFO}`);
    expect(pq.length).toBeGreaterThan(1);
    expect(pq.every((r) => r.method === 'POST' && r.query['pagesize'] === '50' && JSON.stringify(r.json) === JSON.stringify({ school_number: String(hes) }))).toBe(true);
    expect(fake.requests.some((r) => r.path === `/ws/schema/query/${BASIC_INFO}/count`)).toBe(true);

    const denied = await failureOf(readAll(src, { ...query, values: {}, request: { powerQuery: STUDENT_PHONES } }));
    expect(denied.kind).toBe('source_query');
    expect(denied.message).toContain(`PowerQuery ${STUDENT_PHONES}: no access to field pssis_person_phone.phonetype — grant it in the plugin's access_request`);
    const unknown = await failureOf(readAll(src, { ...query, values: {}, request: { powerQuery: 'org.example.missing' } }));
    expect([unknown.kind, unknown.message]).toEqual(['source_query', expect.stringContaining('PowerQuery org.example.missing not found')]);
  });

  it('reports wrong credentials, a disabled endpoint and a malformed page plainly', async () => {
    const { fake, src } = await setup({ clientSecret: 'the-real-secret-123' });
    const auth = await failureOf(readAll(src, studentsQuery()));
    expect([auth.kind, auth.field, auth.retryable]).toEqual(['source_auth', 'sources.hilltop-ps.clientSecret', false]);
    expect(auth.message).toContain('refused the client credentials (invalid_client)');
    await source!.close();
    await fake.close();

    const ok = await setup({ faults: { disabledEndpoints: ['/ws/v1/district/student/count'], disabledStatus: 404 } });
    const disabled = await failureOf(readAll(ok.src, studentsQuery()));
    expect([disabled.kind, disabled.message]).toEqual(['source_query', 'integration hilltop-ps-test: source hilltop-ps: endpoint not enabled/not found: /ws/v1/district/student/count (HTTP 404)']);
    ok.fake.faults.disabledEndpoints = [];
    ok.fake.faults.malformedOnPage = 2;
    ok.fake.faults.malformedTimes = 4;
    const bad = await failureOf(readAll(ok.src, studentsQuery()));
    expect([bad.kind, bad.message]).toEqual([
      'source_transient',
      'integration hilltop-ps-test: source hilltop-ps: GET /ws/v1/district/student answered HTTP 200 with a body that is not complete JSON (cut off in transit?); gave up after 4 attempts',
    ]);
  });

  it('times out slow responses as source_connect after the retries', async () => {
    const { src, sleeps } = await setup({ faults: { delayMs: 5000 } }, { timeoutSeconds: 0.2, retries: 2 });
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.retryable, err.field]).toEqual(['source_connect', true, 'sources.hilltop-ps.baseUrl']);
    expect(err.message).toContain('GET /ws/v1/metadata timed out after 0.2s; gave up after 3 attempts');
    expect(sleeps).toHaveLength(2);
  });

  it('keeps at most maxConcurrency requests in flight across streams', async () => {
    const { fake, src } = await setup({ faults: { delayMs: 30 }, students: ALL.slice(0, 120) }, { maxConcurrency: 1 });
    await Promise.all([readAll(src, studentsQuery()), readAll(src, studentsQuery())]);
    expect(fake.peakInFlight).toBe(1);
  });

  it('tests the connection without reading students', async () => {
    const { fake, src } = await setup();
    const info = await src.testConnection!();
    expect(info).toMatchObject({ server: 'PowerSchool 24.7.0.0', details: { pluginId: 4242, maxPageSize: 100, state: 'NY' } });
    expect(fake.requests.map((r) => r.path)).toEqual(['/ws/v1/time', '/oauth/access_token', '/ws/v1/metadata']);
  });

  it('never lets the secret, the Basic header or the bearer token into errors, causes or logs', async () => {
    const { fake, src } = await setup({ faults: { expireTokenOnPage: 2, rateLimitOnPage: 3 } });
    const { logger, entries } = captureLogger();
    const tokens = [await issueToken(fake)]; // the fake hands out the same token until it expires or is revoked
    await readAll(src, studentsQuery(), { logger });
    tokens.push(await issueToken(fake));
    const errors = [];
    fake.faults.serverErrorOnPage = 1;
    fake.faults.serverErrorTimes = 10;
    errors.push(await failureOf(readAll(src, studentsQuery(), { logger })));
    delete fake.faults.serverErrorOnPage;
    Object.assign(fake.faults, { malformedOnPage: 1, malformedTimes: 10 });
    errors.push(await failureOf(readAll(src, studentsQuery(), { logger })));
    delete fake.faults.malformedOnPage;
    fake.faults.delayMs = 5000;
    const slow = createPowerSchoolSource({ id: 'slow', baseUrl: fake.url, clientId: () => CLIENT_ID, clientSecret: () => CLIENT_SECRET, timeoutSeconds: 0.1, maxConcurrency: 1, retries: 0 });
    errors.push(await failureOf(readAll(slow, studentsQuery(), { logger })));
    await slow.close();
    const wrong = createPowerSchoolSource({ id: 'wrong', baseUrl: fake.url, clientId: () => CLIENT_ID, clientSecret: () => `${CLIENT_SECRET}x`, timeoutSeconds: 5, maxConcurrency: 1 });
    errors.push(await failureOf(readAll(wrong, studentsQuery())));
    await wrong.close();
    expect(errors.map((e) => e.kind)).toEqual(['source_transient', 'source_transient', 'source_connect', 'source_auth']);
    const everything = [...errors.map(errorDump), JSON.stringify(entries), JSON.stringify(fake.requests)].join('\n');
    const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
    expect(tokens[0]).not.toBe(tokens[1]);
    for (const secret of [CLIENT_SECRET, basic, ...tokens]) expect(everything).not.toContain(secret);
    expect(entries.some((e) => e['message'] === 'api token rejected; fetching a new one')).toBe(true);
  });
});

function basicHeaders(): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' };
}

async function issueToken(fake: FakePowerSchool): Promise<string> {
  const res = await fetch(`${fake.url}/oauth/access_token`, { method: 'POST', headers: basicHeaders(), body: 'grant_type=client_credentials' });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function fetchJson(fake: FakePowerSchool, path: string): Promise<unknown> {
  return (await fetch(`${fake.url}${path}`, { headers: { Authorization: `Bearer ${await issueToken(fake)}` } })).json();
}
