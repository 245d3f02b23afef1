import type { FerryError } from '../core/errors.js';
import { checkTemplate } from '../delivery/remote-path.js';
import { renderRunPath } from '../pipeline/run-paths.js';
import { specForFile } from '../formats/oneroster/spec.js';
import { CLEVER_FILE_NAMES, cleverSpecForFile } from '../formats/clever/spec.js';
import type { Agreement, ColumnDef, District, Extract, Integration, IntegrationBundle, NamedDestination, NamedSource, SafetyGate } from './model.js';
import { resolveIntegrationParams } from './params.js';
import { uncoveredColumns } from '../governance/agreements.js';
import { type BundleInput, type GovernanceConfig, integrationSchema, type IntegrationInput } from './schema.js';
import { parsePartial, type AddProblem } from './yaml-file.js';

/** What an integration is checked against: the parts of the config that parsed, and the names that were written. */
export interface IntegrationContext {
  file: string;
  /** Shown as the file of the built integration. */
  shownFile: string;
  district: District;
  extracts: ReadonlyMap<string, Extract>;
  sources: ReadonlyMap<string, NamedSource>;
  destinations: ReadonlyMap<string, NamedDestination>;
  /** Every source and destination name written in ferry.yaml, parsed or not: a broken one is not also "unknown". */
  sourceNames: ReadonlySet<string> | undefined;
  destinationNames: ReadonlySet<string> | undefined;
  /** Integrations already checked, by id, with their file: a second one of the same id is a problem. */
  seen: Map<string, string>;
  now: Date;
  /** ferry.yaml's `governance:`; absent (callers that check one integration alone): a missing agreement is an error. */
  governance?: GovernanceConfig | undefined;
  /** Where a relaxed missing agreement is reported; absent: nowhere. */
  warn?: AddProblem | undefined;
}

/**
 * Check one integration of a district file and build it. Every field that parses on its own is checked against the
 * rest of the config even when other fields do not (a bad cron never hides another district's id or a path outside
 * the district's folder); the integration is built only when it has no problem at all.
 */
export function checkIntegration(raw: unknown, index: number, ctx: IntegrationContext, addProblem: AddProblem): Integration | undefined {
  const idHint = typeof raw === 'object' && raw && 'id' in raw ? ` (${String((raw as { id: unknown }).id)})` : '';
  const prefix = `integrations[${index}]${idHint}`;
  let ok = true;
  const add = (field: string, message: string) => {
    ok = false;
    addProblem(ctx.file, `${prefix}.${field}`, message);
  };
  const parsed = parsePartial(integrationSchema, raw, ctx.file, prefix, addProblem);
  if (!parsed.ok) ok = false;
  const integ = parsed.data;
  const written = (key: string) => typeof raw === 'object' && raw !== null && key in raw;
  const { district, extracts } = ctx;

  if (integ.id !== undefined) {
    const first = ctx.seen.get(integ.id);
    if (first !== undefined) add('id', `integration ${integ.id} is already defined in ${first}`);
    else ctx.seen.set(integ.id, ctx.shownFile);
  }
  if (integ.extract !== undefined && integ.bundle === undefined && !written('bundle') && !extracts.has(integ.extract)) {
    add('extract', `unknown extract "${integ.extract}" (known: ${[...extracts.keys()].join(', ') || 'none'})`);
  }
  const known = (names: ReadonlySet<string> | undefined, name: string | undefined) => name === undefined || names === undefined || names.has(name);
  const source = integ.source === undefined ? undefined : ctx.sources.get(integ.source);
  const destination = integ.destination === undefined ? undefined : ctx.destinations.get(integ.destination);
  if (!known(ctx.sourceNames, integ.source)) add('source', `unknown source "${integ.source}" (known: ${[...ctx.sourceNames!].join(', ') || 'none'})`);
  if (!known(ctx.destinationNames, integ.destination)) add('destination', `unknown destination "${integ.destination}" (known: ${[...ctx.destinationNames!].join(', ') || 'none'})`);

  const clever = integ.bundle?.format === 'clever';
  if (integ.remotePath !== undefined) {
    const pathProblems = clever && !integ.remotePath.endsWith('/')
      ? ['must be a folder ending in "/" for a Clever set (e.g. "/" for the account home, or "{district}/clever/")']
      : checkTemplate(clever ? `${integ.remotePath}students.csv` : integ.remotePath);
    for (const p of pathProblems) add('remotePath', p);
    if (pathProblems.length === 0 && destination) {
      // Rendered as a run renders it, so a path that a run would refuse (outside the district's folder on a shared
      // destination) is refused here by the same code.
      try {
        const target = { id: integ.id ?? '?', remotePath: integ.remotePath, district, destination, extract: { name: integ.extract ?? 'extract' }, schedule: { timezone: 'UTC' } };
        renderRunPath(target, 1, ctx.now, clever ? 'students.csv' : undefined);
      } catch (err) {
        add('remotePath', (err as Error).message.replace(/^integration [^:]+: remotePath "[^"]*" /, ''));
      }
    }
  }

  const kindOk = (e: Extract, field: string) => {
    if (source && e.sourceKind !== source.kind) {
      add(field, `extract ${e.name} is written for ${e.sourceKind} but source ${source.id} is ${source.kind}`);
      return false;
    }
    return true;
  };
  let extract: Extract | undefined;
  let bundle: IntegrationBundle | undefined;
  if (written('extract') && written('bundle')) {
    add('bundle', 'give either extract or bundle, not both');
  } else if (integ.bundle !== undefined) {
    bundle = checkBundle(integ.bundle, extracts, kindOk, add);
    extract = bundle?.files[0]?.extract;
    const kind = integ.bundle.format === 'clever' ? 'Clever' : 'OneRoster';
    if (integ.fields !== undefined) add('fields', `does not apply to a bundle: each ${kind} file carries the columns of its extract`);
    if (written('format')) add('format', `does not apply to a bundle: ${kind} files are always written by the ${kind} CSV rules`);
  } else if (integ.extract !== undefined) {
    extract = extracts.get(integ.extract);
    if (extract && source && extract.sourceKind !== source.kind) {
      add('source', `extract ${extract.name} is written for ${extract.sourceKind} but source ${source.id} is ${source.kind}`);
    }
  } else if (!written('extract') && !written('bundle')) {
    add('extract', 'is required (or a bundle: block of OneRoster files)');
  }
  if (extract && integ.params !== undefined) {
    try {
      resolveIntegrationParams({ id: integ.id ?? '?', extract, bundle, district }, integ.params, ctx.now, integ.schedule?.timezone ?? 'UTC');
    } catch (err) {
      const fe = err as FerryError;
      add(fe.field ?? 'params', fe.message.replace(/^integration [^:]+: parameter [^:]+: /, ''));
    }
  }
  const narrowed = extract ? (bundle ? { extract, withheld: Object.freeze([]) } : narrowColumns(extract, integ.fields, add)) : undefined;
  const agreement = integ.inventory ? checkAgreement(integ.id ?? `#${index}`, integ.inventory.vendor, integ.agreement, ctx, add, (field, message) => ctx.warn?.(ctx.file, `${prefix}.${field}`, message)) : undefined;
  if (agreement && narrowed) {
    // What is sent: every bundle file's columns, or the extract's as `fields:` narrowed them (withheld ones never leave).
    const sent = bundle ? bundle.files.map((f) => ({ file: f.name, columns: f.extract.columns })) : [{ columns: narrowed.extract.columns }];
    for (const u of uncoveredColumns(agreement, sent)) {
      add(u.file ? `bundle.files.${u.file}` : 'fields', `integration ${integ.id} sends column ${u.column}${u.file ? ` of ${u.file}` : ''} (data element ${u.element}), which agreement ${agreement.id} with ${agreement.vendor} does not cover; add the element to the agreement's covers once it is signed for, or leave the column out with fields:`);
    }
  }
  if (!ok || !parsed.ok || !extract || !narrowed || !source || !destination) return undefined;
  const i = integ as Required<typeof integ>;
  return Object.freeze({
    id: i.id,
    district,
    extract: narrowed.extract,
    bundle,
    withheld: narrowed.withheld,
    source,
    destination,
    remotePath: i.remotePath,
    schedule: Object.freeze({ ...i.schedule }),
    params: Object.freeze({ ...i.params }),
    format: Object.freeze({ ...i.format }),
    enabled: i.enabled,
    allowEmpty: i.allowEmpty,
    safety: safetyGate(i.safety),
    misfire: i.misfire,
    overlap: i.overlap,
    retry: i.retry === false ? null : Object.freeze({ ...i.retry }),
    timeoutMs: Math.round(i.timeoutMinutes * 60_000),
    blackouts: Object.freeze([...district.blackouts, ...i.blackouts.map((b) => Object.freeze({ ...b }))]),
    inventory: Object.freeze({ ...i.inventory }),
    agreement,
    file: ctx.shownFile,
  });
}

/**
 * The district's agreement an integration sends under: the one `agreement:` names (its vendor must be the
 * integration's), else the district's only agreement with the vendor. No agreement with the vendor is a problem, or
 * a warning where ferry.yaml's `governance:` relaxes it for this vendor.
 */
function checkAgreement(
  id: string,
  vendor: string,
  named: string | undefined,
  ctx: IntegrationContext,
  add: (field: string, message: string) => void,
  warn: (field: string, message: string) => void,
): Agreement | undefined {
  const all = ctx.district.agreements ?? [];
  if (named !== undefined) {
    const a = all.find((x) => x.id === named);
    if (!a) add('agreement', `unknown agreement "${named}" (${ctx.district.id} has ${all.map((x) => x.id).join(', ') || 'no agreements'})`);
    else if (a.vendor !== vendor) add('agreement', `agreement ${a.id} is with ${a.vendor}, but the integration's inventory.vendor is ${vendor}`);
    return a?.vendor === vendor ? a : undefined;
  }
  const withVendor = all.filter((a) => a.vendor === vendor);
  if (withVendor.length > 1) {
    add('agreement', `district ${ctx.district.id} has ${withVendor.length} agreements with ${vendor} (${withVendor.map((a) => a.id).join(', ')}); name the one this integration sends under with agreement:`);
    return undefined;
  }
  if (withVendor.length === 1) return withVendor[0];
  const message = `integration ${id} sends to ${vendor}, but district ${ctx.district.id} has no agreement with ${vendor}; add it under agreements: in ${ctx.shownFile}`;
  const g = ctx.governance;
  const relaxed = g?.missingAgreement === 'warn' && (g.outsidePart121 === undefined || g.outsidePart121.includes(vendor));
  if (relaxed) warn('inventory.vendor', `${message} (allowed by governance.missingAgreement: warn)`);
  else add('inventory.vendor', message);
  return undefined;
}

/**
 * An integration's `fields:` allowlist applied to its extract: the allowed columns in the extract's order, and the
 * declared ones left out. Undefined (with a problem reported per field) when a name is unknown or listed twice.
 */
function narrowColumns(
  extract: Extract,
  fields: readonly string[] | undefined,
  add: (field: string, message: string) => void,
): { extract: Extract; withheld: readonly ColumnDef[] } | undefined {
  if (fields === undefined) return { extract, withheld: Object.freeze([]) };
  const declared = new Set(extract.columns.map((c) => c.name));
  const seen = new Set<string>();
  let ok = true;
  fields.forEach((name, k) => {
    if (!declared.has(name)) {
      add(`fields[${k}]`, `unknown field "${name}": extract ${extract.name} declares ${[...declared].join(', ')}`);
      ok = false;
    } else if (seen.has(name)) {
      add(`fields[${k}]`, `field ${name} is listed twice`);
      ok = false;
    }
    seen.add(name);
  });
  if (!ok) return undefined;
  const columns = Object.freeze(extract.columns.filter((c) => seen.has(c.name)));
  const withheld = Object.freeze(extract.columns.filter((c) => !seen.has(c.name)));
  return { extract: Object.freeze({ ...extract, columns }), withheld };
}

/**
 * A `bundle:` block: every file a OneRoster 1.1 (or Clever) file name, every extract known and of the source's kind,
 * and its declared columns those of its file: OneRoster's spec headers exactly, in order; Clever's known columns in
 * any order, with the required ones present. Undefined (with problems reported) otherwise.
 */
function checkBundle(
  input: BundleInput,
  extracts: ReadonlyMap<string, Extract>,
  kindOk: (e: Extract, field: string) => boolean,
  add: (field: string, message: string) => void,
): IntegrationBundle | undefined {
  let ok = true;
  const files: { name: string; extract: Extract }[] = [];
  for (const [name, extractName] of Object.entries(input.files)) {
    const field = `bundle.files.${name}`;
    const problem = input.format === 'clever' ? cleverFileProblem(name) : specForFile(name) ? undefined : `${name} is not a OneRoster 1.1 file name (e.g. users.csv; names are case-sensitive, manifest.csv is generated)`;
    if (problem) {
      add(field, problem);
      ok = false;
      continue;
    }
    const extract = extracts.get(extractName);
    if (!extract) {
      add(field, `unknown extract "${extractName}" (known: ${[...extracts.keys()].join(', ') || 'none'})`);
      ok = false;
      continue;
    }
    if (!kindOk(extract, field)) ok = false;
    const columns = extract.columns.map((c) => c.name);
    const mismatch = input.format === 'clever' ? cleverColumnsProblem(name, columns) : oneRosterColumnsProblem(name, columns);
    if (mismatch) {
      add(field, `extract ${extract.name}'s columns ${mismatch}`);
      ok = false;
    }
    files.push({ name, extract });
  }
  if (!ok || files.length === 0) return undefined;
  const mode = input.format === 'oneroster' ? input.mode : 'bulk';
  return Object.freeze({ format: input.format, mode, files: Object.freeze(files.map((f) => Object.freeze(f))) });
}

function oneRosterColumnsProblem(name: string, columns: readonly string[]): string | undefined {
  const spec = specForFile(name)!;
  return columns.join(',') === spec.headers.join(',') ? undefined : `do not match ${name}'s OneRoster headers (${spec.headers.join(',')})`;
}

function cleverFileProblem(name: string): string | undefined {
  return cleverSpecForFile(name) ? undefined : `${name} is not a Clever file name (${CLEVER_FILE_NAMES.map((n) => `${n}.csv`).join(', ')}; names are case-sensitive)`;
}

function cleverColumnsProblem(name: string, columns: readonly string[]): string | undefined {
  const spec = cleverSpecForFile(name)!;
  const unknown = columns.filter((c) => !spec.columns.includes(c));
  const missing = spec.required.filter((c) => !columns.includes(c));
  const parts: string[] = [];
  if (unknown.length) parts.push(`${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not ${name} column${unknown.length === 1 ? '' : 's'} (names are case-sensitive)`);
  if (missing.length) parts.push(`lack the required ${missing.join(', ')}`);
  return parts.length ? parts.join('; ') : undefined;
}

/** The gate as the pipeline reads it: null when neither a fall nor a growth can hold a file. */
function safetyGate(input: IntegrationInput['safety']): SafetyGate | null {
  if (input === false) return null;
  const maxRowDrop = input.maxRowDrop >= 1 ? null : input.maxRowDrop;
  const maxRowGrowth = input.maxRowGrowth === false || input.maxRowGrowth === null ? null : input.maxRowGrowth;
  if (maxRowDrop === null && maxRowGrowth === null) return null;
  return Object.freeze({ maxRowDrop, maxRowGrowth, heldDays: input.heldDays });
}
