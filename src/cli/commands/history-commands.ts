import { FerryError } from '../../core/errors.js';
import { withRuntime, type GlobalOptions, type Io } from '../context.js';
import { forcedNote, formatBytes, formatDuration, runOutcome, runToJson, table } from '../output.js';

/** `ferry history [<id>] [--limit N] [--json]` */
export async function cmdHistory(id: string | undefined, opts: GlobalOptions & { json?: boolean; limit: number }, io: Io): Promise<number> {
  return withRuntime(opts, async (rt) => {
    if (id && !rt.config.integrations.has(id)) throw new FerryError('config', `unknown integration "${id}"`, { field: 'integration' });
    const runs = await rt.store.listRuns({ ...(id ? { integrationId: id } : {}), limit: opts.limit });
    if (opts.json) {
      io.out(JSON.stringify(runs.map(runToJson), null, 2) + '\n');
      return 0;
    }
    if (runs.length === 0) {
      io.out(id ? `no runs of ${id} yet\n` : 'no runs yet\n');
      return 0;
    }
    // The file the vendor has now is the last one delivered, not the newest run: a held run released late is older.
    const current = new Set<number>();
    for (const integrationId of new Set(runs.map((r) => r.integrationId))) {
      const last = await rt.store.lastDelivered(integrationId);
      if (last) current.add(last.id);
    }
    io.out(
      table(
        ['RUN', 'INTEGRATION', 'TRIGGER', 'STATUS', 'STARTED (UTC)', 'TOOK', 'ROWS', 'EXPECTED', 'BYTES', 'SHA-256', 'REMOTE PATH / ERROR'],
        runs.map((r) => [
          r.id,
          r.integrationId,
          r.trigger + (r.dryRun ? ' (dry)' : ''),
          r.status,
          (r.startedAt ?? r.createdAt).toISOString().replace('T', ' ').slice(0, 19),
          formatDuration(r),
          r.rows,
          r.expected,
          r.bytes === null ? '' : `${r.bytes} (${formatBytes(r.bytes)})`,
          r.sha256,
          `${runOutcome(r)}${current.has(r.id) ? ' (latest delivery)' : ''}${forcedNote(r)}`,
        ]),
      ),
    );
    return 0;
  });
}

/** `ferry logs <run-id> [--json]`: the log lines one run wrote. */
export async function cmdLogs(runIdText: string, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const runId = Number(runIdText);
  if (!Number.isSafeInteger(runId) || runId <= 0) throw new FerryError('params', `"${runIdText}" is not a run id (see ferry history)`, { field: 'run-id' });
  return withRuntime(opts, async (rt) => {
    const run = await rt.store.getRun(runId);
    if (!run) throw new FerryError('params', `there is no run ${runId} (see ferry history)`, { field: 'run-id' });
    const logs = await rt.store.getLogs(runId);
    if (opts.json) {
      io.out(JSON.stringify(logs.map((l) => ({ ...l, at: l.at.toISOString() })), null, 2) + '\n');
      return 0;
    }
    const why = run.status === 'held' ? run.holdReason : run.status === 'expired' ? run.note : run.error;
    io.out(`run ${run.id} of ${run.integrationId}: ${run.status}${why ? ` — ${why}` : ''}${run.releasedBy ? ` (released by ${run.releasedBy} at ${run.releasedAt?.toISOString()})` : ''}${forcedNote(run)}\n`);
    for (const l of logs) {
      const fields = Object.entries(l.fields ?? {})
        .filter(([k]) => !['integration', 'district'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      io.out(`${l.at.toISOString()} ${l.level.padEnd(5)} ${l.message}${fields ? `  ${fields}` : ''}\n`);
    }
    return 0;
  });
}
