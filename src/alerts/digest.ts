import type { FerryConfig } from '../config/model.js';
import type { OverdueReview } from '../governance/reviews.js';
import { agreementState, agreementUses } from '../governance/agreements.js';
import { compileSchedule, nextSlots } from '../scheduler/slots.js';
import { isGovernanceHold, type RunRecord, type RunStatus } from '../store/run-record.js';
import type { AlertMail } from './batch.js';
import { districtName, formatLocal } from './messages.js';
import { recipientsOf } from './recipients.js';

export const DIGEST_PERIOD_MS = 24 * 60 * 60 * 1000;

/** Final statuses in the order a reader scans them: the good news first, then what needs a look. */
const SHOWN: readonly RunStatus[] = ['succeeded', 'skipped', 'failed', 'interrupted', 'held', 'missed'];
const ATTENTION: ReadonlySet<RunStatus> = new Set(['failed', 'interrupted', 'held', 'missed']);

/** The next digest after `after`, in the digest's own time zone; undefined when the cron never matches within a year. */
export function nextDigestAt(digest: { cron: string; timezone: string }, after: Date): Date | undefined {
  return nextSlots(compileSchedule(digest.cron), digest.timezone, after, 1)[0];
}

export interface DigestInput {
  config: FerryConfig;
  /** Runs finished in [end − 24 h, end). */
  runs: readonly RunRecord[];
  end: Date;
  timezone: string;
  /** Integrations whose yearly review is overdue at `end` (governance/reviews.ts): named every day until reviewed. */
  overdueReviews?: readonly OverdueReview[];
}

/**
 * One message to each district contact whose district had runs in the period (a quiet district gets no mail: a
 * daily "nothing happened" teaches people to ignore Ferry), and one combined message with every district for
 * `email.to`, so the service desk reads one mail instead of one per district.
 */
export function digestMails(input: DigestInput, always: readonly string[]): AlertMail[] {
  const { config, runs, end, timezone } = input;
  const overdue = input.overdueReviews ?? [];
  const byDistrict = new Map<string, RunRecord[]>();
  for (const id of config.districts.keys()) byDistrict.set(id, []);
  for (const run of runs) {
    const list = byDistrict.get(run.districtId);
    if (list) list.push(run);
    else byDistrict.set(run.districtId, [run]); // a district since removed from config still had runs
  }
  const day = formatLocal(end, timezone).slice(0, 10);
  const period = `the 24 hours before ${formatLocal(end, timezone)}`;
  const mails: AlertMail[] = [];
  const sections: string[] = [];
  const quiet: string[] = [];
  for (const id of new Set(overdue.map((o) => o.districtId))) if (!byDistrict.has(id)) byDistrict.set(id, []);
  let active = 0;
  for (const [districtId, list] of byDistrict) {
    const reviews = overdue.filter((o) => o.districtId === districtId);
    const agreements = agreementLines(config, districtId, end);
    if (list.length === 0 && reviews.length === 0 && agreements.length === 0) {
      // Only districts that have integrations are worth naming as quiet.
      if ([...config.integrations.values()].some((i) => i.district.id === districtId)) quiet.push(`${districtName(config, districtId)} (${districtId})`);
      continue;
    }
    const name = districtName(config, districtId);
    if (list.length > 0) active++;
    const section = [districtSection(name, districtId, list, period, config, reviews), ...(agreements.length ? ['Agreements:', ...agreements.map((l) => `  ${l}`)] : [])].join('\n');
    sections.push(section);
    const to = recipientsOf([config.districts.get(districtId)?.contact]);
    const agreementNote = agreements.length ? `, ${agreements.length} agreement${agreements.length === 1 ? '' : 's'} to renew` : '';
    if (to.length > 0) mails.push({ to, subject: `[Ferry] digest ${day}, ${name}: ${summary(list)}${reviewsSummary(reviews)}${agreementNote}`, text: `${section}\n\n${FOOTER}` });
  }
  const desk = recipientsOf(always);
  if (desk.length > 0) {
    const head = `Ferry's digest for ${period}: ${summary(runs)} across ${active} district${active === 1 ? '' : 's'}${reviewsSummary(overdue)}.`;
    const tail = quiet.length > 0 ? [`No runs finished for ${quiet.join(', ')}.`] : [];
    const text = [head, ...sections, ...tail, FOOTER].join('\n\n');
    const districts = active === 1 ? '1 district' : `${active} districts`;
    mails.push({ to: desk, subject: `[Ferry] digest ${day}: ${summary(runs)} in ${districts}${reviewsSummary(overdue)}`, text });
  }
  return mails;
}

const FOOTER = 'Ferry sends this digest once a day. `ferry history` lists every run; `ferry logs <run-id>` shows one.\n';

/** The district's agreements in use that expire within 60 days or have expired, one line each. */
function agreementLines(config: FerryConfig, districtId: string, end: Date): string[] {
  const lines: string[] = [];
  for (const use of agreementUses(config, districtId)) {
    const a = use.agreement;
    const state = agreementState(use, end);
    const ids = use.integrations.map((i) => i.id).join(', ');
    if (state.kind === 'expired' && ids) lines.push(`${a.id} with ${a.vendor} expired on ${a.expires}: scheduled runs of ${ids} are held`);
    else if (state.kind === 'expiring') lines.push(`${a.id} with ${a.vendor} expires on ${a.expires}, in ${state.daysLeft} day${state.daysLeft === 1 ? '' : 's'} (used by ${ids})`);
  }
  return lines;
}

function districtSection(name: string, districtId: string, runs: readonly RunRecord[], period: string, config: FerryConfig, reviews: readonly OverdueReview[]): string {
  const lines = runs.length === 0 ? [`${name} (${districtId}): no runs finished in ${period}.`] : [`${name} (${districtId}): ${runs.length} run${runs.length === 1 ? '' : 's'} finished in ${period}.`, `By status: ${counts(runs)}.`];
  const attention = runs.filter((r) => ATTENTION.has(r.status));
  if (attention.length === 0 && reviews.length === 0) {
    lines.push('Nothing needs attention.');
  } else if (attention.length > 0) {
    lines.push('Needing attention:');
    for (const run of attention) lines.push(`  ${attentionLine(run, config)}`);
  }
  if (reviews.length > 0) {
    lines.push('Yearly reviews overdue (is each still needed? `ferry review due` lists their last deliveries):');
    for (const r of reviews) lines.push(`  ${r.integrationId} (${r.vendor}): review was due ${r.dueOn}; once reviewed with the district: ferry review confirm ${r.integrationId} --note "…"`);
  }
  return lines.join('\n');
}

/** ", 2 reviews overdue", or nothing. */
function reviewsSummary(reviews: readonly OverdueReview[]): string {
  return reviews.length === 0 ? '' : `, ${reviews.length} review${reviews.length === 1 ? '' : 's'} overdue`;
}

function attentionLine(run: RunRecord, config: FerryConfig): string {
  const timezone = config.integrations.get(run.integrationId)?.schedule.timezone ?? 'UTC';
  const when = run.scheduledFor ? ` (slot ${formatLocal(run.scheduledFor, timezone)})` : '';
  const reason = run.status === 'held' ? run.holdReason : (run.error ?? run.note);
  const hint = run.status === 'held' && !isGovernanceHold(run) ? `; once checked: ferry release ${run.id}` : '';
  return `run ${run.id} ${run.integrationId} ${run.status}${when}${reason ? `: ${reason}` : ''}${hint}`;
}

/** "12 runs, 1 failed, 2 held" or "12 runs, all succeeded". */
function summary(runs: readonly RunRecord[]): string {
  const total = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
  if (runs.length > 0 && runs.every((r) => r.status === 'succeeded')) return `${total}, all succeeded`;
  const bad = SHOWN.filter((s) => ATTENTION.has(s))
    .map((s) => [s, runs.filter((r) => r.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  return [total, ...bad].join(', ');
}

/** "11 succeeded, 1 failed, 1 missed": only the statuses that occurred. */
function counts(runs: readonly RunRecord[]): string {
  return SHOWN.map((s) => [s, runs.filter((r) => r.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}
