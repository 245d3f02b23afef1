import type { FerryConfig } from '../config/model.js';
import type { AgreementUse } from '../governance/agreements.js';
import type { AlertsConfig } from '../config/schema.js';
import { wallClockOf } from '../scheduler/slots.js';
import { isGovernanceHold, type RunRecord, type RunStatus } from '../store/run-record.js';

/** What `alerts.on` can name. */
export type AlertKind = AlertsConfig['on'][number];

/**
 * One thing worth telling someone about, already worded for each channel. Built from ids, statuses and the run's
 * own one-line messages (which the runner keeps free of row data and secrets), never from file contents.
 */
export interface Alert {
  /** What `alerts.on` filters on. */
  readonly kind: AlertKind;
  /** The district whose contact is told; null for the daemon's own troubles (the store), which go to `email.to` only. */
  readonly districtId: string | null;
  /** Short label for subjects and summaries: the run's status, "store unreachable" / "store recovered", "agreement expiring". */
  readonly label: string;
  /** The email subject when this alert is sent alone. */
  readonly subject: string;
  /** One line for the webhook. */
  readonly line: string;
  /** The email body, in sentences. */
  readonly body: string;
}

/** Which alert a finished run raises, if any. An interrupted run did not deliver either, so it alerts as failed. */
export function alertKindOf(status: RunStatus): AlertKind | undefined {
  switch (status) {
    case 'failed':
    case 'interrupted':
      return 'failed';
    case 'held':
      return 'held';
    case 'missed':
      return 'missed';
    default:
      return undefined;
  }
}

/** "2026-11-23 02:00 America/New_York": the wall-clock time a district reads its schedule in. */
export function formatLocal(at: Date, timezone: string): string {
  const wall = new Date(wallClockOf(timezone, at.getTime())).toISOString();
  return `${wall.slice(0, 10)} ${wall.slice(11, 16)} ${timezone}`;
}

export function districtName(config: FerryConfig, districtId: string): string {
  return config.districts.get(districtId)?.name ?? districtId;
}

export function runAlert(run: RunRecord, config: FerryConfig): Alert | undefined {
  const kind = alertKindOf(run.status);
  if (!kind) return undefined;
  const integration = config.integrations.get(run.integrationId);
  const timezone = integration?.schedule.timezone ?? 'UTC';
  const district = districtName(config, run.districtId);
  const vendor = integration?.inventory.vendor;
  const reason = run.status === 'held' ? (run.holdReason ?? run.error) : (run.error ?? run.note);

  const when = run.scheduledFor
    ? `It was scheduled for ${formatLocal(run.scheduledFor, timezone)} (${run.scheduledFor.toISOString()})`
    : `It was started by ${run.requestedBy} (${run.trigger})`;
  const what =
    run.status === 'missed'
      ? `Run ${run.id} records a slot that was not run: integration ${run.integrationId}${vendor ? ` (vendor ${vendor})` : ''} for ${district} (${run.districtId}).`
      : `Run ${run.id} of integration ${run.integrationId}${vendor ? ` (vendor ${vendor})` : ''} for ${district} (${run.districtId}) ended with status ${run.status}.`;
  const lines = [
    what,
    `${when}${run.attempt > 1 ? `; this was attempt ${run.attempt}` : ''}${run.finishedAt ? `, and ${run.status === 'missed' ? 'it was recorded' : 'it finished'} at ${formatLocal(run.finishedAt, timezone)}` : ''} on host ${run.host}.`,
  ];
  if (isGovernanceHold(run)) {
    lines.push(`Nothing was read or delivered. Why it was held: ${(run.holdReason ?? 'no reason was recorded').replace(/\.$/, '')}.`);
  } else if (run.status === 'held') {
    lines.push(`The file was not delivered. Why it was held: ${(run.holdReason ?? 'no reason was recorded').replace(/\.$/, '')}.`);
  } else if (run.error) {
    lines.push(`What went wrong${run.errorKind ? ` (${run.errorKind})` : ''}: ${run.error}`);
  }
  if (run.note) lines.push(`Scheduler note: ${run.note}`);
  const commands: [string, string][] = [];
  if (run.status !== 'missed') commands.push([`ferry logs ${run.id}`, "the run's log lines"]);
  commands.push([`ferry why ${run.integrationId}`, 'what Ferry decided for this integration, and why']);
  if (run.status === 'held' && !isGovernanceHold(run)) commands.push([`ferry release ${run.id}`, 'deliver the held file once you have checked it']);
  if (run.status === 'missed') commands.push([`ferry run ${run.integrationId}`, 'run it now']);
  const width = Math.max(...commands.map(([c]) => c.length));
  lines.push('', 'To look further:', ...commands.map(([c, why]) => `  ${c.padEnd(width)}  ${why}`));

  const where = `${run.integrationId} (${district})`;
  const hint = isGovernanceHold(run) ? `ferry why ${run.integrationId}` : run.status === 'held' ? `ferry release ${run.id} after checking the file` : run.status === 'missed' ? `ferry why ${run.integrationId}` : `ferry logs ${run.id}`;
  return {
    kind,
    districtId: run.districtId,
    label: run.status,
    subject: `[Ferry] ${run.status}: ${where}`,
    line: `Ferry ${run.status}: ${run.integrationId} (${district}${vendor ? `, ${vendor}` : ''}), run ${run.id}${reason ? `: ${reason}` : ''} (${hint})`,
    body: `${lines.join('\n')}\n`,
  };
}

export function storeUnreachableAlert(event: { error: string; since: Date }, host: string): Alert {
  const sentence = `Ferry on ${host} cannot reach its run store since ${event.since.toISOString()}: ${event.error}`;
  return {
    kind: 'store',
    districtId: null,
    label: 'store unreachable',
    subject: `[Ferry] store unreachable on ${host}`,
    line: `Ferry store unreachable on ${host} since ${event.since.toISOString()}: ${event.error}`,
    body: [
      sentence,
      'Until it is back, scheduled runs can be neither claimed nor recorded; Ferry keeps trying and will say when it recovers.',
      '',
      'To look further: check the database or the disk that holds the store, then `ferry list` from this host.',
      '',
    ].join('\n'),
  };
}

export function storeRecoveredAlert(event: { since: Date; at: Date }, host: string): Alert {
  const minutes = Math.max(1, Math.round((event.at.getTime() - event.since.getTime()) / 60_000));
  const sentence = `Ferry on ${host} reaches its run store again since ${event.at.toISOString()}, after about ${minutes} minute${minutes === 1 ? '' : 's'} without it.`;
  return {
    kind: 'store',
    districtId: null,
    label: 'store recovered',
    subject: `[Ferry] store recovered on ${host}`,
    line: sentence,
    body: `${sentence}\nSlots missed meanwhile are handled by each integration's misfire policy and show up as their own alerts.\n`,
  };
}

/** An agreement `days` days from expiry (one of EXPIRY_ALERT_DAYS): told to its district's contact and `email.to`. */
export function agreementAlert(use: AgreementUse, days: number, config: FerryConfig): Alert {
  const a = use.agreement;
  const district = districtName(config, a.districtId);
  const ids = use.integrations.map((i) => i.id);
  const uses = ids.length ? `Integrations sending under it: ${ids.join(', ')}.` : 'No integration sends under it.';
  const sentence = `Agreement ${a.id} ("${a.title}") of ${district} (${a.districtId}) with ${a.vendor} expires on ${a.expires}, in ${days} day${days === 1 ? '' : 's'}.`;
  return {
    kind: 'agreement',
    districtId: a.districtId,
    label: 'agreement expiring',
    subject: `[Ferry] agreement expiring in ${days} days: ${a.vendor} (${district})`,
    line: `Ferry agreement: ${a.id} with ${a.vendor} (${district}) expires on ${a.expires}, in ${days} days${ids.length ? `; used by ${ids.join(', ')}` : ''}`,
    body: [
      sentence,
      uses,
      `Once it has expired, scheduled runs of these integrations are held and manual runs need --force --reason. When it is renewed, update expires: in ${config.districts.get(a.districtId)?.file ?? 'the district file'} and run ferry reload.`,
      `At the end of the agreement the data is to be ${a.dataAtEnd.action}: ${a.dataAtEnd.text}`,
      '',
      'To look further: ferry agreements --district ' + a.districtId,
      '',
    ].join('\n'),
  };
}
