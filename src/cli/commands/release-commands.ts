import { FerryError } from '../../core/errors.js';
import { currentUser, forcedIo, parseForce, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { formatBytes } from '../output.js';
import { configDigest } from '../../governance/config-digest.js';
import { startDemoSftpIfNeeded } from './run-commands.js';

/**
 * `ferry release <run-id> [--force --reason …]`: deliver a run the roster safety gate held, recorded with who
 * released it. A run of a disabled integration, or one a newer delivery has overtaken, is released only when forced.
 * Exit 0 when delivered, 1 when delivery failed (the run stays held), 2 when the run is not held or was refused.
 */
export async function cmdRelease(runIdText: string, opts: GlobalOptions & { force?: boolean; reason?: string }, baseIo: Io): Promise<number> {
  const runId = Number(runIdText);
  if (!Number.isSafeInteger(runId) || runId <= 0) throw new FerryError('params', `"${runIdText}" is not a run id (see ferry history)`, { field: 'run-id' });
  const forceReason = parseForce(opts);
  return withRuntime(opts, async (rt) => {
    const held = await rt.store.getRun(runId);
    const integration = held ? rt.config.integrations.get(held.integrationId) : undefined;
    const demo = integration && held?.status === 'held' ? await startDemoSftpIfNeeded(rt, integration) : undefined;
    try {
      await rt.runs.replayReceipts();
      if (held?.status === 'held') {
        await rt.audit.append({
          who: currentUser(),
          action: 'release',
          integration: held.integrationId,
          district: held.districtId,
          what: `asked to release held run ${runId} of ${held.integrationId}${forceReason !== undefined ? ' (forced)' : ''}`,
          why: forceReason ?? null,
          ticket: opts.ticket ?? null,
          details: { runId, forced: forceReason !== undefined },
          configDigest: configDigest(rt.config),
        });
      }
      const r = await rt.runs.release(runId, currentUser(), { forceReason });
      const io = r.releaseForcedReason ? forcedIo(baseIo, 'release', r.releaseForcedReason) : baseIo;
      if (r.releaseForcedScope) io.err(`ferry: warning: run ${r.id} released forced by ${r.releasedBy}: ${r.releaseForcedScope}\n`);
      else if (forceReason !== undefined) io.err(`ferry: note: --force was not needed to release run ${r.id}, so it is not recorded as forced\n`);
      io.out(`run ${r.id} released by ${r.releasedBy}: ${r.rows} rows, ${r.bytes} bytes (${formatBytes(r.bytes)}), sha256 ${r.sha256}, delivered to ${r.target}${r.remotePath}\n`);
      return 0;
    } finally {
      await demo?.close();
    }
  });
}
