import type { Agreement, ColumnDef, FerryConfig, Integration } from '../config/model.js';
import { covers, dataElement } from './elements.js';

/**
 * Agreements as Ferry enforces them: what state one is in on a day, the sentence that holds or refuses a run when it
 * has expired, and which sent columns it does not cover. Dates are calendar days; an agreement is in force through
 * its `expires` day, read in the time zone of the integrations that use it (UTC when none does).
 */

/** Days before expiry when an `agreement` alert goes out, once each. */
export const EXPIRY_ALERT_DAYS = [60, 30, 7] as const;

export type AgreementState = { kind: 'active'; daysLeft: number } | { kind: 'expiring'; daysLeft: number } | { kind: 'expired'; daysAgo: number } | { kind: 'unused'; daysLeft: number };

/** The calendar day (YYYY-MM-DD) of `at` in `timezone`. */
export function localDate(at: Date, timezone: string): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** Whole days from `from` to `to` (both YYYY-MM-DD); negative when `to` is earlier. */
export function daysFrom(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Days the agreement has left after `today` (0 on its last day); negative once it has expired. */
export function daysLeft(agreement: Agreement, today: string): number {
  return daysFrom(today, agreement.expires);
}

export function isExpired(agreement: Agreement, at: Date, timezone: string): boolean {
  return daysLeft(agreement, localDate(at, timezone)) < 0;
}

/** "agreement hilltop-parentsquare-2026 with vendor ParentSquare expired on 2026-12-31". */
export function expiredSentence(agreement: Agreement): string {
  return `agreement ${agreement.id} with vendor ${agreement.vendor} expired on ${agreement.expires}`;
}

/** The integration's agreement when it has expired by `at` (in the integration's time zone), else undefined. */
export function expiredAgreement(integration: Integration, at: Date): Agreement | undefined {
  const a = integration.agreement;
  return a && isExpired(a, at, integration.schedule.timezone) ? a : undefined;
}

/** The HoldCheck (governance/holds.ts): a scheduled run of an integration whose agreement has expired sends nothing. */
export function agreementHold(integration: Integration, _config: FerryConfig, at: Date): string | null {
  const a = expiredAgreement(integration, at);
  return a ? `${expiredSentence(a)}; scheduled runs of ${integration.id} are held until the district renews it` : null;
}

/** Every agreement of the configuration, with the integrations that send under it. */
export interface AgreementUse {
  readonly agreement: Agreement;
  readonly integrations: readonly Integration[];
  /** The time zone its days are read in: that of the first integration using it, else UTC. */
  readonly timezone: string;
}

export function agreementUses(config: FerryConfig, districtId?: string): AgreementUse[] {
  const out: AgreementUse[] = [];
  for (const district of config.districts.values()) {
    if (districtId !== undefined && district.id !== districtId) continue;
    for (const agreement of district.agreements ?? []) {
      const integrations = [...config.integrations.values()].filter((i) => i.agreement === agreement);
      out.push({ agreement, integrations, timezone: integrations[0]?.schedule.timezone ?? 'UTC' });
    }
  }
  return out;
}

/** Expired beats unused: an expired agreement is news whether or not anything still uses it. Within 60 days: expiring. */
export function agreementState(use: AgreementUse, at: Date): AgreementState {
  const left = daysLeft(use.agreement, localDate(at, use.timezone));
  if (left < 0) return { kind: 'expired', daysAgo: -left };
  if (use.integrations.length === 0) return { kind: 'unused', daysLeft: left };
  return left <= EXPIRY_ALERT_DAYS[0] ? { kind: 'expiring', daysLeft: left } : { kind: 'active', daysLeft: left };
}

/** "active (204 days left)", "expiring in 24 days", "expired 3 days ago (on 2026-06-30)", "unused". */
export function describeState(state: AgreementState, agreement: Agreement): string {
  switch (state.kind) {
    case 'active':
      return `active (${state.daysLeft} days left)`;
    case 'expiring':
      return state.daysLeft === 0 ? 'expiring today' : `expiring in ${state.daysLeft} day${state.daysLeft === 1 ? '' : 's'}`;
    case 'expired':
      return `expired on ${agreement.expires}`;
    case 'unused':
      return 'unused';
  }
}

/** A sent column whose data element the agreement does not cover. */
export interface UncoveredColumn {
  /** The bundle file it is in ("students.csv"), for bundles. */
  readonly file?: string | undefined;
  readonly column: string;
  readonly element: string;
}

/**
 * The columns an integration sends whose element its agreement does not cover. Untagged columns, and tags that name
 * no known element, are skipped here: extracts are refused for those where they are checked, so the element is
 * unknown rather than uncovered. Columns that carry no personal data need no agreement.
 */
export function uncoveredColumns(agreement: Agreement, sent: readonly { file?: string | undefined; columns: readonly ColumnDef[] }[]): UncoveredColumn[] {
  const out: UncoveredColumn[] = [];
  for (const part of sent) {
    for (const c of part.columns) {
      const el = c.element === undefined ? undefined : dataElement(c.element);
      if (!el || el.group === 'none' || covers(agreement.covers, el)) continue;
      out.push({ file: part.file, column: c.name, element: el.tag });
    }
  }
  return out;
}
