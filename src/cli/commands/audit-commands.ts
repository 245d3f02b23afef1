import { FerryError } from '../../core/errors.js';
import type { AuditEntryView } from '../../governance/audit.js';
import { withRuntime, type GlobalOptions, type Io } from '../context.js';

export interface AuditListOptions extends GlobalOptions {
  integration?: string;
  district?: string;
  since?: string;
  json?: boolean;
}

/** `ferry audit [--integration …] [--district …] [--since …] [--json]`: the audit log, oldest first. */
export async function cmdAudit(opts: AuditListOptions, io: Io): Promise<number> {
  const since = opts.since === undefined ? undefined : parseSince(opts.since, new Date());
  return withRuntime(opts, async (rt) => {
    const entries = await rt.audit.list({ integration: opts.integration, district: opts.district, since });
    if (opts.json) {
      io.out(JSON.stringify(entries, null, 2) + '\n');
      return 0;
    }
    if (entries.length === 0) {
      io.out('no audit entries match\n');
      return 0;
    }
    for (const e of entries) io.out(line(e) + '\n');
    return 0;
  });
}

/** `#42 2026-12-07 10:00:00Z alice disable hilltop-clever: disabled hilltop-clever (why: vendor paused; ticket INC-7)` */
function line(e: AuditEntryView): string {
  const notes = [...(e.why ? [`why: ${e.why}`] : []), ...(e.ticket ? [`ticket ${e.ticket}`] : []), ...(e.configDigest && e.action === 'config' ? [`config ${e.configDigest.slice(0, 12)}`] : [])];
  return `#${e.id} ${e.at.slice(0, 19).replace('T', ' ')}Z ${e.who} ${e.action}${e.integration ? ` ${e.integration}` : ''}: ${e.what}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/**
 * `ferry audit verify`: every entry checked against its hash and its predecessor's. Exit 0 with the count and the last
 * hash (worth noting elsewhere: an attacker who rewrites the whole chain from some entry on changes it), 1 naming the
 * first broken entry.
 */
export async function cmdAuditVerify(opts: GlobalOptions, io: Io): Promise<number> {
  return withRuntime(opts, async (rt) => {
    const r = await rt.audit.verify();
    if (!r.ok) {
      io.err(`ferry: ${r.sentence}\n`);
      return 1;
    }
    io.out(r.entries === 0 ? 'the audit log is empty\n' : `audit log intact: ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'}, each matching its hash and following the one before; last hash ${r.lastHash}\n`);
    return 0;
  });
}

/** `--since`: a date (midnight UTC), an ISO time, or an age such as 7d, 12h, 30m. */
export function parseSince(text: string, now: Date): Date {
  const t = text.trim();
  const age = /^(\d+)\s*([dhm])$/i.exec(t);
  if (age) return new Date(now.getTime() - Number(age[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[age[2]!.toLowerCase() as 'd' | 'h' | 'm']);
  const d = /^\d{4}-\d{2}-\d{2}$/.test(t) ? new Date(`${t}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(t) ? new Date(t) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new FerryError('params', `--since "${text}" is not a date (2026-12-01), a time (2026-12-01T08:00:00Z) or an age (7d, 12h)`, { field: 'since' });
  return d;
}
