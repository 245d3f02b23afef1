import type { FerryConfig } from '../config/model.js';
import type { Alert } from './messages.js';
import { districtName } from './messages.js';
import { recipientsOf, type Recipient } from './recipients.js';

/**
 * Alerts that pile up while a send is in flight go out together: after downtime the scheduler records every missed
 * slot at once, and 200 webhook posts (Slack allows about one a second) or 200 emails would bury the one that matters.
 */

/** Beyond this many lines a webhook message lists the rest as a count: chat clients truncate long posts. */
const WEBHOOK_MAX_LINES = 20;

export function webhookText(alerts: readonly Alert[]): string {
  if (alerts.length === 1) return alerts[0]!.line;
  const shown = alerts.slice(0, WEBHOOK_MAX_LINES).map((a) => a.line);
  const more = alerts.length - shown.length;
  // Blank lines between entries: Teams joins single newlines into one paragraph; Slack shows either.
  return [`Ferry: ${alerts.length} alerts (${countLabels(alerts)})`, ...shown, ...(more > 0 ? [`… and ${more} more: see ferry history`] : [])].join('\n\n');
}

export interface AlertMail {
  readonly to: Recipient[];
  readonly subject: string;
  readonly text: string;
}

/** One message per district (its contact plus `email.to`); the store's own alerts go to `email.to` alone. */
export function alertMails(alerts: readonly Alert[], config: FerryConfig, always: readonly string[]): AlertMail[] {
  const groups = new Map<string | null, Alert[]>();
  for (const a of alerts) {
    const list = groups.get(a.districtId);
    if (list) list.push(a);
    else groups.set(a.districtId, [a]);
  }
  const mails: AlertMail[] = [];
  for (const [districtId, group] of groups) {
    const contact = districtId === null ? undefined : config.districts.get(districtId)?.contact;
    const to = recipientsOf([contact, ...always]);
    if (to.length === 0) continue;
    const first = group[0]!;
    const subject =
      group.length === 1 ? first.subject : `[Ferry] ${group.length} alerts: ${countLabels(group)}${districtId === null ? '' : ` (${districtName(config, districtId)})`}`;
    mails.push({ to, subject, text: group.map((a) => a.body).join('\n----\n\n') });
  }
  return mails;
}

/** "2 failed, 1 missed", most frequent first. */
function countLabels(alerts: readonly Alert[]): string {
  const counts = new Map<string, number>();
  for (const a of alerts) counts.set(a.label, (counts.get(a.label) ?? 0) + 1);
  return [...counts]
    .sort((x, y) => y[1] - x[1])
    .map(([label, n]) => `${n} ${label}`)
    .join(', ');
}
