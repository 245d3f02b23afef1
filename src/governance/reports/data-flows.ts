import type { ColumnDef, FerryConfig, Integration } from '../../config/model.js';
import type { RunStore } from '../../store/run-store.js';
import { dataElement } from '../elements.js';
import type { ReportModel } from './renderers.js';

/** `ferry report data-flows`: per district, which data elements go to which vendor, why, under which agreement, how often, when last. */

export const UNTAGGED = '(untagged)';

/** Every column the integration's files carry (each file of a bundle). */
export function sentColumns(i: Integration): readonly ColumnDef[] {
  return i.bundle ? i.bundle.files.flatMap((f) => f.extract.columns) : i.extract.columns;
}

/** The data elements the integration sends, by tag, sorted; "(untagged)" for columns that name none; none for non-personal columns. */
export function elementsOf(i: Integration): string[] {
  const tags = new Set<string>();
  for (const c of sentColumns(i)) {
    if (c.element === undefined) tags.add(UNTAGGED);
    else if (dataElement(c.element)?.group !== 'none') tags.add(c.element);
  }
  return [...tags].sort((a, b) => (a === UNTAGGED ? 1 : b === UNTAGGED ? -1 : a.localeCompare(b)));
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const pad = (n: string) => n.padStart(2, '0');

/** "daily at 02:00 (America/New_York)", "weekdays at 06:30 (…)", else the cron as written. */
export function timingOf(i: Integration): string {
  const { cron, timezone } = i.schedule;
  const f = cron.trim().split(/\s+/);
  if (f.length === 5 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!) && f[2] === '*' && f[3] === '*') {
    const at = `at ${pad(f[1]!)}:${pad(f[0]!)} (${timezone})`;
    const dow = f[4]!;
    if (dow === '*') return `daily ${at}`;
    if (dow === '1-5') return `weekdays ${at}`;
    if (/^[0-7]$/.test(dow)) return `every ${DAYS[Number(dow) % 7]} ${at}`;
  }
  return `cron "${cron}" (${timezone})`;
}

/** The last delivery time of each integration (delivered_at, or finished_at on old rows). */
export async function lastDeliveries(store: Pick<RunStore, 'lastDelivered'>, integrations: readonly Integration[]): Promise<Map<string, Date | null>> {
  const out = new Map<string, Date | null>();
  for (const i of integrations) {
    const r = await store.lastDelivered(i.id);
    out.set(i.id, r ? (r.deliveredAt ?? r.finishedAt) : null);
  }
  return out;
}

export function integrationsOf(config: FerryConfig, district?: string): Integration[] {
  return [...config.integrations.values()]
    .filter((i) => district === undefined || i.district.id === district)
    .sort((a, b) => a.district.id.localeCompare(b.district.id) || a.inventory.vendor.localeCompare(b.inventory.vendor) || a.id.localeCompare(b.id));
}

export async function buildDataFlows(config: FerryConfig, store: Pick<RunStore, 'lastDelivered'>, now: Date, district?: string): Promise<ReportModel> {
  const integrations = integrationsOf(config, district);
  const last = await lastDeliveries(store, integrations);
  const rows = integrations.map((i) => [
    i.district.id,
    i.inventory.vendor,
    i.id,
    elementsOf(i).join('; '),
    i.inventory.purpose,
    i.agreement ? `${i.agreement.id} (${i.agreement.title}, expires ${i.agreement.expires})` : 'none',
    timingOf(i),
    last.get(i.id)?.toISOString() ?? 'never',
  ]);
  return {
    kind: 'data-flows',
    title: `Data flows${district ? `: ${config.districts.get(district)?.name ?? district}` : ''}`,
    generatedAt: now.toISOString(),
    facts: [
      { label: 'Districts', value: [...new Set(integrations.map((i) => i.district.id))].join(', ') || 'none' },
      { label: 'Vendors', value: [...new Set(integrations.map((i) => i.inventory.vendor))].sort().join(', ') || 'none' },
      { label: 'Integrations', value: integrations.length },
    ],
    columns: ['District', 'Vendor', 'Integration', 'Data elements', 'Purpose', 'Agreement', 'How often', 'Last delivered'],
    rows,
    empty: 'No integrations.',
    notes: [`Data elements are the NDPA Schedule of Data tags of the columns each integration sends; ${UNTAGGED} marks columns not yet tagged.`],
  };
}
