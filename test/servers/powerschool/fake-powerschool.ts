import { DEFAULT_DISTRICT, demoSchools, demoStudents, type DemoStudent } from '../demo-students.js';
import { basicCredentials, bearerToken, startFakeHttp, type FakeReply, type FakeRequest, type RequestLog } from '../fake-http.js';
import { disabledReply, takePageFault, type FaultPlan } from '../fault-plan.js';
import { createTokenStore } from '../fake-tokens.js';
import { grantedFields, readPlugin } from './plugin-xml.js';
import { psDemoDb } from './ps-demo-db.js';
import { FERRY_QUERIES, type FerryQuery } from './ps-ferry-queries.js';
import { POWER_QUERIES } from './ps-powerqueries.js';
import { ALL_EXPANSIONS, ALL_EXTENSIONS, compileQ, project, psSchool, psSchoolNumberOf, psStudent } from './ps-records.js';

/**
 * A fake PowerSchool SIS plugin API, faithful to reference §1 and §8: client-credentials tokens (same token until it
 * expires), /ws/v1 metadata, time, district schools and students with /count, q search, expansions, the one-record
 * and empty-page envelope quirks, PowerQueries with "Validation Failed" for ungranted fields, and fault injection.
 * It also answers every named query of the Ferry plugin (extracts/powerschool/plugin) over the demo SIS data
 * (ps-ferry-*.ts), checking each query's fields against the plugin's access_request, and the student `lunch` expansion.
 */
export interface FakePowerSchoolOptions {
  clientId: string;
  clientSecret: string;
  /** Default: the demo students of `district`. */
  students?: DemoStudent[];
  district?: string;
  /** Per-plugin maximum page size reported in /ws/v1/metadata (default 100). */
  maxPageSize?: number;
  /**
   * A plugin setting that clips every page to this many records while /ws/v1/metadata still reports `maxPageSize`
   * (the clip is silent: only the page's length shows it).
   */
  silentClip?: number;
  /** A pagesize above the maximum: clip it (PowerSchool's documented default) or answer 400. */
  overMaxPageSize?: 'clip' | 400;
  tokenTtlSeconds?: number;
  /** Schema fields the plugin's access_request does not grant (default: pssis_person_phone.phonetype). */
  restrictedFields?: string[];
  /**
   * The Ferry plugin's access_request as `table.field` (default: read from extracts/powerschool/plugin/plugin.xml). Its
   * named queries (org.ferry.*) answer "Validation Failed" for any field they read that is not in it.
   */
  pluginAccess?: readonly string[];
  faults?: FaultPlan;
}

export interface FakePowerSchool {
  url: string;
  requests: RequestLog[];
  faults: FaultPlan;
  /** Tokens issued so far. */
  readonly tokensIssued: number;
  readonly peakInFlight: number;
  whenIdle(): Promise<void>;
  whenStalled(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakePowerSchool(opts: FakePowerSchoolOptions): Promise<FakePowerSchool> {
  const district = opts.district ?? DEFAULT_DISTRICT;
  const schools = demoSchools(district);
  let students = [...(opts.students ?? demoStudents(district))];
  const maxPageSize = opts.maxPageSize ?? 100;
  const restricted = new Set(opts.restrictedFields ?? ['pssis_person_phone.phonetype']);
  const granted = new Set((opts.pluginAccess ?? [...grantedFields(readPlugin())]).map((f) => f.toLowerCase()));
  const lunchOf = (s: DemoStudent) => psDemoDb(district).lunchByStudentId.get(s.studentId);
  const faults: FaultPlan = opts.faults ?? {};
  const tokens = createTokenStore(opts.tokenTtlSeconds ?? 30 * 86_400);
  const schoolNumberOf = (code: string) => psSchoolNumberOf(district, code);

  /** `at`: 'count' when a count was served, or the page number just served. */
  const drift = (at: 'count' | number) => {
    const d = faults.countDrift;
    if (!d || (d.afterPage ?? 'count') !== at) return;
    delete faults.countDrift;
    students = students.slice(d.remove ?? 0);
    const last = students[students.length - 1] ?? demoStudents(district)[0]!;
    const top = Math.max(0, ...students.map((s) => s.seq));
    for (let i = 1; i <= (d.add ?? 0); i++) students.push({ ...last, seq: top + i, studentId: `NEW-${top + i}`, studentNumber: `N${top + i}`, stateId: `990${top + i}` });
  };

  const paged = (req: FakeRequest, list: readonly Record<string, unknown>[], max: number): { items: Record<string, unknown>[] } | FakeReply => {
    const page = Number(req.query.get('page') ?? '1');
    let size = Number(req.query.get('pagesize') ?? String(max));
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 0) return { status: 400, body: { message: 'Bad Request: invalid page or pagesize' } };
    if (size > max) {
      if (opts.overMaxPageSize === 400) return { status: 400, body: { message: `Bad Request: pagesize cannot be greater than ${max}` } };
      size = max;
    }
    if (opts.silentClip !== undefined) size = Math.min(size, opts.silentClip);
    if (size === 0) return { items: [...list] }; // pagesize=0: everything in one page (PowerQuery quirk)
    return { items: list.slice((page - 1) * size, page * size) };
  };

  const envelope = (plural: string, singular: string, items: unknown[], extra: Record<string, unknown> = {}): FakeReply => {
    const inner: Record<string, unknown> = { ...extra };
    if (items.length === 1) inner[singular] = items[0]; // one record: an object, not a list
    else if (items.length > 1) inner[singular] = items; // none: no singular key at all
    return { status: 200, body: { [plural]: inner } };
  };

  const studentList = (req: FakeRequest, schoolId?: number): Record<string, unknown>[] | FakeReply => {
    const q = compileQ(req.query.get('q'));
    if ('error' in q) return { status: 400, body: { message: q.error } };
    return students
      .map((s) => psStudent(district, schools, s, lunchOf(s)))
      .filter((r) => schoolId === undefined || (r['school_enrollment'] as { school_id: number }).school_id === schoolId)
      .filter(q);
  };

  const students$ = (req: FakeRequest, count: boolean, schoolId?: number): FakeReply => {
    const list = studentList(req, schoolId);
    if (!Array.isArray(list)) return list;
    if (count) {
      drift('count');
      return { status: 200, body: { resource: { count: list.length } } };
    }
    const expansions = (req.query.get('expansions') ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    const page = paged(req, list, maxPageSize);
    if (!('items' in page)) return page;
    drift(Number(req.query.get('page') ?? '1'));
    return envelope('students', 'student', page.items.map((r) => project(r, expansions)), { '@expansions': ALL_EXPANSIONS, '@extensions': ALL_EXTENSIONS });
  };

  const powerQuery = (req: FakeRequest, name: string, count: boolean): FakeReply => {
    const ferry = FERRY_QUERIES.get(name);
    if (ferry) return ferryQuery(req, ferry, count);
    const pq = POWER_QUERIES[name];
    if (!pq) return { status: 404, body: { message: 'Not Found' } };
    const denied = pq.fields.filter((f) => restricted.has(f));
    if (denied.length > 0) {
      return { status: 400, body: { message: 'Validation Failed', errors: denied.map((field) => ({ resource: name, field, code: 'No access to the field' })) } };
    }
    let args: Record<string, unknown>;
    try {
      args = req.body.trim() === '' ? {} : (JSON.parse(req.body) as Record<string, unknown>);
    } catch {
      return { status: 400, body: { message: 'Bad Request: body is not JSON' } };
    }
    req.log.json = args;
    const unknown = Object.keys(args).find((a) => !pq.args.includes(a));
    if (unknown !== undefined) return { status: 400, body: { message: `Bad Request: invalid argument ${unknown}` } };
    const rows = pq.run(students, args, schoolNumberOf);
    if (count) {
      drift('count');
      return { status: 200, body: { count: rows.length } };
    }
    const page = paged(req, rows, maxPageSize);
    if (!('items' in page)) return page;
    drift(Number(req.query.get('page') ?? '1'));
    return { status: 200, body: { name, record: page.items, '@extensions': '' } };
  };

  /** A Ferry plugin query: fields checked against the plugin's grants, declared args only (all required), string values. */
  const ferryQuery = (req: FakeRequest, q: FerryQuery, count: boolean): FakeReply => {
    const denied = q.fields.filter((f) => !granted.has(f) || restricted.has(f));
    if (denied.length > 0) {
      return { status: 400, body: { message: 'Validation Failed', errors: denied.map((field) => ({ resource: q.name, field, code: 'No access to the field' })) } };
    }
    let body: unknown;
    try {
      body = req.body.trim() === '' ? {} : JSON.parse(req.body);
    } catch {
      return { status: 400, body: { message: 'Bad Request: body is not JSON' } };
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status: 400, body: { message: 'Bad Request: body is not an object' } };
    req.log.json = body;
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (!q.args.includes(k)) return { status: 400, body: { message: `Bad Request: invalid argument ${k}` } };
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return { status: 400, body: { message: `Bad Request: argument ${k} is not a primitive` } };
      args[k] = String(v);
    }
    const missing = q.args.find((a) => !(a in args));
    if (missing !== undefined) return { status: 400, body: { message: `Bad Request: missing required argument ${missing}` } };
    const rows = q.run(psDemoDb(district), args).map((cells) => {
      const record: Record<string, string> = {};
      q.columns.forEach((c, i) => {
        const v = cells[i];
        if (v !== null && v !== undefined) record[c] = String(v); // null columns are left out of the record
      });
      return record;
    });
    if (count) {
      drift('count');
      return { status: 200, body: { count: rows.length } };
    }
    const page = paged(req, rows, maxPageSize);
    if (!('items' in page)) return page;
    return { status: 200, body: { name: q.name, record: page.items, '@extensions': '' } };
  };

  const route = (req: FakeRequest): FakeReply => {
    const { method, path } = req;
    if (method === 'GET' && path === '/ws/v1/metadata') {
      return {
        status: 200,
        body: {
          metadata: {
            plugin_id: 4242,
            powerschool_version: '24.7.0.0',
            state: 'NY',
            district_timezone: 'America/New_York',
            district_uuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
            student_max_page_size: maxPageSize,
            school_max_page_size: maxPageSize,
            staff_max_page_size: maxPageSize,
            section_max_page_size: maxPageSize,
            schema_table_query_max_page_size: maxPageSize,
          },
        },
      };
    }
    if (method === 'GET' && path === '/ws/v1/district/student') return students$(req, false);
    if (method === 'GET' && path === '/ws/v1/district/student/count') return students$(req, true);
    const bySchool = /^\/ws\/v1\/school\/(\d+)\/student(\/count)?$/.exec(path);
    if (method === 'GET' && bySchool) {
      const id = Number(bySchool[1]);
      if (!schools.some((s) => s.seq === id)) return { status: 404, body: { message: 'Not Found' } };
      return students$(req, bySchool[2] !== undefined, id);
    }
    if (method === 'GET' && (path === '/ws/v1/district/school' || path === '/ws/v1/district/school/count')) {
      if (path.endsWith('/count')) return { status: 200, body: { resource: { count: schools.length } } };
      const page = paged(req, schools.map((s) => psSchool(district, s)), maxPageSize);
      return 'items' in page ? envelope('schools', 'school', page.items) : page;
    }
    const pq = /^\/ws\/schema\/query\/([A-Za-z0-9_.]+?)(\/count)?$/.exec(path);
    if (method === 'POST' && pq) return powerQuery(req, pq[1]!, pq[2] !== undefined);
    return { status: 404, body: { message: 'Not Found' } };
  };

  const server = await startFakeHttp(async (req) => {
    if (req.method === 'POST' && /^\/oauth\/access_token\/?$/.test(req.path)) {
      const creds = basicCredentials(req.headers);
      req.log.auth = creds ? 'basic' : 'none';
      if (!creds || creds[0] !== opts.clientId || creds[1] !== opts.clientSecret) {
        return { status: 401, body: { error: 'invalid_client', error_description: 'Bad client credentials' } };
      }
      if (new URLSearchParams(req.body).get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type' } };
      const t = tokens.issue();
      req.log.tokenSeq = tokens.issued;
      return { status: 200, body: { access_token: t.token, token_type: 'Bearer', expires_in: String(t.expiresIn) } }; // a string, as PowerSchool sends it
    }
    if (req.method === 'GET' && req.path === '/ws/v1/time') return { status: 200, body: { time: new Date().toISOString().slice(0, 19) } };
    if (!req.path.startsWith('/ws/')) return { status: 404, body: { message: 'Not Found' } };

    const token = bearerToken(req.headers);
    req.log.auth = token ? 'bearer' : 'none';
    const check = tokens.check(token);
    if (!check.ok) return unauthorized(check.expired);
    req.log.tokenSeq = check.seq;
    const disabled = disabledReply(faults, req.path);
    if (disabled) return disabled;
    const isPage = !req.path.endsWith('/count') && (req.path.startsWith('/ws/schema/query/') || /\/(student|school)$/.test(req.path));
    if (isPage) {
      const fault = takePageFault(faults, Number(req.query.get('page') ?? '1'));
      if (fault === 'expire') {
        tokens.revoke();
        return unauthorized(true);
      }
      if (fault === 'cut' || fault === 'stall') req.fault = fault;
      else if (fault) return fault;
    }
    if (faults.delayMs) await server.delay(faults.delayMs);
    return route(req);
  });

  return {
    url: server.url,
    requests: server.requests,
    faults,
    get tokensIssued() {
      return tokens.issued;
    },
    get peakInFlight() {
      return server.peakInFlight;
    },
    whenIdle: () => server.whenIdle(),
    whenStalled: () => server.whenStalled(),
    close: () => server.close(),
  };
}

function unauthorized(expired: boolean): FakeReply {
  const description = expired ? 'The access token has expired' : 'Invalid access token';
  return {
    status: 401,
    headers: { 'WWW-Authenticate': `Bearer realm="PowerSchool", error="invalid_token", error_description="${description}"` },
    body: { message: description },
  };
}
