export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted', 'held', 'missed', 'superseded', 'expired'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RUN_TRIGGERS = ['schedule', 'manual', 'retry'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export interface RunRecord {
  id: number;
  integrationId: string;
  districtId: string;
  extract: string;
  trigger: RunTrigger;
  requestedBy: string;
  scheduledFor: Date | null;
  /** The time the run is for: its slot (a retry keeps the slot of the run it retries), or when a manual run was asked. */
  slotAt: Date;
  params: Record<string, unknown>;
  status: RunStatus;
  dryRun: boolean;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  rows: number | null;
  /** What the source said it holds (an API source's count; the rows for SQL sources): see migration 008. */
  expected: number | null;
  bytes: number | null;
  sha256: string | null;
  remotePath: string | null;
  target: string | null;
  errorKind: string | null;
  error: string | null;
  host: string;
  pid: number;
  /** A held run's kept spool file (cleared once it is released). */
  spoolPath: string | null;
  /** Why the roster safety gate held the delivery; kept after release as the audit trail. */
  holdReason: string | null;
  releasedBy: string | null;
  releasedAt: Date | null;
  /** OneRoster bundles: each file in the zip (manifest.csv first); null for a single-file run. */
  files: RunFileInfo[] | null;
  /** OneRoster bundles: 'bulk' or 'delta'; null otherwise. */
  bundleMode: 'bulk' | 'delta' | null;
  /** 1 for a first run; a retry counts on from the run it retries. */
  attempt: number;
  /** The first run of a retry chain. */
  retryOf: number | null;
  /** Queued runs: not started before this. */
  notBefore: Date | null;
  /** The daemon that holds the running run's lease, and until when (store time). */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** The scheduler's decision in a sentence (a missed slot and its policy, a blackout, a catch-up run). */
  note: string | null;
  /** A run forced past what the config fixes (`ferry run --force --reason`): why, and what was overridden. */
  forcedReason: string | null;
  forcedScope: string | null;
  /** The same for a forced `ferry release` (a disabled integration, a newer delivery). */
  releaseForcedReason: string | null;
  releaseForcedScope: string | null;
  /** When the file reached the vendor's folder (a released run: when it was released); null when it has not. */
  deliveredAt: Date | null;
  /** The digest of the configuration in force when the run was claimed (migration 010); null for older runs. */
  configDigest: string | null;
}

export interface RunFileInfo {
  name: string;
  bytes: number;
  sha256: string;
  rows: number;
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** SQLite hands back text and 0/1, PostgreSQL Date objects and bigint strings: one mapping for both. */
export function rowToRun(r: Record<string, unknown>): RunRecord {
  return {
    id: Number(r.id),
    integrationId: String(r.integration_id),
    districtId: String(r.district_id),
    extract: String(r.extract),
    trigger: r.trigger as RunTrigger,
    requestedBy: String(r.requested_by),
    scheduledFor: date(r.scheduled_for),
    slotAt: date(r.slot_at) ?? date(r.scheduled_for) ?? date(r.created_at)!,
    params: JSON.parse(String(r.params_json)) as Record<string, unknown>,
    status: r.status as RunStatus,
    dryRun: Boolean(r.dry_run),
    createdAt: date(r.created_at)!,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    rows: num(r.rows),
    expected: num(r.expected),
    bytes: num(r.bytes),
    sha256: (r.sha256 as string | null) ?? null,
    remotePath: (r.remote_path as string | null) ?? null,
    target: (r.target as string | null) ?? null,
    errorKind: (r.error_kind as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    host: String(r.host),
    pid: Number(r.pid),
    spoolPath: (r.spool_path as string | null) ?? null,
    holdReason: (r.hold_reason as string | null) ?? null,
    releasedBy: (r.released_by as string | null) ?? null,
    releasedAt: date(r.released_at),
    attempt: Number(r.attempt ?? 1),
    retryOf: num(r.retry_of),
    notBefore: date(r.not_before),
    leaseOwner: (r.lease_owner as string | null | undefined) ?? null,
    leaseExpiresAt: date(r.lease_expires_at),
    note: (r.note as string | null | undefined) ?? null,
    forcedReason: (r.forced_reason as string | null | undefined) ?? null,
    forcedScope: (r.forced_scope as string | null | undefined) ?? null,
    releaseForcedReason: (r.release_forced_reason as string | null | undefined) ?? null,
    releaseForcedScope: (r.release_forced_scope as string | null | undefined) ?? null,
    deliveredAt: date(r.delivered_at),
    configDigest: (r.config_digest as string | null | undefined) ?? null,
    bundleMode: r.bundle_mode === 'bulk' || r.bundle_mode === 'delta' ? r.bundle_mode : null,
    files: r.files_json === null || r.files_json === undefined ? null : (JSON.parse(String(r.files_json)) as RunFileInfo[]),
  };
}

/** A run held before it read anything (an expired agreement, an overdue review): there is no file to release. */
export function isGovernanceHold(run: Pick<RunRecord, 'status' | 'errorKind'>): boolean {
  return run.status === 'held' && run.errorKind === GOVERNANCE_HOLD;
}

/** The error kind recorded on a governance hold. */
export const GOVERNANCE_HOLD = 'governance';
