import type { Agreement, FerryConfig } from '../../config/model.js';
import { FerryError } from '../../core/errors.js';
import type { RunStore } from '../../store/run-store.js';
import { elementsOf, integrationsOf, lastDeliveries, timingOf } from './data-flows.js';
import { toComplete, type ReportModel } from './renderers.js';

/**
 * `ferry report supplemental --district D --vendor V`: a draft of the Part 121 supplemental information (§2-d(3)(c),
 * §121.3(c)) for one contract, from the agreement and the data flows Ferry runs under it. What only the contract or the
 * vendor can say is marked "[district to complete: …]", never guessed.
 */

const DATA_AT_END: Record<Agreement['dataAtEnd']['action'], string> = {
  returned: 'returned to the district',
  deleted: 'deleted',
  transferred: 'transferred',
};

/** Ends with a full stop, so the drafted sentences that follow read on. */
const sentence = (s: string) => (/[.!?]$/.test(s.trim()) ? s.trim() : `${s.trim()}.`);

export async function buildSupplemental(
  config: FerryConfig,
  store: Pick<RunStore, 'lastDelivered'>,
  now: Date,
  opts: { district?: string | undefined; vendor?: string | undefined },
): Promise<ReportModel> {
  if (opts.district === undefined) throw new FerryError('params', 'report supplemental needs --district ID (the district whose contract this is)', { field: 'district' });
  if (opts.vendor === undefined) throw new FerryError('params', 'report supplemental needs --vendor NAME (the vendor of the contract)', { field: 'vendor' });
  const district = config.districts.get(opts.district)!;
  const v = opts.vendor.trim().toLowerCase();
  // The latest-expiring agreement with this vendor: the one in force or about to be renewed.
  const agreements = (district.agreements ?? []).filter((a) => a.vendor.toLowerCase() === v).sort((a, b) => b.expires.localeCompare(a.expires));
  const agreement = agreements[0];
  if (!agreement) {
    const known = (district.agreements ?? []).map((a) => a.vendor);
    throw new FerryError('params', `district ${district.id} has no agreement with vendor "${opts.vendor}" in ${district.file} (its agreements are with: ${[...new Set(known)].join(', ') || 'nobody'})`, { field: 'vendor' });
  }
  const flows = integrationsOf(config, district.id).filter((i) => i.agreement === agreement);
  const last = await lastDeliveries(store, flows);
  const elements = [...new Set(flows.flatMap(elementsOf))].sort();
  const purposes = [...new Set(flows.map((i) => i.inventory.purpose))];
  const sftpOnly = flows.length > 0 && flows.every((i) => i.destination.kind === 'sftp');

  const points: [string, string][] = [
    [
      'Exclusive purposes for which the data will be used',
      `${sentence(agreement.purpose)}${purposes.length ? ` The data is sent for: ${purposes.join('; ')}.` : ''} ${toComplete('confirm that the contract limits the vendor to these purposes')}`,
    ],
    ['How the contractor ensures subcontractors and others abide by the same terms', toComplete(`how ${agreement.vendor} binds its subcontractors and anyone it shares the data with (from its Data Security and Privacy Plan)`)],
    [
      'Duration of the contract, its expiry, and what happens to the data at the end',
      `Signed ${agreement.signed}; expires ${agreement.expires}. When it ends the data is ${DATA_AT_END[agreement.dataAtEnd.action]}: ${agreement.dataAtEnd.text}`,
    ],
    [
      'How a parent, student, teacher or principal may challenge the accuracy of the data',
      `The data comes from the district's student information system; a correction made there reaches ${agreement.vendor} with the next delivery. ${toComplete('whom to contact at the district and how a challenge is made')}`,
    ],
    ['Where the data is stored, and the security protections taken', toComplete(`where ${agreement.vendor} stores the data (country, hosting) and its security protections`)],
    [
      'Encryption in motion and at rest',
      `${sftpOnly ? `In motion: Ferry delivers the files to ${agreement.vendor} over SFTP (SSH, encrypted), with the server's host key pinned.` : toComplete('how the data is encrypted in motion (not every delivery of this contract goes over SFTP)')} ${toComplete(`how ${agreement.vendor} encrypts the data at rest`)}`,
    ],
  ];
  return {
    kind: 'supplemental',
    title: `Supplemental information: ${district.name} and ${agreement.vendor} (DRAFT)`,
    generatedAt: now.toISOString(),
    facts: [
      { label: 'District', value: `${district.name} (${district.id})` },
      { label: 'Vendor', value: agreement.vendor },
      { label: 'Agreement', value: `${agreement.title} (${agreement.id})` },
      { label: 'Published at', value: agreement.supplementalUrl },
      { label: 'Data elements sent', value: elements.join('; ') || 'none (no integration sends under this agreement)' },
      { label: 'Data elements covered', value: agreement.covers.join('; ') },
      {
        label: 'Deliveries',
        value: flows.map((i) => `${i.id}: ${timingOf(i)}, last delivered ${last.get(i.id)?.toISOString() ?? 'never'}`).join('\n') || 'none',
      },
    ],
    columns: ['#', 'Supplemental information', 'Draft'],
    rows: points.map(([heading, text], n) => [n + 1, heading, text]),
    empty: '',
    notes: [
      `A draft generated from Ferry's records of the agreement and the transfers that run under it. Parts marked "[district to complete: …]" are for the district to fill in from the contract and the vendor's Data Security and Privacy Plan before it is published with the Parents' Bill of Rights.`,
      ...(agreements.length > 1 ? [`The district has ${agreements.length} agreements with ${agreement.vendor}; this draft is for ${agreement.id}, the one expiring last.`] : []),
    ],
  };
}
