import { ConfigError, tryLoadConfig } from '../../config/loader.js';
import type { ColumnDef, Integration } from '../../config/model.js';
import { sentElements } from '../../governance/sent-elements.js';
import { findIntegration, type GlobalOptions, type Io } from '../context.js';
import { table } from '../output.js';

/** What one vendor receives from one integration: the shipped columns and the declared ones withheld. */
function fieldsOf(i: Integration) {
  const col = (c: ColumnDef) => ({ name: c.name, type: c.type, element: c.element ?? null, description: c.description ?? null });
  return {
    integration: i.id,
    district: { id: i.district.id, name: i.district.name },
    vendor: i.inventory.vendor,
    purpose: i.inventory.purpose,
    extract: i.extract.name,
    /** The data elements sent (NDPA Schedule of Data tags), in the order the fields first carry them. */
    elements: sentElements(i),
    fields: i.bundle ? i.bundle.files.flatMap((f) => f.extract.columns.map((c) => ({ ...col(c), name: `${f.name}:${c.name}` }))) : i.extract.columns.map(col),
    withheld: i.withheld.map(col),
    /** OneRoster bundles: the file each extract writes (fields are named "users.csv:givenName"). */
    bundle: i.bundle ? i.bundle.files.map((f) => ({ file: f.name, extract: f.extract.name })) : null,
  };
}

function describe(i: Integration, indent: string): string {
  const f = fieldsOf(i);
  const declared = f.fields.length + f.withheld.length;
  const head = [
    `${indent}${i.id}  (${i.district.name} [${i.district.id}], ${i.bundle ? `OneRoster bundle of ${i.bundle.files.map((b) => b.extract.name).join(', ')}` : `extract ${i.extract.name}`})`,
    `${indent}  vendor    ${f.vendor}`,
    `${indent}  purpose   ${f.purpose}`,
    `${indent}  elements  ${f.elements.join(', ') || '(none tagged)'}`,
    `${indent}  sends ${f.fields.length} of ${declared} declared field${declared === 1 ? '' : 's'}:`,
  ].join('\n');
  const rows = table(['FIELD', 'TYPE', 'DATA ELEMENT', 'DESCRIPTION'], f.fields.map((c) => [c.name, c.type, c.element, c.description]))
    .trimEnd()
    .split('\n')
    .map((l) => `${indent}    ${l}`)
    .join('\n');
  const withheld = `${indent}  withheld  ${f.withheld.length ? f.withheld.map((c) => c.name).join(', ') : '(none: every declared field is sent)'}`;
  return `${head}\n${rows}\n${withheld}\n`;
}

/**
 * `ferry fields [<id>] [--json]`: exactly which fields each vendor receives. One integration: its vendor, purpose and
 * every shipped column with type, data element and description, and the declared columns it withholds. No id: every integration,
 * grouped by vendor.
 */
export async function cmdFields(id: string | undefined, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) throw new ConfigError(res.problems);
  if (id) {
    const i = findIntegration(res, id);
    io.out(opts.json ? JSON.stringify(fieldsOf(i), null, 2) + '\n' : describe(i, ''));
    return 0;
  }
  const byVendor = new Map<string, Integration[]>();
  for (const i of res.config.integrations.values()) byVendor.set(i.inventory.vendor, [...(byVendor.get(i.inventory.vendor) ?? []), i]);
  const vendors = [...byVendor.keys()].sort((a, b) => a.localeCompare(b));
  if (opts.json) {
    io.out(JSON.stringify(vendors.map((v) => ({ vendor: v, integrations: byVendor.get(v)!.map(fieldsOf) })), null, 2) + '\n');
    return 0;
  }
  io.out(vendors.map((v) => `${v}\n${byVendor.get(v)!.map((i) => describe(i, '  ')).join('\n')}`).join('\n'));
  return 0;
}
