import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import TransportStream from 'winston-transport';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlerter, type Alerter } from '../../src/alerts/alerter.js';
import { loadConfig } from '../../src/config/loader.js';
import type { FerryConfig } from '../../src/config/model.js';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus, type EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/logging/logger.js';
import { openRunStore, type ClaimInput, type RunOutcome, type RunRecord, type RunStore } from '../../src/store/run-store.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { tempDir } from '../helpers/cli.js';
import { agreementsFor } from '../helpers/agreements.js';

// The secrets: a webhook token in the URL's path (as Slack and Teams do) and an SMTP password, both from the environment.
const HOOK_TOKEN = 'T0FERRY/B0ALERTS/hook-token-5b7e1d9c';
const SMTP_USER = 'ferry-alerts';
const SMTP_PASSWORD = 'smtp-pa55-word-8f3a';
const T0 = new Date('2026-11-23T12:30:00.000Z');

// ---------- a local HTTP receiver ----------

interface Received {
  path: string;
  contentType: string | undefined;
  body: string;
}

interface Receiver {
  url: string;
  requests: Received[];
  /** The HTTP status it answers with; 0: it never answers. */
  status: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const state = { status: 200 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      if (state.status === 0) return; // never answer: the sender's timeout must end it
      res.statusCode = state.status;
      res.end(state.status === 200 ? '1' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get status() {
      return state.status;
    },
    set status(s: number) {
      state.status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------- a local SMTP sink ----------

interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  subject: string;
  text: string;
  headers: Map<string, string>;
}

interface Sink {
  port: number;
  mails: Mail[];
  /** Resolves once `n` messages in all have arrived: how a test waits for the digest timer without sleeping. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

async function startSmtpSink(): Promise<Sink> {
  const mails: Mail[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: SMTP_USER });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const parsed = parseMessage(Buffer.concat(chunks).toString('utf8'));
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          ...parsed,
        });
        for (const w of waiters.filter((x) => mails.length >= x.n)) w.resolve();
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    mails,
    waitFor: (n) => (mails.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Just enough MIME for nodemailer's single-part text messages: unfolded headers and a 7bit or quoted-printable body. */
function parseMessage(raw: string): { subject: string; text: string; headers: Map<string, string> } {
  const split = raw.indexOf('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const line of raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  let body = raw.slice(split + 4);
  if (headers.get('content-transfer-encoding') === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return { subject: headers.get('subject') ?? '', text: body.replace(/\r\n/g, '\n'), headers };
}

// ---------- a log capture ----------

class Capture extends TransportStream {
  readonly lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push({ ...info });
    next();
  }
  get text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
  find(message: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.message === message);
  }
}

// ---------- config: three districts, one integration each ----------

const withInventory = (id: string, districtId: string, vendor: string, inventory: Record<string, unknown> = {}) => ({
  id,
  extract: 'clever-students',
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: `{district}/${id}.csv`,
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params: { districtId, asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
  inventory: { vendor, contact: 'SIS Admin', purpose: 'Rostering', ...inventory },
});

/**
 * `alerts: null` leaves them out (off); `lakesideContact` is how a test changes a district's contact; `inventory` adds
 * inventory fields (start dates, review dates) by integration id.
 */
async function writeConfig(alerts: Record<string, unknown> | null, opts: { lakesideContact?: string; inventory?: Record<string, Record<string, unknown>> } = {}): Promise<FerryConfig> {
  const integration = (id: string, districtId: string, vendor: string) => withInventory(id, districtId, vendor, opts.inventory?.[id]);
  const demo = await makeDemoConfigDir({ extraFerry: alerts ? { alerts } : {} });
  const write = (file: string, district: Record<string, unknown>, integrations: unknown[]) =>
    fs.writeFileSync(path.join(demo.dir, 'integrations', file), YAML.stringify({ district, agreements: agreementsFor(integrations, String(district['id'])), integrations }));
  write('hilltop-csd.yaml', { id: 'hilltop-csd', name: 'Hilltop Central School District', contact: 'Director of Technology <tech@hilltop.example.org>' }, [
    integration('hilltop-clever-students', 'hilltop-csd', 'Clever'),
    integration('hilltop-lunch', 'hilltop-csd', 'MealTime'),
  ]);
  // A contact with no address: this district's mail goes to the service desk only.
  write('riverbend-usd.yaml', { id: 'riverbend-usd', name: 'Riverbend Union School District', contact: 'Business Office, ext. 4410' }, [
    integration('riverbend-clever-students', 'riverbend-usd', 'Clever'),
  ]);
  write('lakeside-csd.yaml', { id: 'lakeside-csd', name: 'Lakeside Central School District', contact: opts.lakesideContact ?? 'it@lakeside.example.org' }, [
    integration('lakeside-clever-students', 'lakeside-csd', 'Clever'),
  ]);
  return loadConfig(demo.dir, T0);
}

function alertsConfig(receiver: Receiver, sink: Sink, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    webhook: { url: { env: 'FERRY_TEST_ALERT_WEBHOOK' }, timeoutSeconds: 5 },
    email: {
      smtp: { host: '127.0.0.1', port: sink.port, secure: false, requireTls: false, user: SMTP_USER, password: { env: 'FERRY_TEST_SMTP_PASSWORD' } },
      from: 'Ferry <ferry@esc.example.org>',
      to: ['Service Desk <servicedesk@esc.example.org>'],
    },
    digest: { cron: '0 7 * * *', timezone: 'America/New_York' },
    ...over,
  };
}

// ---------- the suite ----------

describe('alerts', () => {
  let receiver: Receiver;
  let sink: Sink;
  let store: RunStore;
  let bus: EventBus;
  let capture: Capture;
  let clock: ReturnType<typeof createManualClock>;
  let alerter: Alerter | undefined;
  /** What the alerter's config getter returns: a test "reloads" by swapping it, as the daemon does. */
  let current: FerryConfig;

  beforeAll(async () => {
    [receiver, sink] = await Promise.all([startReceiver(), startSmtpSink()]);
    process.env.FERRY_TEST_ALERT_WEBHOOK = `${receiver.url}/hooks/${HOOK_TOKEN}`;
    process.env.FERRY_TEST_SMTP_PASSWORD = SMTP_PASSWORD;
  });
  afterAll(async () => {
    await Promise.all([receiver.close(), sink.close()]);
  });
  beforeEach(async () => {
    receiver.requests.length = 0;
    receiver.status = 200;
    sink.mails.length = 0;
    clock = createManualClock(T0);
    store = await openRunStore({ kind: 'sqlite', path: path.join(tempDir('ferry-alerts-'), 'ferry.sqlite') }, clock);
    bus = createEventBus();
    capture = new Capture();
  });
  afterEach(async () => {
    await alerter?.stop();
    alerter = undefined;
    await store.close();
    // Whatever a test did, no secret reached a log line.
    expect(capture.text).not.toContain(HOOK_TOKEN);
    expect(capture.text).not.toContain('hook-token');
    expect(capture.text).not.toContain(SMTP_PASSWORD);
    // Not even scrubbed: the logger redacts known secrets as a last line of defence, but alerts never hand it one.
    expect(capture.text).not.toContain('[redacted]');
  });

  async function start(alerts: Record<string, unknown> | null, opts: Parameters<typeof writeConfig>[1] = {}): Promise<FerryConfig> {
    current = await writeConfig(alerts, opts);
    const logger = createLogger({ level: 'debug', transports: [capture] });
    alerter = createAlerter({ config: () => current, bus, store, logger, clock, host: 'ferry-1' });
    alerter.start();
    return current;
  }

  const claim = (integrationId: string, districtId: string, over: Partial<ClaimInput> = {}): ClaimInput => ({
    integrationId,
    districtId,
    extract: 'clever-students',
    trigger: 'schedule',
    requestedBy: 'scheduler',
    scheduledFor: new Date('2026-11-23T07:00:00.000Z'),
    params: {},
    host: 'ferry-1',
    pid: 4242,
    ...over,
  });

  /** A run recorded the way the runner records one: claimed, then finished. */
  async function finished(integrationId: string, districtId: string, outcome: RunOutcome, over: Partial<ClaimInput> = {}): Promise<RunRecord> {
    const res = await store.claimRun(claim(integrationId, districtId, over));
    if (!res.claimed) throw new Error(`not claimed: ${res.reason}`);
    return store.finishRun(res.run.id, outcome);
  }

  /** A missed slot the way the scheduler records one. */
  async function missed(integrationId: string, districtId: string, scheduledFor: Date): Promise<RunRecord> {
    await store.recordDecisions([
      { ...claim(integrationId, districtId, { scheduledFor }), status: 'missed', errorKind: 'missed', note: 'missed while the daemon was down; misfire policy skip runs only the next slot' },
    ]);
    const [run] = await store.listRuns({ integrationId, status: 'missed' });
    return run!;
  }

  const webhookTexts = () => receiver.requests.map((r) => (JSON.parse(r.body) as { text: string }).text);

  it('a failed run: one webhook post and one email to the district contact and the service desk, in sentences', async () => {
    await start(alertsConfig(receiver, sink));
    const run = await finished('hilltop-clever-students', 'hilltop-csd', {
      status: 'failed',
      errorKind: 'source_connect',
      error: 'source demo-sis: cannot connect to 10.0.4.12:5432 (ECONNREFUSED)',
    });
    bus.emit({ type: 'run.finished', run });
    await alerter!.idle();

    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.path).toBe(`/hooks/${HOOK_TOKEN}`);
    expect(receiver.requests[0]!.contentType).toBe('application/json');
    expect(webhookTexts()[0]).toBe(
      `Ferry failed: hilltop-clever-students (Hilltop Central School District, Clever), run ${run.id}: source demo-sis: cannot connect to 10.0.4.12:5432 (ECONNREFUSED) (ferry logs ${run.id})`,
    );

    expect(sink.mails).toHaveLength(1);
    const mail = sink.mails[0]!;
    expect(mail.user).toBe(SMTP_USER);
    expect(mail.from).toBe('ferry@esc.example.org');
    expect(mail.to).toEqual(['tech@hilltop.example.org', 'servicedesk@esc.example.org']);
    expect(mail.headers.get('to')).toBe('Director of Technology <tech@hilltop.example.org>, Service Desk <servicedesk@esc.example.org>');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.subject).toBe('[Ferry] failed: hilltop-clever-students (Hilltop Central School District)');
    expect(mail.text).toContain(`Run ${run.id} of integration hilltop-clever-students (vendor Clever) for Hilltop Central School District (hilltop-csd) ended with status failed.`);
    expect(mail.text).toContain('It was scheduled for 2026-11-23 02:00 America/New_York (2026-11-23T07:00:00.000Z), and it finished at 2026-11-23 07:30 America/New_York on host ferry-1.');
    expect(mail.text).toContain('What went wrong (source_connect): source demo-sis: cannot connect to 10.0.4.12:5432 (ECONNREFUSED)');
    expect(mail.text).toMatch(new RegExp(`To look further:\n  ferry logs ${run.id} +the run's log lines\n  ferry why hilltop-clever-students +what Ferry decided`));
    expect(mail.text).not.toContain('ferry release');

    // The user sees the host of the webhook in the log, never its URL.
    const sent = capture.find('alert webhook sent');
    expect(sent[0]).toMatchObject({ host: receiver.url.slice('http://'.length), status: 200, component: 'alerts' });
    for (const body of [...receiver.requests.map((r) => r.body), ...sink.mails.map((m) => m.text)]) {
      expect(body).not.toContain(SMTP_PASSWORD);
      expect(body).not.toContain('hook-token');
    }
  });

  it('a held run says why and how to release it; an interrupted run alerts as failed', async () => {
    await start(alertsConfig(receiver, sink));
    const held = await finished('hilltop-clever-students', 'hilltop-csd', {
      status: 'held',
      spoolPath: '/var/ferry/spool/held.csv',
      holdReason: 'rows fell from 1200 to 400 (67%), more than the allowed 20%',
    });
    bus.emit({ type: 'run.finished', run: held });
    await alerter!.idle();
    expect(sink.mails[0]!.subject).toBe('[Ferry] held: hilltop-clever-students (Hilltop Central School District)');
    expect(sink.mails[0]!.text).toContain('The file was not delivered. Why it was held: rows fell from 1200 to 400 (67%), more than the allowed 20%.');
    expect(sink.mails[0]!.text).toContain(`ferry release ${held.id}`);
    expect(webhookTexts()[0]).toContain(`ferry release ${held.id} after checking the file`);

    const interrupted = await finished('hilltop-lunch', 'hilltop-csd', { status: 'interrupted', errorKind: 'aborted', error: 'the daemon stopped during the upload' });
    bus.emit({ type: 'run.finished', run: interrupted });
    await alerter!.idle();
    expect(sink.mails[1]!.subject).toBe('[Ferry] interrupted: hilltop-lunch (Hilltop Central School District)');
    expect(webhookTexts()[1]).toContain('MealTime');
  });

  it('a failure the runner will retry does not alert; the last attempt does, and says which it was', async () => {
    await start(alertsConfig(receiver, sink));
    const first = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'connection reset during upload' });
    // What the runner does before it announces the failure: queue the retry.
    await store.enqueue({ ...claim('hilltop-clever-students', 'hilltop-csd'), scheduledFor: null, trigger: 'retry', attempt: 2, retryOf: first.id, notBefore: new Date(T0.getTime() + 60_000) });
    bus.emit({ type: 'run.finished', run: first });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(sink.mails).toHaveLength(0);
    expect(capture.find('failure not alerted: a retry is queued')).toEqual([expect.objectContaining({ runId: first.id, attempt: 1 })]);

    const [retry] = await store.claimQueued({ owner: 'ferry-1', until: new Date(T0.getTime() + 120_000) }, new Date(T0.getTime() + 60_000), 1, { host: 'ferry-host', pid: 4242 });
    const last = await store.finishRun(retry!.id, { status: 'failed', errorKind: 'upload', error: 'connection reset during upload' });
    bus.emit({ type: 'run.finished', run: last });
    await alerter!.idle();
    expect(sink.mails).toHaveLength(1);
    expect(sink.mails[0]!.text).toContain('; this was attempt 2, and it finished at');
    expect(webhookTexts()).toEqual([expect.stringContaining(`run ${last.id}: connection reset during upload`)]);
  });

  it('a missed slot carries the scheduler note; a contact without an address leaves that district to the service desk', async () => {
    await start(alertsConfig(receiver, sink));
    const run = await missed('riverbend-clever-students', 'riverbend-usd', new Date('2026-11-22T07:00:00.000Z'));
    bus.emit({ type: 'run.finished', run });
    await alerter!.idle();
    expect(sink.mails).toHaveLength(1);
    expect(sink.mails[0]!.to).toEqual(['servicedesk@esc.example.org']);
    expect(sink.mails[0]!.subject).toBe('[Ferry] missed: riverbend-clever-students (Riverbend Union School District)');
    expect(sink.mails[0]!.text).toContain('Scheduler note: missed while the daemon was down');
    expect(sink.mails[0]!.text).toContain('ferry run riverbend-clever-students');
    expect(webhookTexts()[0]).toMatch(/^Ferry missed: riverbend-clever-students \(Riverbend Union School District, Clever\)/);
  });

  it('only what `on:` names alerts; succeeded and dry runs never do', async () => {
    await start(alertsConfig(receiver, sink, { on: ['held'] }));
    const failed = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'upload failed' });
    const ok = await finished('hilltop-lunch', 'hilltop-csd', { status: 'succeeded', rows: 10 });
    const dry = await finished('lakeside-clever-students', 'lakeside-csd', { status: 'held', holdReason: 'rows fell' }, { dryRun: true });
    bus.emit({ type: 'run.finished', run: failed });
    bus.emit({ type: 'run.finished', run: ok });
    bus.emit({ type: 'run.finished', run: dry });
    bus.emit({ type: 'store.unreachable', error: 'database is locked', since: clock.now() });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(sink.mails).toHaveLength(0);

    const held = await finished('riverbend-clever-students', 'riverbend-usd', { status: 'held', holdReason: 'rows fell from 90 to 10' });
    bus.emit({ type: 'run.finished', run: held });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails.map((m) => m.subject)).toEqual(['[Ferry] held: riverbend-clever-students (Riverbend Union School District)']);
  });

  it('a burst of missed slots after downtime goes out as one post and one email per district', async () => {
    await start(alertsConfig(receiver, sink));
    const runs = [
      await missed('hilltop-clever-students', 'hilltop-csd', new Date('2026-11-22T07:00:00.000Z')),
      await missed('hilltop-lunch', 'hilltop-csd', new Date('2026-11-22T07:00:00.000Z')),
      await missed('lakeside-clever-students', 'lakeside-csd', new Date('2026-11-22T07:00:00.000Z')),
    ];
    for (const run of runs) bus.emit({ type: 'run.finished', run });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(webhookTexts()[0]).toMatch(/^Ferry: 3 alerts \(3 missed\)\n\nFerry missed: hilltop-clever-students/);
    const bySubject = new Map(sink.mails.map((m) => [m.subject, m]));
    expect([...bySubject.keys()].sort()).toEqual([
      '[Ferry] 2 alerts: 2 missed (Hilltop Central School District)',
      '[Ferry] missed: lakeside-clever-students (Lakeside Central School District)',
    ]);
    expect(bySubject.get('[Ferry] 2 alerts: 2 missed (Hilltop Central School District)')!.to).toEqual(['tech@hilltop.example.org', 'servicedesk@esc.example.org']);
    expect(bySubject.get('[Ferry] missed: lakeside-clever-students (Lakeside Central School District)')!.to).toEqual(['it@lakeside.example.org', 'servicedesk@esc.example.org']);
  });

  it('a webhook answering 500 or not listening is logged with its host and status, never thrown; email still goes', async () => {
    await start(alertsConfig(receiver, sink));
    receiver.status = 500;
    const run = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'upload failed' });
    expect(() => bus.emit({ type: 'run.finished', run })).not.toThrow();
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails).toHaveLength(1);
    expect(capture.find('alert webhook refused')).toEqual([expect.objectContaining({ level: 'warn', host: receiver.url.slice('http://'.length), status: 500 })]);

    // A port nobody listens on: the receiver is closed for this part.
    const closed = await startReceiver();
    const deadUrl = closed.url;
    await closed.close();
    process.env.FERRY_TEST_ALERT_WEBHOOK = `${deadUrl}/hooks/${HOOK_TOKEN}`;
    try {
      bus.emit({ type: 'run.finished', run });
      await alerter!.idle();
    } finally {
      process.env.FERRY_TEST_ALERT_WEBHOOK = `${receiver.url}/hooks/${HOOK_TOKEN}`;
    }
    expect(capture.find('alert webhook unreachable')).toEqual([expect.objectContaining({ level: 'warn', host: deadUrl.slice('http://'.length), code: 'ECONNREFUSED' })]);
    expect(sink.mails).toHaveLength(2);
  });

  it('a webhook that never answers is given up after timeoutSeconds and logged', async () => {
    await start(alertsConfig(receiver, sink, { webhook: { url: { env: 'FERRY_TEST_ALERT_WEBHOOK' }, timeoutSeconds: 1 } }));
    receiver.status = 0;
    const run = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'held', holdReason: 'rows fell' });
    bus.emit({ type: 'run.finished', run });
    await alerter!.idle();
    expect(capture.find('alert webhook timed out')).toEqual([expect.objectContaining({ level: 'warn', host: receiver.url.slice('http://'.length), timeoutSeconds: 1 })]);
    expect(sink.mails).toHaveLength(1);
  });

  it('a wrong SMTP password is logged as EAUTH without the password; the webhook still goes', async () => {
    process.env.FERRY_TEST_SMTP_PASSWORD = 'not-the-right-pa55word';
    try {
      await start(alertsConfig(receiver, sink));
      const run = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'upload failed' });
      bus.emit({ type: 'run.finished', run });
      await alerter!.idle();
    } finally {
      process.env.FERRY_TEST_SMTP_PASSWORD = SMTP_PASSWORD;
    }
    expect(sink.mails).toHaveLength(0);
    expect(receiver.requests).toHaveLength(1);
    expect(capture.find('alert email not sent')).toEqual([expect.objectContaining({ level: 'warn', host: '127.0.0.1', code: 'EAUTH', messages: 1 })]);
    expect(capture.text).not.toContain('not-the-right-pa55word');
  });

  it('a store outage alerts once, to the service desk only, and says when it is back', async () => {
    await start(alertsConfig(receiver, sink));
    const since = clock.now();
    bus.emit({ type: 'store.unreachable', error: 'cannot reach the PostgreSQL run store (ECONNREFUSED)', since });
    await alerter!.idle();
    bus.emit({ type: 'store.unreachable', error: 'cannot reach the PostgreSQL run store (ECONNREFUSED)', since });
    await alerter!.idle();
    expect(webhookTexts()).toEqual(['Ferry store unreachable on ferry-1 since 2026-11-23T12:30:00.000Z: cannot reach the PostgreSQL run store (ECONNREFUSED)']);
    expect(sink.mails.map((m) => [m.subject, m.to])).toEqual([['[Ferry] store unreachable on ferry-1', ['servicedesk@esc.example.org']]]);

    bus.emit({ type: 'store.recovered', since, at: new Date(since.getTime() + 12 * 60_000) });
    await alerter!.idle();
    expect(webhookTexts()[1]).toBe('Ferry on ferry-1 reaches its run store again since 2026-11-23T12:42:00.000Z, after about 12 minutes without it.');
    expect(sink.mails[1]!.subject).toBe('[Ferry] store recovered on ferry-1');

    // A new outage is a new alert.
    bus.emit({ type: 'store.unreachable', error: 'database is locked', since: new Date('2026-11-23T13:00:00.000Z') });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(3);
  });

  it('stop() waits for sends in flight, can be called twice, and nothing is sent after it', async () => {
    await start(alertsConfig(receiver, sink));
    const run = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'held', holdReason: 'rows fell' });
    bus.emit({ type: 'run.finished', run });
    const a = alerter!;
    const stopping = a.stop();
    expect(a.stop()).toBe(stopping);
    await stopping;
    // The alert raised before stop() went out in full.
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails).toHaveLength(1);
    bus.emit({ type: 'run.finished', run });
    bus.emit({ type: 'store.unreachable', error: 'gone', since: clock.now() });
    await a.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails).toHaveLength(1);
    expect(a.nextDigestAt()).toBeNull();
  });

  it('a reload changes recipients, district contacts and channels at once, without a restart', async () => {
    await start(alertsConfig(receiver, sink));
    const before = await missed('lakeside-clever-students', 'lakeside-csd', new Date('2026-11-22T07:00:00.000Z'));
    bus.emit({ type: 'run.finished', run: before });
    await alerter!.idle();
    expect(sink.mails.map((m) => m.to)).toEqual([['it@lakeside.example.org', 'servicedesk@esc.example.org']]);
    expect(receiver.requests).toHaveLength(1);

    // The new config: another service desk address, a new Lakeside contact, and no webhook.
    const { webhook: _dropped, ...noWebhook } = alertsConfig(receiver, sink);
    current = await writeConfig(
      { ...noWebhook, email: { ...(noWebhook.email as Record<string, unknown>), to: ['Operations <ops@esc.example.org>'] } },
      { lakesideContact: 'Lakeside Help Desk <helpdesk@lakeside.example.org>' },
    );
    alerter!.refresh();
    const after = await missed('lakeside-clever-students', 'lakeside-csd', new Date('2026-11-23T07:00:00.000Z'));
    bus.emit({ type: 'run.finished', run: after });
    await alerter!.idle();
    expect(sink.mails.map((m) => m.to)).toEqual([
      ['it@lakeside.example.org', 'servicedesk@esc.example.org'],
      ['helpdesk@lakeside.example.org', 'ops@esc.example.org'],
    ]);
    expect(sink.mails[1]!.headers.get('to')).toBe('Lakeside Help Desk <helpdesk@lakeside.example.org>, Operations <ops@esc.example.org>');
    expect(receiver.requests).toHaveLength(1); // no webhook any more
  });

  it('alerts off at start and turned on by a reload: alerts go out and the digest is armed; turned off again, nothing', async () => {
    await start(null);
    expect(alerter!.nextDigestAt()).toBeNull();
    const held = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'held', holdReason: 'rows fell' });
    bus.emit({ type: 'run.finished', run: held });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(sink.mails).toHaveLength(0);

    current = await writeConfig(alertsConfig(receiver, sink));
    alerter!.refresh();
    // T0 is 07:30 in New York: the next 07:00 there is the day after.
    expect(alerter!.nextDigestAt()).toEqual(new Date('2026-11-24T12:00:00.000Z'));
    bus.emit({ type: 'run.finished', run: held });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails.map((m) => m.subject)).toEqual(['[Ferry] held: hilltop-clever-students (Hilltop Central School District)']);

    current = await writeConfig(null);
    alerter!.refresh();
    expect(alerter!.nextDigestAt()).toBeNull();
    bus.emit({ type: 'run.finished', run: held });
    await alerter!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sink.mails).toHaveLength(1);
  });

  it('a reload that moves the digest cron moves the timer; one that leaves the digest alone does not skip a digest due now', async () => {
    await start(alertsConfig(receiver, sink));
    const due = new Date('2026-11-24T12:00:00.000Z');
    expect(alerter!.nextDigestAt()).toEqual(due);
    // A reload in the moment the digest falls due, before its timer fires: re-arming from now would skip that day's.
    clock.set(new Date(due.getTime() + 1));
    current = await writeConfig(alertsConfig(receiver, sink, { webhook: { url: { env: 'FERRY_TEST_ALERT_WEBHOOK' }, timeoutSeconds: 9 } }));
    alerter!.refresh();
    expect(alerter!.nextDigestAt()).toEqual(due);
    current = await writeConfig(alertsConfig(receiver, sink, { digest: { cron: '0 18 * * *', timezone: 'America/New_York' } }));
    alerter!.refresh();
    expect(alerter!.nextDigestAt()).toEqual(new Date('2026-11-24T23:00:00.000Z'));
  });

  describe('the daily digest', () => {
    const END = new Date('2026-11-23T12:00:00.000Z'); // 07:00 in New York

    async function recordDay(): Promise<Record<string, RunRecord>> {
      const at = (iso: string) => clock.set(new Date(iso));
      at('2026-11-22T07:00:00.000Z'); // before the period: not counted
      const old = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'an old failure' }, { scheduledFor: new Date('2026-11-22T07:00:00.000Z') });
      at('2026-11-22T13:00:00.000Z');
      await finished('hilltop-clever-students', 'hilltop-csd', { status: 'succeeded', rows: 1200 }, { trigger: 'manual', requestedBy: 'alice', scheduledFor: null });
      at('2026-11-23T07:05:00.000Z');
      const failed = await finished('hilltop-clever-students', 'hilltop-csd', { status: 'failed', errorKind: 'destination_connect', error: 'cannot reach sftp.clever.com:22 (ETIMEDOUT)' });
      const held = await finished('hilltop-lunch', 'hilltop-csd', { status: 'held', holdReason: 'rows fell from 800 to 200 (75%), more than the allowed 20%' });
      const miss = await missed('riverbend-clever-students', 'riverbend-usd', new Date('2026-11-22T07:00:00.000Z'));
      await finished('riverbend-clever-students', 'riverbend-usd', { status: 'succeeded', rows: 300 });
      at('2026-11-23T12:00:00.000Z'); // at the end: the next period's
      await finished('hilltop-lunch', 'hilltop-csd', { status: 'failed', errorKind: 'upload', error: 'a failure after the digest' }, { scheduledFor: new Date('2026-11-23T12:00:00.000Z') });
      return { old, failed, held, miss };
    }

    it('tells each district contact its own day, and the service desk every district in one message', async () => {
      await start(alertsConfig(receiver, sink));
      const runs = await recordDay();
      await alerter!.sendDigest(END);

      // Hilltop's contact; Riverbend's contact has no address; Lakeside had no runs: no mail for a quiet day.
      const toHilltop = sink.mails.filter((m) => m.to.includes('tech@hilltop.example.org'));
      expect(toHilltop).toHaveLength(1);
      expect(toHilltop[0]!.to).toEqual(['tech@hilltop.example.org']);
      expect(toHilltop[0]!.subject).toBe('[Ferry] digest 2026-11-23, Hilltop Central School District: 3 runs, 1 failed, 1 held');
      const text = toHilltop[0]!.text;
      expect(text).toContain('Hilltop Central School District (hilltop-csd): 3 runs finished in the 24 hours before 2026-11-23 07:00 America/New_York.');
      expect(text).toContain('By status: 1 succeeded, 1 failed, 1 held.');
      expect(text).toContain(`run ${runs.failed!.id} hilltop-clever-students failed (slot 2026-11-23 02:00 America/New_York): cannot reach sftp.clever.com:22 (ETIMEDOUT)`);
      expect(text).toContain(`run ${runs.held!.id} hilltop-lunch held (slot 2026-11-23 02:00 America/New_York): rows fell from 800 to 200 (75%), more than the allowed 20%; once checked: ferry release ${runs.held!.id}`);
      expect(text).not.toContain('an old failure');
      expect(text).not.toContain('a failure after the digest');
      expect(text).not.toContain('Riverbend');

      const desk = sink.mails.filter((m) => m.to.includes('servicedesk@esc.example.org'));
      expect(desk).toHaveLength(1);
      expect(desk[0]!.subject).toBe('[Ferry] digest 2026-11-23: 5 runs, 1 failed, 1 held, 1 missed in 2 districts');
      expect(desk[0]!.text).toContain('By status: 1 succeeded, 1 failed, 1 held.');
      expect(desk[0]!.text).toContain('Riverbend Union School District (riverbend-usd): 2 runs finished');
      expect(desk[0]!.text).toContain('By status: 1 succeeded, 1 missed.');
      expect(desk[0]!.text).toContain(`run ${runs.miss!.id} riverbend-clever-students missed (slot 2026-11-22 02:00 America/New_York): missed while the daemon was down`);
      expect(desk[0]!.text).toContain('No runs finished for Lakeside Central School District (lakeside-csd).');
      expect(sink.mails).toHaveLength(2);
      // The digest is email only.
      expect(receiver.requests).toHaveLength(0);
    });

    it('is sent once when several daemons share the store: the first to claim the day sends it', async () => {
      const config = await start(alertsConfig(receiver, sink));
      await recordDay();
      const second = createAlerter({ config: () => config, bus: createEventBus(), store, logger: createLogger({ level: 'debug', transports: [capture] }), clock, host: 'ferry-2' });
      await Promise.all([alerter!.sendDigest(END), second.sendDigest(END)]);
      await second.stop();
      expect(sink.mails.filter((m) => m.to.includes('servicedesk@esc.example.org'))).toHaveLength(1);
      expect(capture.text).toContain('digest left to another daemon');
    });

    it('is timed by its cron in its time zone, and the timer sends it when the clock gets there', async () => {
      clock.set(new Date(END.getTime() - 1));
      await start(alertsConfig(receiver, sink));
      expect(alerter!.nextDigestAt()).toEqual(END);
      await recordDay();
      clock.set(END);
      await sink.waitFor(2);
      await alerter!.idle();
      expect(sink.mails.map((m) => m.subject).sort()).toEqual([
        '[Ferry] digest 2026-11-23, Hilltop Central School District: 3 runs, 1 failed, 1 held',
        '[Ferry] digest 2026-11-23: 5 runs, 1 failed, 1 held, 1 missed in 2 districts',
      ]);
      // The next one: 07:00 New York the day after.
      expect(alerter!.nextDigestAt()).toEqual(new Date('2026-11-24T12:00:00.000Z'));
    });

    it('names overdue yearly reviews every day until they are confirmed, even for a district with no runs', async () => {
      await start(alertsConfig(receiver, sink), {
        inventory: {
          'hilltop-lunch': { startDate: '2025-10-01' }, // due 2026-10-01: overdue
          'hilltop-clever-students': { startDate: '2025-01-15' }, // due 2026-01-15, but reviewed since
          'lakeside-clever-students': { nextReview: '2026-11-01' }, // overdue, and Lakeside had no runs
          'riverbend-clever-students': { nextReview: '2026-11-23' }, // due today: not overdue yet
        },
      });
      await store.recordReview({ integrationId: 'hilltop-clever-students', districtId: 'hilltop-csd', reviewedBy: 'alice', note: 'still needed', ticket: null, nextReview: '2027-03-01' });
      const runs = await recordDay();
      await alerter!.sendDigest(END);

      const toHilltop = sink.mails.find((m) => m.to.includes('tech@hilltop.example.org'))!;
      expect(toHilltop.subject).toBe('[Ferry] digest 2026-11-23, Hilltop Central School District: 3 runs, 1 failed, 1 held, 1 review overdue');
      expect(toHilltop.text).toContain(`run ${runs.held!.id} hilltop-lunch held`);
      expect(toHilltop.text).toContain('Yearly reviews overdue (is each still needed? `ferry review due` lists their last deliveries):\n  hilltop-lunch (MealTime): review was due 2026-10-01; once reviewed with the district: ferry review confirm hilltop-lunch --note "…"');
      expect(toHilltop.text).not.toContain('ferry review confirm hilltop-clever-students');

      // Lakeside finished no runs, but its overdue review is news for its contact.
      const toLakeside = sink.mails.find((m) => m.to.includes('it@lakeside.example.org'))!;
      expect(toLakeside.subject).toBe('[Ferry] digest 2026-11-23, Lakeside Central School District: 0 runs, 1 review overdue');
      expect(toLakeside.text).toContain('Lakeside Central School District (lakeside-csd): no runs finished in the 24 hours before 2026-11-23 07:00 America/New_York.');
      expect(toLakeside.text).toContain('lakeside-clever-students (Clever): review was due 2026-11-01');
      expect(toLakeside.text).not.toContain('Nothing needs attention');

      const desk = sink.mails.find((m) => m.to.includes('servicedesk@esc.example.org'))!;
      expect(desk.subject).toBe('[Ferry] digest 2026-11-23: 5 runs, 1 failed, 1 held, 1 missed in 2 districts, 2 reviews overdue');
      expect(desk.text).toContain("Ferry's digest for the 24 hours before 2026-11-23 07:00 America/New_York: 5 runs, 1 failed, 1 held, 1 missed across 2 districts, 2 reviews overdue.");
      expect(desk.text).not.toContain('riverbend-clever-students (Clever): review was due');
      expect(desk.text).not.toContain('No runs finished for Lakeside');
      expect(sink.mails).toHaveLength(3);

      // Confirmed the next morning: the review drops out of the next digest.
      await store.recordReview({ integrationId: 'hilltop-lunch', districtId: 'hilltop-csd', reviewedBy: 'bob', note: 'still needed', ticket: null, nextReview: '2027-11-23' });
      sink.mails.length = 0;
      await alerter!.sendDigest(new Date(END.getTime() + 24 * 60 * 60 * 1000));
      const next = sink.mails.find((m) => m.to.includes('servicedesk@esc.example.org'))!;
      // Riverbend's review, due yesterday, is overdue today.
      expect(next.subject).toBe('[Ferry] digest 2026-11-24: 1 run, 1 failed in 1 district, 2 reviews overdue');
      expect(next.text).not.toContain('ferry review confirm hilltop-lunch');
      expect(next.text).toContain('lakeside-clever-students (Clever): review was due 2026-11-01');
      expect(next.text).toContain('riverbend-clever-students (Clever): review was due 2026-11-23');
    });

    it('is off with `digest: false`, and a store that cannot be read is logged, not thrown', async () => {
      await start(alertsConfig(receiver, sink, { digest: false }));
      expect(alerter!.nextDigestAt()).toBeNull();
      await store.close();
      await expect(alerter!.sendDigest(END)).resolves.toBeUndefined();
      expect(capture.find('digest not sent: the run store cannot be read')).toHaveLength(1);
      expect(sink.mails).toHaveLength(0);
      store = await openRunStore({ kind: 'sqlite', path: path.join(tempDir('ferry-alerts-'), 'ferry.sqlite') }, clock);
    });
  });
});
