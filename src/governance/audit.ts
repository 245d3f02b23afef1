import crypto from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { FerryConfig } from '../config/model.js';
import { scrubSecrets } from '../config/secrets.js';
import { changesName, configSnapshot, describeChanges, diffSnapshots, type ConfigChanges, type ConfigSnapshot } from './config-digest.js';

/**
 * The audit log: every action that changes or sends something, every preview of student rows, every change of the
 * loaded configuration, each with who, when, what and why. Append-only and hash-chained: each entry's hash covers the
 * entry and the previous entry's hash, so a changed, removed or reordered entry breaks the chain at that point.
 * Entries say what happened in a sentence and never carry row data or secrets.
 */
export const AUDIT_ACTIONS = ['run', 'dry-run', 'release', 'enable', 'disable', 'reload', 'review', 'preview', 'config', 'report'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What a caller appends. `who` is the real person (currentUser() in the CLI; the service account in the daemon). */
export interface AuditInput {
  who: string;
  action: AuditAction;
  integration?: string | null | undefined;
  district?: string | null | undefined;
  /** One short sentence; never row values or secrets. */
  what: string;
  /** The reason the person gave. */
  why?: string | null | undefined;
  ticket?: string | null | undefined;
  /** Counts, names, settings: nothing a student could be recognised by. */
  details?: Readonly<Record<string, unknown>> | null | undefined;
  configDigest?: string | null | undefined;
}

/** An entry as stored; `at` is an ISO timestamp (milliseconds, UTC), `detailsJson` the exact text that was hashed. */
export interface AuditRow {
  id: number;
  at: string;
  who: string;
  action: string;
  integration: string | null;
  district: string | null;
  what: string;
  why: string | null;
  ticket: string | null;
  detailsJson: string | null;
  configDigest: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  integration?: string | undefined;
  district?: string | undefined;
  since?: Date | undefined;
}

/**
 * The store's side, owned here (src/store/audit-store.ts implements it on the run store's knex). `append` runs `seal`
 * while it holds the one append lock, with the current last entry (and, when asked, the last `config` entry), and
 * inserts what it returns: undefined inserts nothing.
 */
export interface AuditStore {
  append(seal: (tip: { last: AuditRow | undefined; lastConfig: AuditRow | undefined }) => AuditRow | undefined, opts?: { withLastConfig?: boolean }): Promise<AuditRow | undefined>;
  /** Oldest first. Config entries are included whatever the integration or district filter (the caller narrows them). */
  list(filter: AuditFilter): Promise<AuditRow[]>;
  /** Entries with id > afterId, oldest first, up to `limit`. */
  page(afterId: number, limit: number): Promise<AuditRow[]>;
}

export const GENESIS_HASH = '0'.repeat(64);

/** SHA-256 over the canonical entry: a fixed-order JSON array, so no field can be moved into another. */
export function auditHash(row: Omit<AuditRow, 'hash'>): string {
  const canonical = JSON.stringify([
    'ferry-audit/1',
    row.id,
    row.at,
    row.who,
    row.action,
    row.integration,
    row.district,
    row.what,
    row.why,
    row.ticket,
    row.detailsJson,
    row.configDigest,
    row.prevHash,
  ]);
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

export type VerifyResult =
  | { ok: true; entries: number; lastHash: string }
  | { ok: false; entries: number; brokenId: number; sentence: string };

/** "42 (2026-12-07 10:00 UTC, disable hilltop-clever)" */
export function entryLabel(row: Pick<AuditRow, 'id' | 'at' | 'action' | 'integration'>): string {
  return `${row.id} (${row.at.slice(0, 16).replace('T', ' ')} UTC, ${row.action}${row.integration ? ` ${row.integration}` : ''})`;
}

/** Checks entries in id order; the first that breaks the chain, in one sentence. Feed it every entry from the first. */
export function createChainVerifier() {
  let prev: AuditRow | undefined;
  let count = 0;
  return {
    check(row: AuditRow): { brokenId: number; sentence: string } | undefined {
      count++;
      const expectedId = (prev?.id ?? 0) + 1;
      const label = entryLabel(row);
      let broken: string | undefined;
      if (row.id !== expectedId) {
        broken = expectedId === row.id - 1 ? `audit entry ${expectedId} is missing before entry ${label}: it was removed after it was written` : `audit entries ${expectedId}–${row.id - 1} are missing before entry ${label}: they were removed after they were written`;
      } else if (auditHash(row) !== row.hash) {
        broken = `audit entry ${label} does not match its hash: it was changed after it was written`;
      } else if (row.prevHash !== (prev?.hash ?? GENESIS_HASH)) {
        broken = `audit entry ${label} does not follow entry ${prev ? prev.id : 'none'}: ${prev ? `entry ${prev.id} was changed or replaced` : 'an entry before it was removed'} after it was written`;
      }
      prev = row;
      return broken ? { brokenId: row.id, sentence: broken } : undefined;
    },
    get count() {
      return count;
    },
    get lastHash() {
      return prev?.hash ?? GENESIS_HASH;
    },
  };
}

export interface AuditEntryView extends Omit<AuditRow, 'detailsJson'> {
  details: Record<string, unknown> | null;
}

export interface AuditLog {
  /** Appends one entry; throws a FerryError when it cannot, and the caller then does not take the action. */
  append(input: AuditInput): Promise<AuditRow>;
  /**
   * The configuration in force at daemon start or after a reload, compared with the last one recorded: an entry naming
   * what was added, removed or changed, or nothing when it is the same as the last recorded.
   */
  recordConfig(config: FerryConfig, who: string, when: 'daemon start' | 'reload'): Promise<AuditRow | undefined>;
  list(filter: AuditFilter): Promise<AuditEntryView[]>;
  verify(): Promise<VerifyResult>;
}

const clean = (text: string, max: number) => scrubSecrets(text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()).slice(0, max);
const cleanOpt = (text: string | null | undefined, max: number) => (text === null || text === undefined || text.trim() === '' ? null : clean(text, max));

export function createAuditLog(store: AuditStore, clock: Clock): AuditLog {
  /** Under the store's lock: the next id, the previous hash, and the time. */
  const seal = (input: AuditInput, last: AuditRow | undefined): AuditRow => {
    const row: Omit<AuditRow, 'hash'> = {
      id: (last?.id ?? 0) + 1,
      at: clock.now().toISOString(),
      who: clean(input.who, 128),
      action: input.action,
      integration: cleanOpt(input.integration, 128),
      district: cleanOpt(input.district, 128),
      what: clean(input.what, 1000),
      why: cleanOpt(input.why, 1000),
      ticket: cleanOpt(input.ticket, 128),
      detailsJson: input.details ? scrubSecrets(JSON.stringify(input.details)) : null,
      configDigest: input.configDigest ?? null,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    return { ...row, hash: auditHash(row) };
  };
  const failed = (input: Pick<AuditInput, 'action' | 'integration'>, err: unknown) =>
    new FerryError('internal', `the audit log could not record this ${input.action}${input.integration ? ` of ${input.integration}` : ''}, so it was not done: ${(err as Error).message}`, {
      ...(input.integration ? { integration: input.integration } : {}),
      cause: err,
    });

  return {
    async append(input) {
      if (!(AUDIT_ACTIONS as readonly string[]).includes(input.action)) throw new FerryError('internal', `unknown audit action "${input.action}"`);
      try {
        return (await store.append(({ last }) => seal(input, last)))!;
      } catch (err) {
        throw failed(input, err);
      }
    },
    async recordConfig(config, who, when) {
      const snapshot = configSnapshot(config);
      try {
        return await store.append(
          ({ last, lastConfig }) => {
            const before = lastConfig ? snapshotOf(lastConfig) : undefined;
            if (before?.digest === snapshot.digest) return undefined;
            const changes = before ? diffSnapshots(before, snapshot) : undefined;
            const counts = Object.entries(snapshot.sections).map(([name, items]) => `${Object.keys(items).length} ${name}`).join(', ');
            const what = changes ? `configuration changed at ${when}: ${describeChanges(changes)}` : `configuration first recorded at ${when}: ${counts}`;
            return seal({ who, action: 'config', what, details: { when, changes: changes ?? null, snapshot }, configDigest: snapshot.digest }, last);
          },
          { withLastConfig: true },
        );
      } catch (err) {
        throw failed({ action: 'config' }, err);
      }
    },
    async list(filter) {
      const rows = await store.list(filter);
      return rows.filter((r) => r.action !== 'config' || configEntryMatches(r, filter)).map(({ detailsJson, ...r }) => ({ ...r, details: detailsJson ? (JSON.parse(detailsJson) as Record<string, unknown>) : null }));
    },
    async verify() {
      const verifier = createChainVerifier();
      for (let after = 0; ; ) {
        const rows = await store.page(after, 1000);
        for (const row of rows) {
          const broken = verifier.check(row);
          if (broken) return { ok: false, entries: verifier.count, ...broken };
        }
        if (rows.length < 1000) return { ok: true, entries: verifier.count, lastHash: verifier.lastHash };
        after = rows[rows.length - 1]!.id;
      }
    },
  };
}

function snapshotOf(row: AuditRow): ConfigSnapshot | undefined {
  try {
    const details = JSON.parse(row.detailsJson ?? 'null') as { snapshot?: ConfigSnapshot } | null;
    return details?.snapshot;
  } catch {
    return undefined;
  }
}

/** A config entry belongs under --integration/--district when its changes name them. */
function configEntryMatches(row: AuditRow, filter: AuditFilter): boolean {
  if (!filter.integration && !filter.district) return true;
  let changes: ConfigChanges | null = null;
  try {
    changes = (JSON.parse(row.detailsJson ?? 'null') as { changes?: ConfigChanges | null } | null)?.changes ?? null;
  } catch {
    return false;
  }
  if (!changes) return false;
  if (filter.integration && !changesName(changes, 'integrations', filter.integration)) return false;
  if (filter.district && !changesName(changes, 'districts', filter.district) && !(filter.integration && changesName(changes, 'integrations', filter.integration))) return false;
  return true;
}
