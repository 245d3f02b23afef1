import type { FerryConfig, Integration } from '../../config/model.js';
import { FerryError } from '../../core/errors.js';
import type { RunRecord } from '../../store/run-record.js';
import type { RunStore } from '../../store/run-store.js';
import { dataElement } from '../elements.js';
import { countDistinctPersons } from '../person-digests.js';
import { elementsOf, integrationsOf } from './data-flows.js';
import type { Cell, ReportModel } from './renderers.js';

/**
 * `ferry report exposure --vendor V --since DATE [--until DATE]`: for a vendor's breach notice (Part 121 §121.10), which
 * districts, integrations and deliveries fell in the window, the data elements they carried, and how many distinct
 * students and staff were in them, counted on the person digests. A delivery without recorded digests is reported as
 * unknown, never as nobody.
 */

export interface ExposureWindow {
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
}

/** A date (YYYY-MM-DD, read as UTC; `until` then covers that whole day) or a full ISO timestamp. */
export function parseWindow(since: string | undefined, until: string | undefined, now: Date): ExposureWindow {
  if (since === undefined) throw new FerryError('params', 'report exposure needs --since DATE (the first day of the breach window, e.g. 2026-11-01)', { field: 'since' });
  const at = (v: string, field: 'since' | 'until', endOfDay: boolean) => {
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
    const t = Date.parse(dateOnly ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(v)) throw new FerryError('params', `--${field} must be a date like 2026-11-01 or a timestamp like 2026-11-01T08:00:00Z, not "${v}"`, { field });
    return new Date(dateOnly && endOfDay ? t + 86_400_000 : t);
  };
  const w = { since: at(since, 'since', false), until: until === undefined ? now : at(until, 'until', true) };
  if (w.until <= w.since) throw new FerryError('params', '--until must be after --since', { field: 'until' });
  return w;
}

/** The integrations sending to this vendor (inventory vendor or agreement vendor, any case). */
export function vendorIntegrations(config: FerryConfig, vendor: string | undefined, district?: string): Integration[] {
  if (vendor === undefined) throw new FerryError('params', 'report exposure needs --vendor NAME (the vendor whose breach notice this answers)', { field: 'vendor' });
  const all = integrationsOf(config, district);
  const v = vendor.trim().toLowerCase();
  const found = all.filter((i) => i.inventory.vendor.toLowerCase() === v || i.agreement?.vendor.toLowerCase() === v);
  if (found.length === 0) {
    const known = [...new Set(all.map((i) => i.inventory.vendor))].sort();
    throw new FerryError('params', `unknown vendor "${vendor}"${district ? ` for district ${district}` : ''} (known: ${known.join(', ') || 'none'})`, { field: 'vendor' });
  }
  return found;
}

type PersonKind = 'students' | 'staff' | 'unknown';

/** Whom an integration's person key names: staff when its column is tagged with a staff element. */
function personKindOf(i: Integration): PersonKind {
  if (i.bundle || !i.extract.personKey) return 'unknown';
  const col = i.extract.columns.find((c) => c.name === i.extract.personKey);
  if (!col) return 'unknown';
  return col.element !== undefined && dataElement(col.element)?.group === 'staff' ? 'staff' : 'students';
}

const deliveredAt = (r: RunRecord) => r.deliveredAt ?? r.finishedAt;

export async function buildExposure(
  config: FerryConfig,
  store: Pick<RunStore, 'listRuns' | 'personDigests'>,
  now: Date,
  opts: { vendor?: string | undefined; since?: string | undefined; until?: string | undefined; district?: string | undefined },
): Promise<ReportModel> {
  const integrations = vendorIntegrations(config, opts.vendor, opts.district);
  const window = parseWindow(opts.since, opts.until, now);
  const rows: Cell[][] = [];
  const byKind: Record<PersonKind, number[]> = { students: [], staff: [], unknown: [] };
  const unknownRuns: number[] = [];
  const districts = new Set<string>();
  const hit = new Set<string>();
  const elements = new Set<string>();
  for (const i of integrations) {
    const runs = (await store.listRuns({ integrationId: i.id, status: 'succeeded', limit: 1_000_000 }))
      .filter((r) => !r.dryRun && r.remotePath !== null)
      .filter((r) => {
        const t = deliveredAt(r);
        return t !== null && t >= window.since && t < window.until;
      })
      .reverse();
    const kind = personKindOf(i);
    for (const r of runs) {
      districts.add(i.district.id);
      hit.add(i.id);
      for (const e of elementsOf(i)) elements.add(e);
      byKind[kind].push(r.id);
      const counted = kind === 'unknown' ? null : await countDistinctPersons(store.personDigests, [r.id]);
      const known = counted !== null && counted.unknownRuns.length === 0;
      if (!known) unknownRuns.push(r.id);
      rows.push([i.district.id, i.id, r.id, deliveredAt(r)!.toISOString(), r.remotePath, elementsOf(i).join('; '), r.rows, kind === 'unknown' ? 'persons' : kind, known ? counted.persons : 'unknown (no person digests recorded)']);
    }
  }
  const total = async (kind: 'students' | 'staff') => {
    if (byKind[kind].length === 0) return 0;
    const c = await countDistinctPersons(store.personDigests, byKind[kind]);
    return c.unknownRuns.length === 0 ? c.persons : `at least ${c.persons} (${c.unknownRuns.length} deliver${c.unknownRuns.length === 1 ? 'y' : 'ies'} without person digests: runs ${c.unknownRuns.join(', ')})`;
  };
  const students = await total('students');
  const staff = await total('staff');
  if (rows.length) rows.push(['(all)', '', null, '', '', [...elements].sort().join('; '), null, 'distinct students', students]);
  if (rows.length && byKind.staff.length) rows.push(['(all)', '', null, '', '', '', null, 'distinct staff', staff]);
  const vendor = integrations[0]!.inventory.vendor;
  return {
    kind: 'exposure',
    title: `Exposure: ${vendor}, ${window.since.toISOString()} to ${window.until.toISOString()}`,
    generatedAt: now.toISOString(),
    facts: [
      { label: 'Vendor', value: vendor },
      { label: 'Window', value: `from ${window.since.toISOString()} up to ${window.until.toISOString()}` },
      { label: 'Districts', value: [...districts].sort().join(', ') || 'none' },
      { label: 'Integrations', value: [...hit].sort().join(', ') || 'none' },
      { label: 'Deliveries', value: rows.length ? byKind.students.length + byKind.staff.length + byKind.unknown.length : 0 },
      { label: 'Data elements', value: [...elements].sort().join('; ') || 'none' },
      { label: 'Distinct students', value: students },
      { label: 'Distinct staff', value: staff },
      { label: 'Deliveries with unknown persons', value: unknownRuns.length ? `runs ${unknownRuns.join(', ')}` : 'none' },
    ],
    columns: ['District', 'Integration', 'Run', 'Delivered At', 'Remote Path', 'Data Elements', 'Rows', 'Persons', 'Distinct Persons'],
    rows,
    empty: `Nothing was delivered to ${vendor} in this window.`,
    notes: [
      'Deliveries are succeeded, non-dry runs whose file reached the vendor in the window. Distinct persons are counted on the keyed digests of each file\'s person key (no student data is kept); a delivery without recorded digests is counted as unknown, not as nobody.',
    ],
  };
}
