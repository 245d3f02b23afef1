import type { RunRecord } from '../../store/run-store.js';
import { isGovernanceHold } from '../../store/run-record.js';
import { whyFacts, type WhyFacts } from '../../observability/why-facts.js';
import { findIntegration, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { formatBytes, formatInZone } from '../output.js';

/** How many of the integration's recent runs `why` reads for the last slot and the last missed batch. */
const RECENT = 200;

/** `ferry why <id> [--json]`: in plain sentences, why the integration did or did not run, and what comes next. */
export async function cmdWhy(id: string, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  return withRuntime(opts, async (rt) => {
    const integration = findIntegration(rt, id);
    const [now, states, recentRuns, running, queued, lastSlots, lastDelivery] = await Promise.all([
      rt.store.dbNow(),
      rt.store.getStates(),
      rt.store.listRuns({ integrationId: id, limit: RECENT }),
      rt.store.runsWithStatus('running', id),
      rt.store.runsWithStatus('queued', id),
      rt.store.lastSlots(),
      rt.store.lastDelivered(id),
    ]);
    const facts = whyFacts({ integration, now, state: states.get(id), recentRuns, running, queued, lastRecordedSlot: lastSlots.get(id) ?? null, misfireWindowHours: rt.config.scheduler.misfireWindowHours });
    const sentences = whySentences(id, facts, now, lastDelivery ?? null);
    if (opts.json) io.out(JSON.stringify({ integration: id, now, ...facts, lastDelivery: lastDelivery ?? null, sentences }, null, 2) + '\n');
    else io.out(sentences.join('\n') + '\n');
    return 0;
  });
}

/**
 * The facts as sentences, one per line, in the order a person asks: is it on, when, what happened, what now.
 * `lastDelivery`: the run whose file the vendor has (by when it was delivered), when known.
 */
export function whySentences(id: string, f: WhyFacts, now: Date, lastDelivery?: RunRecord | null): string[] {
  const tz = f.schedule.timezone;
  const at = (d: Date | null) => formatInZone(d, tz);
  const out: string[] = [];

  const e = f.enabled;
  if (e.source === 'config') out.push(`${id} is ${e.value ? 'enabled' : 'disabled'} (config).`);
  else {
    const differs = e.value !== e.config ? ` Its config says ${e.config ? 'enabled' : 'disabled'}; \`ferry ${e.config ? 'enable' : 'disable'}\` returns to that.` : '';
    out.push(`${id} is ${e.value ? 'enabled' : 'disabled'}, set by ${e.by} at ${at(e.at)}${e.reason ? `: ${stop(e.reason)}` : '.'}${differs}`);
  }

  const next = f.schedule.next.map((s) => `${at(s.at)}${s.blackout ? ` (in the blackout "${s.blackout.reason}": skipped)` : ''}`);
  out.push(
    `Its schedule is \`${f.schedule.cron}\` in ${tz}; ${next.length ? `the next slot${next.length > 1 ? 's are' : ' is'} ${list(next)}` : 'no slot comes in the next 400 days'}${
      e.value || !next.length ? '.' : '; while it is disabled they will not run.'
    }`,
  );

  out.push(lastSlotSentence(f, now, at));
  if (f.lastRun && f.lastRun.id !== f.lastSlot?.run?.id && f.lastRun.id !== f.missed?.catchUp?.id) {
    const r = f.lastRun;
    out.push(`The last finished run was run ${r.id} (${r.trigger}${r.trigger === 'manual' ? `, by ${r.requestedBy}` : ''}${r.dryRun ? ', dry run' : ''}), which ${outcome(r)}${r.finishedAt ? ` at ${at(r.finishedAt)}` : ''}.`);
  }
  if (lastDelivery) {
    const d = lastDelivery;
    const released = d.releasedBy ? `, released by ${d.releasedBy}` : '';
    out.push(`The vendor's current file is from run ${d.id} (slot ${at(d.slotAt)}${released}), delivered${d.deliveredAt ? ` at ${at(d.deliveredAt)}` : ''}${d.rows !== null ? ` with ${d.rows.toLocaleString('en-US')} rows` : ''}.`);
  }

  if (f.missed) {
    const m = f.missed;
    const ids = m.runs.length === 1 ? `run ${m.runs[0]!.id}` : `runs ${list(m.runs.map((r) => String(r.id)))}`;
    const what = m.runs.length === 1 ? `the slot ${at(m.from)}` : `${m.runs.length} slots between ${at(m.from)} and ${at(m.to)}`;
    const catchUp = m.catchUp ? ` Run ${m.catchUp.id} then ran the slot ${at(m.catchUp.scheduledFor)} and ${outcome(m.catchUp)}.` : '';
    out.push(`Missed: ${what} (${ids}), decided at ${at(m.decidedAt)}${m.note ? `: ${stop(unprefixed(m.note, 'missed'))}` : '.'}${catchUp} The misfire policy in config is ${f.misfire}.`);
  } else {
    const where = f.looked === 0 ? 'yet: no runs are recorded' : f.looked === 1 ? 'in the one run recorded' : `in the last ${f.looked} runs recorded`;
    out.push(`Nothing was recorded as missed ${where} (misfire policy ${f.misfire}).`);
  }
  if (f.gaps) {
    const g = f.gaps;
    const span = g.count === 1 ? `the slot ${at(g.first)} has` : `${g.count} slots between ${at(g.first)} and ${at(g.last)} have`;
    out.push(`Gap: ${span} no run recorded, though slots before and after do: the integration was disabled then, or the slots fell outside the misfire window (scheduler.misfireWindowHours) before any daemon could record them.`);
  }
  if (f.unrecorded) {
    const u = f.unrecorded;
    const count = `${u.atLeast ? 'at least ' : ''}${u.count} slot${u.count === 1 ? '' : 's'}`;
    const span = u.count === 1 ? `at ${at(u.from)}` : `between ${at(u.from)} and ${at(u.to)}`;
    const disabledSince = !e.value && e.at && e.at <= u.from;
    out.push(
      disabledSince
        ? `No run is recorded for ${count} ${span}: it has been disabled since ${at(e.at)}, and disabled slots are neither run nor recorded.`
        : `No run is recorded for ${count} ${span}: no daemon was running then, or none has got to ${u.count === 1 ? 'it' : 'them'} yet; a daemon that starts applies the misfire policy ${f.misfire} to ${f.misfireWindowHours === null ? 'them' : `those in the last ${f.misfireWindowHours} h (scheduler.misfireWindowHours)`}.`,
    );
  }

  for (const r of f.running) out.push(runningSentence(r, now, at));
  for (const r of f.queued) out.push(queuedSentence(r, at));
  if (!f.running.length && !f.queued.length) out.push('No run is going or queued now.');

  const b = f.blackout;
  if (b.now) out.push(`A blackout applies from ${b.now.from} to ${b.now.to} (${b.now.reason}): scheduled runs are skipped until it ends.`);
  else out.push(`No blackout applies now${b.next ? `; the next one is from ${b.next.from} to ${b.next.to} (${b.next.reason})` : ', and none is configured ahead'}.`);
  return out;
}

function lastSlotSentence(f: WhyFacts, now: Date, at: (d: Date | null) => string): string {
  const s = f.lastSlot;
  if (!s) return 'It had no slot in the last 400 days.';
  const slot = `The last slot, ${at(s.at)},`;
  const r = s.run;
  if (!r) {
    const disabled = !f.enabled.value && f.enabled.at && f.enabled.at <= s.at;
    const why = disabled
      ? 'it was disabled then, and disabled slots are not run'
      : s.blackout
        ? `it fell in the blackout "${s.blackout.reason}"`
        : now.getTime() - s.at.getTime() < 60_000
          ? 'it is just due'
          : 'no daemon was running then, or none has got to it yet';
    return `${slot} has no run recorded: ${why}.`;
  }
  const note = r.note && r.status !== 'skipped' && r.status !== 'missed' ? ` The scheduler noted: ${stop(r.note)}` : '';
  switch (r.status) {
    case 'running':
      return `${slot} is running now as run ${r.id}.${note}`;
    case 'queued':
      return `${slot} is queued as run ${r.id}.${note}`;
    case 'skipped':
    case 'missed':
      return `${slot} was ${r.status} (run ${r.id}): ${stop(unprefixed(r.note ?? r.error ?? 'no reason recorded', r.status))}`;
    default:
      return `${slot} ran as run ${r.id} and ${outcome(r)}.${note}`;
  }
}

/** "succeeded (1,204 rows, 88.1 KiB)", "failed: …", as the tail of "ran as run N and …". */
function outcome(r: RunRecord): string {
  switch (r.status) {
    case 'succeeded':
      return `succeeded${r.rows !== null ? ` (${r.rows.toLocaleString('en-US')} rows, ${formatBytes(r.bytes)})` : ''}`;
    case 'held':
      return isGovernanceHold(r) ? `was held before it read anything${r.holdReason ? ` (${trim(r.holdReason)})` : ''}` : `was held by the roster safety gate${r.holdReason ? ` (${trim(r.holdReason)})` : ''}`;
    case 'expired':
      return `was held by the roster safety gate and expired unreleased${r.note ? ` (${trim(r.note)})` : ''}`;
    case 'running':
      return 'is still going';
    case 'queued':
      return 'is queued';
    default:
      return `${r.status === 'failed' ? 'failed' : `was ${r.status}`}${r.error ? ` (${trim(r.error)})` : ''}`;
  }
}

function runningSentence(r: RunRecord, now: Date, at: (d: Date | null) => string): string {
  const what = `Run ${r.id} (${r.trigger}${r.attempt > 1 ? `, attempt ${r.attempt}` : ''}) is going now`;
  const where = r.leaseOwner ? `on daemon ${r.leaseOwner} (host ${r.host}, pid ${r.pid})` : `in process ${r.pid} on host ${r.host}, with no lease`;
  const since = r.startedAt ? `, started ${at(r.startedAt)}` : '';
  if (!r.leaseExpiresAt) return `${what} ${where}${since}.`;
  if (r.leaseExpiresAt >= now) return `${what} ${where}${since}; its lease holds until ${at(r.leaseExpiresAt)}.`;
  return `${what} ${where}${since}, but its lease ran out at ${at(r.leaseExpiresAt)}: that daemon has probably stopped, and the next daemon to look will mark the run interrupted.`;
}

function queuedSentence(r: RunRecord, at: (d: Date | null) => string): string {
  const when = r.notBefore ? ` not before ${at(r.notBefore)}` : '';
  if (r.trigger === 'retry') return `Run ${r.id} is queued: a retry (attempt ${r.attempt}${r.retryOf ? ` of run ${r.retryOf}` : ''})${when}.`;
  return `Run ${r.id} is queued${r.scheduledFor ? ` for the slot ${at(r.scheduledFor)}` : ''}${when}${r.note ? `: ${stop(r.note)}` : '.'}`;
}

/** One sentence's worth of a recorded message: the first line, at most 200 characters. */
function trim(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function stop(text: string): string {
  const t = trim(text);
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}

/** The scheduler's notes start with their status ("missed: …", "skipped: …"); the sentence has said it already. */
function unprefixed(note: string, status: string): string {
  return note.startsWith(`${status}: `) ? note.slice(status.length + 2) : note;
}

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
