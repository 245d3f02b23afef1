import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/config/loader.js';
import type { FerryConfig, Integration } from '../../src/config/model.js';
import { createAuditLog, type AuditLog } from '../../src/governance/audit.js';
import { configDigest } from '../../src/governance/config-digest.js';
import { openRunStore, type RunStore } from '../../src/store/run-store.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { createTestDatabase } from '../helpers/pg-database.js';

const T0 = new Date('2026-12-07T10:00:00.000Z');

interface Backend {
  name: string;
  open(): Promise<RunStore>;
  /** What someone with write access to the database could do: get past the append-only triggers and change a row. */
  tamper(id: number, what: string): Promise<void>;
  /** A plain UPDATE, as any code or person might try. */
  update(id: number): Promise<void>;
  dispose(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-audit-'));
  const file = join(dir, 'ferry.sqlite');
  return {
    name: 'SQLite',
    open: () => openRunStore({ kind: 'sqlite', path: file }, createManualClock(T0)),
    async tamper(id, what) {
      const db = new Database(file);
      db.exec('DROP TRIGGER audit_no_update');
      db.prepare('UPDATE audit SET what = ? WHERE id = ?').run(what, id);
      db.close();
    },
    async update(id) {
      const db = new Database(file);
      try {
        db.prepare("UPDATE audit SET what = 'x' WHERE id = ?").run(id);
      } finally {
        db.close();
      }
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresBackend(): Promise<Backend> {
  const db = await createTestDatabase('audit_log');
  const sql = async (text: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(text, values);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'PostgreSQL',
    open: () => openRunStore({ kind: 'postgres', url: db.url }, createManualClock(T0)),
    async tamper(id, what) {
      await sql('ALTER TABLE audit DISABLE TRIGGER audit_append_only');
      await sql('UPDATE audit SET what = $1 WHERE id = $2', [what, id]);
    },
    update: (id) => sql("UPDATE audit SET what = 'x' WHERE id = $1", [id]),
    dispose: () => db.drop(),
  };
}

describe.each([
  ['SQLite', sqliteBackend],
  ['PostgreSQL', postgresBackend],
])('the audit log on %s', (_name, make) => {
  let backend: Backend;
  let stores: RunStore[];
  let audit: AuditLog;

  beforeAll(async () => {
    backend = await make();
    stores = [await backend.open()];
    // Three more connections to the same store, as other processes would have.
    stores.push(...(await Promise.all([1, 2, 3].map(() => backend.open()))));
    audit = createAuditLog(stores[0]!.audit, createManualClock(T0));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await backend.dispose();
  });

  it('appends from several connections at once into one unbroken chain, which verifies', { timeout: 120_000 }, async () => {
    const logs = stores.map((s) => createAuditLog(s.audit, createManualClock(T0)));
    await Promise.all(
      Array.from({ length: 24 }, (_, n) =>
        logs[n % logs.length]!.append({ who: `user${n}`, action: n % 2 ? 'enable' : 'disable', integration: `int-${n % 3}`, district: 'hilltop-csd', what: `change ${n}`, why: n % 2 ? null : 'paused', ticket: 'INC-1' }),
      ),
    );
    const entries = await audit.list({});
    expect(entries.map((e) => e.id)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(new Set(entries.map((e) => e.what)).size).toBe(24);
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 24, lastHash: entries[23]!.hash });
  });

  it('refuses a plain UPDATE, and names the entry someone changed by getting past that', { timeout: 60_000 }, async () => {
    await expect(backend.update(5)).rejects.toThrow(/append-only/);
    expect(await audit.verify()).toMatchObject({ ok: true });
    const fifth = (await audit.list({}))[4]!;
    await backend.tamper(5, 'nothing happened');
    const r = await audit.verify();
    expect(r).toEqual({ ok: false, entries: 5, brokenId: 5, sentence: `audit entry 5 (2026-12-07 10:00 UTC, ${fifth.action} ${fifth.integration}) does not match its hash: it was changed after it was written` });
  });
});

describe('configuration changes in the audit log', () => {
  let dir: string;
  let store: RunStore;
  let audit: AuditLog;
  let base: FerryConfig;

  beforeAll(async () => {
    const cfg = await makeDemoConfigDir();
    base = loadConfig(cfg.dir, T0);
    dir = await mkdtemp(join(tmpdir(), 'ferry-audit-config-'));
    store = await openRunStore({ kind: 'sqlite', path: join(dir, 'ferry.sqlite') }, createManualClock(T0));
    audit = createAuditLog(store.audit, createManualClock(T0));
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const withIntegrations = (c: FerryConfig, list: Integration[]): FerryConfig => ({ ...c, integrations: new Map(list.map((i) => [i.id, i])) });

  it('records the first configuration, nothing for the same one again, then names what was added, removed and changed, with the digest', async () => {
    const first = await audit.recordConfig(base, 'ferry (daemon pid 1)', 'daemon start');
    expect(first).toMatchObject({ action: 'config', who: 'ferry (daemon pid 1)', configDigest: configDigest(base) });
    expect(first!.what).toMatch(/^configuration first recorded at daemon start: .*1 integrations/);
    expect(await audit.recordConfig(loadConfig(base.dir, T0), 'ferry (daemon pid 2)', 'daemon start')).toBeUndefined();

    const hilltop = base.integrations.get('hilltop-clever-students')!;
    const added = { ...hilltop, id: 'hilltop-clever-k5' };
    const changed = { ...hilltop, params: { ...hilltop.params, grades: 'K-2' } };
    const next: FerryConfig = { ...withIntegrations(base, [changed, added]), logLevel: 'debug' };
    const entry = await audit.recordConfig(next, 'ferry (daemon pid 1)', 'reload');
    expect(entry!.what).toBe('configuration changed at reload: integrations added: hilltop-clever-k5; integrations changed: hilltop-clever-students; settings changed: logLevel');
    expect(entry!.configDigest).toBe(configDigest(next));
    expect(configDigest(next)).not.toBe(configDigest(base));

    const removed = await audit.recordConfig(withIntegrations(next, [changed]), 'ferry (daemon pid 1)', 'reload');
    expect(removed!.what).toBe('configuration changed at reload: integrations removed: hilltop-clever-k5');

    // --integration shows the config entries that name it, and no others.
    const forAdded = await audit.list({ integration: 'hilltop-clever-k5' });
    expect(forAdded.map((e) => e.id)).toEqual([entry!.id, removed!.id]);
    expect(forAdded[0]!.details).toMatchObject({ when: 'reload', changes: { sections: { integrations: { added: ['hilltop-clever-k5'], removed: [], changed: ['hilltop-clever-students'] } }, settings: ['logLevel'] } });
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 3 });
  });
});
