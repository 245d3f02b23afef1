import { FerryError } from '../../core/errors.js';
import { currentUser, findIntegration, withRuntime, type GlobalOptions, type Io } from '../context.js';

/** `ferry enable <id>` / `ferry disable <id> --reason …`: recorded with who and why; the daemon honours it at the next slot. */
export async function cmdSetEnabled(id: string, enabled: boolean, opts: GlobalOptions & { reason?: string }, io: Io): Promise<number> {
  if (!enabled && !opts.reason?.trim()) throw new FerryError('params', 'disable needs --reason "…" (it is recorded for the district)', { field: 'reason' });
  return withRuntime(opts, async (rt) => {
    const integration = findIntegration(rt, id);
    const by = currentUser();
    // Recorded first: when the audit log cannot take it, the integration is left as it was.
    await rt.audit.append({
      who: by,
      action: enabled ? 'enable' : 'disable',
      integration: id,
      district: integration.district.id,
      what: `${enabled ? 'enabled' : 'disabled'} ${id}`,
      why: opts.reason ?? null,
      ticket: opts.ticket ?? null,
    });
    await rt.store.setEnabled(id, enabled, opts.reason?.trim() ?? null, by);
    rt.logger.info(enabled ? 'integration enabled' : 'integration disabled', { integration: id, by, reason: opts.reason ?? null });
    io.out(`${id} ${enabled ? 'enabled' : 'disabled'} by ${by}${opts.reason ? `: ${opts.reason.trim()}` : ''}\n`);
    return 0;
  });
}
