import type { FerryConfig, Integration } from '../../config/model.js';
import { dateInZone } from '../../config/params.js';
import type { RunStore } from '../../store/run-store.js';
import { agreementState, agreementUses, describeState } from '../agreements.js';
import { reviewDateOf, reviewStateOf } from '../reviews.js';
import { integrationsOf, lastDeliveries, timingOf } from './data-flows.js';
import type { ReportModel } from './renderers.js';

/**
 * `ferry report inventory`: the D.I.G. sample list's columns (Source, Destination, District Contact, Method, Filtering,
 * Path, Timing, Start Date, Ticket Number, Local Location, Notes), then vendor, agreement, enabled, last delivery, review.
 */

/** Review state as `ferry review due` reads it (due within this many days is "soon"). */
const REVIEW_WINDOW_DAYS = 30;
const FILTER_PARAMS = ['schoolYear', 'grades', 'buildings', 'activeOnly', 'asOf'] as const;

function filteringOf(i: Integration): string {
  const parts: string[] = [];
  for (const f of FILTER_PARAMS) {
    const v = i.params[f];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    parts.push(`${f}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  if (i.withheld.length) parts.push(`fields: ${i.withheld.length} declared column${i.withheld.length === 1 ? '' : 's'} withheld`);
  return parts.join('; ');
}

function methodOf(i: Integration): string {
  const what = i.bundle ? `${i.bundle.format === 'oneroster' ? 'OneRoster' : 'Clever'} ${i.bundle.mode} files` : 'CSV file';
  return `${i.destination.kind === 'sftp' ? 'SFTP' : 'local folder'}, ${what}`;
}

function destinationOf(i: Integration): string {
  const d = i.destination;
  return d.kind === 'sftp' ? `${d.id} (sftp ${d.host})` : `${d.id} (local)`;
}

export async function buildInventory(config: FerryConfig, store: Pick<RunStore, 'lastDelivered' | 'getStates' | 'latestReviews'>, now: Date, district?: string): Promise<ReportModel> {
  const integrations = integrationsOf(config, district);
  const [last, states, reviews] = await Promise.all([lastDeliveries(store, integrations), store.getStates(), store.latestReviews()]);
  const useOf = new Map(agreementUses(config, district).map((u) => [u.agreement, u]));
  const rows = integrations.map((i) => {
    const a = i.agreement;
    const use = a ? useOf.get(a) : undefined;
    const { date } = reviewDateOf(i, reviews.get(i.id));
    const review = reviewStateOf(date, dateInZone(now, i.schedule.timezone), REVIEW_WINDOW_DAYS);
    const state = states.get(i.id);
    return [
      i.district.id,
      i.id,
      `${i.source.id} (${i.source.kind})`,
      destinationOf(i),
      i.inventory.contact,
      methodOf(i),
      filteringOf(i),
      `${i.source.id} > ${i.bundle ? i.bundle.files.map((f) => f.extract.name).join('+') : i.extract.name} > ${i.inventory.vendor}`,
      timingOf(i),
      i.inventory.startDate ?? '',
      i.inventory.ticket ?? '',
      `${i.destination.id}:${i.remotePath}`,
      i.inventory.notes ?? '',
      i.inventory.vendor,
      a ? `${a.id} (${a.title})` : 'none',
      a ? a.expires : '',
      a && use ? describeState(agreementState(use, now), a) : '',
      (state?.enabled ?? i.enabled) ? 'enabled' : `disabled${state && !state.enabled && state.reason ? ` (${state.reason})` : ''}`,
      last.get(i.id)?.toISOString() ?? 'never',
      date === null ? 'unknown (no start date or review)' : `${review.state} (review ${date})`,
    ];
  });
  return {
    kind: 'inventory',
    title: `Integration inventory${district ? `: ${config.districts.get(district)?.name ?? district}` : ''}`,
    generatedAt: now.toISOString(),
    facts: [
      { label: 'Integrations', value: integrations.length },
      { label: 'Enabled', value: integrations.filter((i) => states.get(i.id)?.enabled ?? i.enabled).length },
      { label: 'Without agreement', value: integrations.filter((i) => !i.agreement).length },
    ],
    columns: [
      'District',
      'Integration',
      'Source',
      'Destination',
      'District Contact',
      'Method',
      'Filtering',
      'Path',
      'Timing',
      'Start Date',
      'Ticket Number',
      'Local Location',
      'Notes',
      'Vendor',
      'Agreement',
      'Agreement Expires',
      'Agreement State',
      'Enabled',
      'Last Delivery',
      'Review',
    ],
    rows,
    empty: 'No integrations.',
    notes: [],
  };
}
