import type { RunRecord } from '../store/run-store.js';

/** Plain aligned text tables for a terminal; --json gives machine output instead. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

export function formatBytes(n: number | null): string {
  if (n === null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatDuration(run: Pick<RunRecord, 'startedAt' | 'finishedAt'>): string {
  if (!run.startedAt || !run.finishedAt) return '';
  const ms = run.finishedAt.getTime() - run.startedAt.getTime();
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** "2026-11-23 02:00 EST" in the given zone. */
export function formatInZone(d: Date | null, timezone: string): string {
  if (!d) return '';
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZoneName: 'short',
  }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour') === '24' ? '00' : get('hour')}:${get('minute')}:${get('second')} ${get('timeZoneName')}`;
}

export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function runToJson(r: RunRecord): Record<string, unknown> {
  return {
    ...r,
    scheduledFor: r.scheduledFor?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    releasedAt: r.releasedAt?.toISOString() ?? null,
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
  };
}

/**
 * How a run went beyond the config, for history and show: " [forced by alice: parameter grades=PK-12 overrides the
 * config's K-5 (reason: …)]", and the same for a forced release; empty for a run that was not forced.
 */
export function forcedNote(r: RunRecord): string {
  const run = r.forcedReason ? ` [forced by ${r.requestedBy}: ${r.forcedScope ?? 'scope changed'} (reason: ${r.forcedReason})]` : '';
  const release = r.releaseForcedReason ? ` [release forced by ${r.releasedBy ?? 'unknown'}: ${r.releaseForcedScope ?? 'refusal overridden'} (reason: ${r.releaseForcedReason})]` : '';
  return run + release;
}

/** What `history` and `show` say a run ended with: where it went, why it was held or expired, or its error. */
export function runOutcome(r: RunRecord): string {
  switch (r.status) {
    case 'succeeded':
      return `${r.remotePath ?? '(not delivered)'}${r.bundleMode ? ` (OneRoster ${r.bundleMode})` : r.files ? ` (${r.files.length} files)` : ''}${r.releasedBy ? ` (released by ${r.releasedBy})` : ''}`;
    case 'held':
      return r.holdReason ?? 'held';
    case 'expired':
      return r.note ?? 'expired';
    default:
      return r.error ?? '';
  }
}
