import { afterEach, describe, expect, it } from 'vitest';
import { createESchoolDataSource, type ESchoolDataSourceOptions } from '../../connectors/eschooldata/eschooldata-source.js';
import type { ColumnDef } from '../../src/config/model.js';
import type { BindValue, BoundQuery, Source } from '../../src/core/source.js';
import { CURRENT_SCHOOL_YEAR } from '../../src/demo/demo-sis-fixtures.js';
import { captureLogger, demoStateIds, errorDump, failureOf, readAll } from '../helpers/api-source.js';
import { demoStudents } from '../servers/demo-students.js';
import { gradeCode, startFakeESchoolData, type FakeESchoolData, type FakeESchoolDataOptions } from '../servers/eschooldata/fake-eschooldata.js';

const CLIENT_ID = '3f2c9a7e-1b4d.guru.eschooldata.com/api';
const CLIENT_SECRET = 'esd-secret-b81f0c6a9d27';
const RIVERBEND = 'riverbend-ufsd';
const ALL = demoStudents(RIVERBEND);
const N = ALL.length;

const COLUMNS: ColumnDef[] = [
  { name: 'student_number', type: 'string', path: 'districtStudentId' },
  { name: 'state_id', type: 'string', path: 'stateStudentId' },
  { name: 'first_name', type: 'string', path: 'firstName' },
  { name: 'grade', type: 'string', path: 'gradeLevel' },
  { name: 'building', type: 'string', path: 'buildingCode' },
  { name: 'status', type: 'string', path: 'studentStatus' },
];
const FILTERS = {
  schoolYear: { param: 'schoolYear', path: 'schoolYear' },
  buildings: { param: 'buildingCode', path: 'buildingCode' },
  grades: 'gradeLevel',
  activeOnly: { path: 'studentStatus', active: ['Active'], param: 'studentStatus' },
};
const studentsQuery = (request: Record<string, unknown> = {}, values: Record<string, BindValue> = {}): BoundQuery => ({
  text: '',
  values,
  request: { endpoint: 'students', filters: FILTERS, ...request },
  columns: COLUMNS,
});

let server: FakeESchoolData | undefined;
let source: Source | undefined;
afterEach(async () => {
  await source?.close();
  await server?.close();
  source = server = undefined;
});

async function setup(serverOpts: Partial<FakeESchoolDataOptions> = {}, sourceOpts: Partial<ESchoolDataSourceOptions> = {}) {
  const fake = (server = await startFakeESchoolData({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, district: RIVERBEND, ...serverOpts }));
  const sleeps: number[] = [];
  const src = (source = createESchoolDataSource({
    id: 'riverbend-esd',
    tokenUrl: fake.tokenUrl,
    apiBase: fake.apiBase,
    clientId: () => CLIENT_ID,
    clientSecret: () => CLIENT_SECRET,
    timeoutSeconds: 5,
    maxConcurrency: 2,
    pageSize: 50,
    retries: 3,
    integration: 'riverbend-esd-test',
    sleep: async (ms) => void sleeps.push(ms),
    ...sourceOpts,
  }));
  return { fake, src, sleeps };
}
/** Page reads; the one-record re-reads of page seams at the end of a read (see paging.ts) are left out. */
const pages = (fake: FakeESchoolData) => fake.requests.filter((r) => r.path === '/api/v1/students' && r.query['pageSize'] !== '1');
const tokenRequests = (fake: FakeESchoolData) => fake.requests.filter((r) => r.path === '/api/v1/auth/token');

describe('eSchoolData source against the fake GURU API', () => {
  it('pages with pageNo/pageSize on one token and follows a smaller pageSize the server echoes', async () => {
    const { fake, src } = await setup({ maxPageSize: 40 }, { pageSize: 100 });
    const out = await readAll(src, studentsQuery());
    expect(out.rows.map((r) => r[1])).toEqual(ALL.map((s) => s.stateId));
    const s = ALL[0]!;
    expect(out.rows[0]).toEqual([s.studentNumber, s.stateId, s.firstName, gradeCode(s.gradeLevel), s.schoolCode, s.active ? 'Active' : 'Inactive']);
    expect(pages(fake).map((r) => Number(r.query['pageNo']))).toEqual(Array.from({ length: Math.floor(N / 40) + 1 }, (_, i) => i + 1));
    // Page 1 asks for 100; the rest ask for the 40 the server said it used.
    expect(pages(fake).map((r) => r.query['pageSize'])).toEqual(['100', ...Array.from({ length: Math.floor(N / 40) }, () => '40')]);
    expect(tokenRequests(fake)).toHaveLength(1);
    expect(pages(fake).every((r) => r.tokenSeq === 1)).toBe(true);
  });

  it('fetches a new token once when one expires mid-paging', async () => {
    const { fake, src } = await setup({ faults: { expireTokenOnPage: 4 } });
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(N);
    expect(tokenRequests(fake)).toHaveLength(2);
    expect(pages(fake).filter((r) => r.query['pageNo'] === '4').map((r) => r.status)).toEqual([401, 200]);
  });

  it('honours Retry-After on a 429 and retries a 500 on page 3', async () => {
    const { src, sleeps } = await setup({ faults: { rateLimitOnPage: 1, retryAfter: '1', serverErrorOnPage: 3 } });
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(N);
    expect(sleeps[0]).toBe(1000);
    expect(sleeps).toHaveLength(2);
  });

  it('fails retryably with both numbers when records vanish after the total went out, and reads on within completeness.tolerance', async () => {
    const remove = 7;
    let { fake, src } = await setup({ faults: { countDrift: { remove } } });
    // Page 1 was read before the removal: the students that shift into it are skipped, and the count shows it.
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.retryable, err.counts]).toEqual(['source_transient', true, { rows: N - remove, expected: N }]);
    expect(err.message).toBe(
      `integration riverbend-esd-test: source riverbend-esd: read ${N - remove} records but endpoint students counted ${N}; nothing was delivered (records changed during the read, or the server clipped pages; a retry reads it again)`,
    );
    await source!.close();
    await fake.close();
    ({ fake, src } = await setup({ faults: { countDrift: { add: 60 } } }, { tolerance: 60 }));
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(N + 60);
  });

  it('fails retryably when one student is deleted and one added mid-paging, though the total holds', async () => {
    const { src } = await setup({ faults: { countDrift: { remove: 1, add: 1 } } });
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.retryable, err.counts]).toEqual(['source_transient', true, { rows: N, expected: N }]);
    expect(err.message).toContain('records of endpoint students moved while it was paged (page 1 no longer ends with the record read there)');
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(N);
  });

  it('pages on past pages clipped without a pageSize in pagingInfo, and reads every student', async () => {
    const { fake, src } = await setup({ maxPageSize: 30, hidePageSize: true }, { pageSize: 100 });
    const out = await readAll(src, studentsQuery());
    expect(out.rows.map((r) => r[1])).toEqual(ALL.map((s) => s.stateId));
    expect(pages(fake).map((r) => r.query['pageSize'])).toEqual(['100', ...Array.from({ length: Math.ceil(N / 30) - 1 }, () => '30')]);
  });

  it('reads a short last page of one record and yields one empty batch for nothing', async () => {
    const { src } = await setup({ students: ALL.slice(0, 51) });
    expect((await readAll(src, studentsQuery())).rows).toHaveLength(51);
    const none = await readAll(src, studentsQuery({}, { buildings: ['NOPE'] }));
    expect(none).toMatchObject({ rows: [], batches: 1, columns: COLUMNS.map((c) => c.name) });
  });

  it('sends schoolYear, buildingCode and studentStatus, re-checks them, and selects what the demo data says', async () => {
    const { fake, src } = await setup();
    const values = { schoolYear: CURRENT_SCHOOL_YEAR, gradeMin: 0, gradeMax: 5, buildings: ['RES'], activeOnly: true };
    const out = await readAll(src, studentsQuery({}, values));
    expect(out.rows.map((r) => r[1]).sort()).toEqual(demoStateIds(RIVERBEND, { gradeMin: 0, gradeMax: 5, schoolCodes: ['RES'], activeOnly: true }).sort());
    expect(pages(fake)[0]!.query).toMatchObject({ schoolYear: String(CURRENT_SCHOOL_YEAR), buildingCode: 'RES', studentStatus: 'Active', pageNo: '1', pageSize: '50' });

    const two = await readAll(src, studentsQuery({}, { ...values, buildings: ['RES', 'RHS'], gradeMin: -1, gradeMax: 12 }));
    expect(two.rows.map((r) => r[1]).sort()).toEqual(demoStateIds(RIVERBEND, { schoolCodes: ['RES', 'RHS'], activeOnly: true }).sort());
    expect(pages(fake).at(-1)!.query['buildingCode']).toBeUndefined();
    expect((await readAll(src, studentsQuery({}, { schoolYear: CURRENT_SCHOOL_YEAR - 1 }))).rows).toEqual([]);
  });

  it('reports wrong credentials, a disabled endpoint and a malformed page plainly', async () => {
    const { fake, src } = await setup({ clientSecret: 'another-secret-456' });
    const auth = await failureOf(readAll(src, studentsQuery()));
    expect([auth.kind, auth.field, auth.retryable]).toEqual(['source_auth', 'sources.riverbend-esd.clientSecret', false]);
    await source!.close();
    await fake.close();

    const ok = await setup({ faults: { disabledEndpoints: ['/api/v1/students'], disabledStatus: 403 } });
    const disabled = await failureOf(readAll(ok.src, studentsQuery()));
    expect([disabled.kind, disabled.field, disabled.message]).toEqual([
      'source_query',
      'request.endpoint',
      'integration riverbend-esd-test: source riverbend-esd: endpoint students is not enabled for this district (HTTP 403)',
    ]);
    ok.fake.faults.disabledEndpoints = [];
    ok.fake.faults.malformedOnPage = 2;
    ok.fake.faults.malformedTimes = 10;
    const bad = await failureOf(readAll(ok.src, studentsQuery()));
    expect([bad.kind, bad.retryable, bad.message]).toEqual([
      'source_transient',
      true,
      expect.stringContaining('GET /api/v1/students answered HTTP 200 with a body that is not complete JSON (cut off in transit?); gave up after'),
    ]);
    Object.assign(ok.fake.faults, { malformedOnPage: 2, malformedTimes: 1, dropOnPage: 3 }); // once each: the retries read them whole
    const recovered = await readAll(ok.src, studentsQuery());
    expect(recovered.rows).toEqual((await readAll(ok.src, studentsQuery())).rows);
    expect(recovered.rows.length).toBeGreaterThan(200);
  });

  it('times out slow responses as source_connect after the retries', async () => {
    const { src, sleeps } = await setup({ faults: { delayMs: 5000 } }, { timeoutSeconds: 0.2, retries: 1 });
    const err = await failureOf(readAll(src, studentsQuery()));
    expect([err.kind, err.field]).toEqual(['source_connect', 'sources.riverbend-esd.apiBase']);
    expect(err.message).toContain('GET /api/v1/students timed out after 0.2s; gave up after 2 attempts');
    expect(sleeps).toHaveLength(1);
  });

  it('tests the connection with a token and the schools endpoint only', async () => {
    const { fake, src } = await setup();
    expect(await src.testConnection!()).toMatchObject({ server: 'eSchoolData GURU API', details: { schools: 2 } });
    expect(fake.requests.map((r) => r.path)).toEqual(['/api/v1/auth/token', '/api/v1/schools']);
  });

  it('never lets the secret or a bearer token into errors, causes, logs or the request log', async () => {
    const { fake, src } = await setup({ faults: { expireTokenOnPage: 2, rateLimitOnPage: 3 } });
    const { logger, entries } = captureLogger();
    const tokens = [await issueToken(fake)];
    await readAll(src, studentsQuery(), { logger });
    tokens.push(await issueToken(fake));
    const errors = [];
    fake.faults.serverErrorOnPage = 1;
    fake.faults.serverErrorTimes = 10;
    errors.push(await failureOf(readAll(src, studentsQuery(), { logger })));
    delete fake.faults.serverErrorOnPage;
    fake.faults.delayMs = 5000;
    const slow = createESchoolDataSource({ id: 'slow', tokenUrl: fake.tokenUrl, apiBase: fake.apiBase, clientId: () => CLIENT_ID, clientSecret: () => CLIENT_SECRET, timeoutSeconds: 0.1, maxConcurrency: 1, retries: 0 });
    errors.push(await failureOf(readAll(slow, studentsQuery(), { logger })));
    await slow.close();
    const wrong = createESchoolDataSource({ id: 'wrong', tokenUrl: fake.tokenUrl, apiBase: fake.apiBase, clientId: () => CLIENT_ID, clientSecret: () => `${CLIENT_SECRET}x`, timeoutSeconds: 5, maxConcurrency: 1 });
    errors.push(await failureOf(readAll(wrong, studentsQuery())));
    await wrong.close();
    expect(errors.map((e) => e.kind)).toEqual(['source_transient', 'source_connect', 'source_auth']);
    expect(tokens[0]).not.toBe(tokens[1]);
    const everything = [...errors.map(errorDump), JSON.stringify(entries), JSON.stringify(fake.requests)].join('\n');
    for (const secret of [CLIENT_SECRET, encodeURIComponent(CLIENT_SECRET), ...tokens]) expect(everything).not.toContain(secret);
  });
});

async function issueToken(fake: FakeESchoolData): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
  const res = await fetch(fake.tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  return ((await res.json()) as { access_token: string }).access_token;
}
