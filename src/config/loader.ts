import fs from 'node:fs';
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import { checkTemplate } from '../delivery/remote-path.js';
import type { ColumnDef, ConfigProblem, District, Extract, FerryConfig, Integration, IntegrationBundle, NamedDestination, NamedSource, SafetyGate } from './model.js';
import { loadExtracts } from './load-extracts.js';
import { resolveIntegrationParams } from './params.js';
import { displayPath, parseWith, readYaml, type AddProblem } from './yaml-file.js';
import { specForFile } from '../formats/oneroster/spec.js';
import { CLEVER_FILE_NAMES, cleverSpecForFile } from '../formats/clever/spec.js';
import { type BundleInput, districtFileSchema, ferryFileSchema, integrationSchema, type IntegrationInput } from './schema.js';

export class ConfigError extends FerryError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    super('config', first ? `${formatProblem(first)}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}; run ferry validate)` : ''}` : 'invalid configuration');
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export type LoadResult = { ok: true; config: FerryConfig } | { ok: false; problems: ConfigProblem[] };

/** Load and cross-check the whole configuration, collecting every problem instead of stopping at the first. */
export function loadConfig(configDir: string, now: Date = new Date()): FerryConfig {
  const res = tryLoadConfig(configDir, now);
  if (!res.ok) throw new ConfigError(res.problems);
  return res.config;
}

export function tryLoadConfig(configDir: string, now: Date = new Date()): LoadResult {
  const dir = path.resolve(configDir);
  const problems: ConfigProblem[] = [];
  const rel = displayPath;
  const add = (file: string, field: string, message: string) => problems.push({ file: rel(file), field, message });

  const mainFile = path.join(dir, 'ferry.yaml');
  const mainRaw = readYaml(mainFile, add);
  if (mainRaw === undefined) return { ok: false, problems };
  const parsedMain = parseWith(ferryFileSchema, mainRaw ?? {}, mainFile, '', add);
  // Keep going on a broken ferry.yaml so that extract and district problems are reported in the same pass;
  // references to sources and destinations can only be checked once it parses.
  const mainOk = parsedMain !== undefined;
  const main = parsedMain ?? ferryFileSchema.parse({ ...pickDirs(mainRaw) });

  const at = (p: string) => path.resolve(dir, p);
  const dataDir = at(main.dataDir);
  const sources = new Map<string, NamedSource>(Object.entries(main.sources).map(([id, s]) => [id, Object.freeze({ ...s, ...(s.kind === 'sqlite' ? { path: at(s.path) } : {}), id })]));
  const destinations = new Map<string, NamedDestination>(
    Object.entries(main.destinations).map(([id, d]) => [id, Object.freeze({ ...d, ...(d.kind === 'local' ? { basePath: at(d.basePath) } : {}), id })]),
  );
  for (const [id, d] of destinations) {
    if (d.kind === 'sftp' && d.basePath.split('/').includes('..')) add(mainFile, `destinations.${id}.basePath`, 'must not contain ".."');
  }

  const extractsDir = at(main.extractsDir);
  const extracts = loadExtracts(extractsDir, add);

  const districts = new Map<string, District>();
  const integrations = new Map<string, Integration>();
  const integrationsDir = path.join(dir, 'integrations');
  const files = fs.existsSync(integrationsDir)
    ? fs.readdirSync(integrationsDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(integrationsDir, f))
    : [];
  for (const file of files) {
    const raw = readYaml(file, add);
    if (raw === undefined) continue;
    const parsed = parseWith(districtFileSchema, raw ?? {}, file, '', add);
    if (!parsed) continue;
    const d = parsed.district;
    if (districts.has(d.id)) add(file, 'district.id', `district ${d.id} is already defined in ${districts.get(d.id)!.file}`);
    const district: District = Object.freeze({
      id: d.id,
      name: d.name,
      contact: d.contact,
      gradeBands: Object.freeze({ ...d.gradeBands }),
      blackouts: Object.freeze(d.blackouts.map((b) => Object.freeze({ ...b }))),
      file: rel(file),
    });
    districts.set(d.id, district);

    parsed.integrations.forEach((rawInt, i) => {
      const idHint = typeof rawInt === 'object' && rawInt && 'id' in rawInt ? ` (${String((rawInt as { id: unknown }).id)})` : '';
      const prefix = `integrations[${i}]${idHint}`;
      const integ = parseWith(integrationSchema, rawInt, file, prefix, add);
      if (!integ) {
        checkRawReferences(rawInt, (field, message) => add(file, `${prefix}.${field}`, message), extracts, mainOk ? sources : undefined, mainOk ? destinations : undefined);
        return;
      }
      const where = (field: string) => `${prefix}.${field}`;
      if (integrations.has(integ.id)) add(file, where('id'), `integration ${integ.id} is already defined in ${integrations.get(integ.id)!.file}`);
      if (integ.extract !== undefined && integ.bundle === undefined && !extracts.has(integ.extract)) {
        add(file, where('extract'), `unknown extract "${integ.extract}" (known: ${[...extracts.keys()].join(', ') || 'none'})`);
      }
      const source = sources.get(integ.source);
      const destination = destinations.get(integ.destination);
      if (!source && mainOk) add(file, where('source'), `unknown source "${integ.source}" (known: ${[...sources.keys()].join(', ') || 'none'})`);
      if (!destination && mainOk) add(file, where('destination'), `unknown destination "${integ.destination}" (known: ${[...destinations.keys()].join(', ') || 'none'})`);
      if (integ.bundle?.format === 'clever') {
        // A folder: each file of the set goes into it under its Clever name.
        if (!integ.remotePath.endsWith('/')) add(file, where('remotePath'), 'must be a folder ending in "/" for a Clever set (e.g. "/" for the account home, or "{district}/clever/")');
        else for (const p of checkTemplate(`${integ.remotePath}students.csv`)) add(file, where('remotePath'), p);
      } else {
        for (const p of checkTemplate(integ.remotePath)) add(file, where('remotePath'), p);
      }
      const kindOk = (e: Extract, field: string) => {
        if (source && e.sourceKind !== source.kind) {
          add(file, where(field), `extract ${e.name} is written for ${e.sourceKind} but source ${source.id} is ${source.kind}`);
          return false;
        }
        return true;
      };
      let extract: Extract | undefined;
      let bundle: IntegrationBundle | undefined;
      if (integ.extract !== undefined && integ.bundle !== undefined) {
        add(file, where('bundle'), 'give either extract or bundle, not both');
      } else if (integ.bundle !== undefined) {
        bundle = checkBundle(integ.bundle, extracts, kindOk, (field, message) => add(file, where(field), message));
        extract = bundle?.files[0]?.extract;
        const kind = integ.bundle.format === 'clever' ? 'Clever' : 'OneRoster';
        if (integ.fields !== undefined) add(file, where('fields'), `does not apply to a bundle: each ${kind} file carries the columns of its extract`);
        if (rawInt && typeof rawInt === 'object' && 'format' in rawInt) add(file, where('format'), `does not apply to a bundle: ${kind} files are always written by the ${kind} CSV rules`);
      } else if (integ.extract !== undefined) {
        extract = extracts.get(integ.extract);
        if (extract && source && extract.sourceKind !== source.kind) {
          add(file, where('source'), `extract ${extract.name} is written for ${extract.sourceKind} but source ${source.id} is ${source.kind}`);
        }
      } else {
        add(file, where('extract'), 'is required (or a bundle: block of OneRoster files)');
      }
      if (extract) {
        try {
          resolveIntegrationParams({ id: integ.id, extract, bundle, district }, integ.params, now, integ.schedule.timezone);
        } catch (err) {
          const fe = err as FerryError;
          add(file, where(fe.field ?? 'params'), fe.message.replace(/^integration [^:]+: parameter [^:]+: /, ''));
        }
      }
      const narrowed = extract ? (bundle ? { extract, withheld: Object.freeze([]) } : narrowColumns(extract, integ.fields, (field, message) => add(file, where(field), message))) : undefined;
      if (!extract || !narrowed || !source || !destination) return;
      integrations.set(
        integ.id,
        Object.freeze({
          id: integ.id,
          district,
          extract: narrowed.extract,
          bundle,
          withheld: narrowed.withheld,
          source,
          destination,
          remotePath: integ.remotePath,
          schedule: Object.freeze({ ...integ.schedule }),
          params: Object.freeze({ ...integ.params }),
          format: Object.freeze({ ...integ.format }),
          enabled: integ.enabled,
          allowEmpty: integ.allowEmpty,
          safety: safetyGate(integ.safety),
          misfire: integ.misfire,
          overlap: integ.overlap,
          retry: integ.retry === false ? null : Object.freeze({ ...integ.retry }),
          timeoutMs: Math.round(integ.timeoutMinutes * 60_000),
          blackouts: Object.freeze([...district.blackouts, ...integ.blackouts.map((b) => Object.freeze({ ...b }))]),
          inventory: Object.freeze({ ...integ.inventory }),
          file: rel(file),
        }),
      );
    });
  }

  if (problems.length > 0) return { ok: false, problems };
  const store = main.store === undefined ? { kind: 'sqlite' as const, path: path.join(dataDir, 'ferry.sqlite') } : 'sqlite' in main.store ? { kind: 'sqlite' as const, path: at(main.store.sqlite.path) } : { kind: 'postgres' as const, url: main.store.postgres.url };
  const demo = main.demo
    ? {
        sisPath: at(main.demo.sisPath),
        sftp: { ...main.demo.sftp, root: at(main.demo.sftp.root), hostKeyPath: at(main.demo.sftp.hostKeyPath), clientKeyPath: at(main.demo.sftp.clientKeyPath) },
      }
    : undefined;
  const config: FerryConfig = Object.freeze({
    dir,
    dataDir,
    spoolDir: path.join(dataDir, 'spool'),
    baselineDir: path.join(dataDir, 'baselines'),
    logDir: path.join(dataDir, 'logs'),
    extractsDir,
    store,
    keepSpool: main.spool.keep,
    spoolKeepDays: main.spool.keepDays,
    receiptsDir: path.join(dataDir, 'receipts'),
    concurrency: Object.freeze({ ...main.concurrency }),
    scheduler: Object.freeze({ ...main.scheduler }),
    http: main.http === false ? null : Object.freeze({ ...main.http }),
    alerts: main.alerts ? Object.freeze(main.alerts) : null,
    shutdownGraceSeconds: main.shutdownGraceSeconds,
    logLevel: main.logLevel,
    sources,
    destinations,
    extracts,
    districts,
    integrations,
    demo,
  });
  return { ok: true, config };
}

/**
 * An integration's `fields:` allowlist applied to its extract: the allowed columns in the extract's order, and the
 * declared ones left out. Undefined (with a problem reported per field) when a name is unknown or listed twice.
 */
/** The gate as the pipeline reads it: null when neither a fall nor a growth can hold a file. */
function safetyGate(input: IntegrationInput['safety']): SafetyGate | null {
  if (input === false) return null;
  const maxRowDrop = input.maxRowDrop >= 1 ? null : input.maxRowDrop;
  const maxRowGrowth = input.maxRowGrowth === false || input.maxRowGrowth === null ? null : input.maxRowGrowth;
  if (maxRowDrop === null && maxRowGrowth === null) return null;
  return Object.freeze({ maxRowDrop, maxRowGrowth, heldDays: input.heldDays });
}

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

/** dataDir and extractsDir from a ferry.yaml that failed its schema, when they at least are usable. */
function pickDirs(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object') {
    for (const key of ['dataDir', 'extractsDir'] as const) {
      const v = (raw as Record<string, unknown>)[key];
      if (typeof v === 'string') out[key] = v;
    }
  }
  return out;
}

/** When an integration fails its schema, still say which of its references are unknown. */
function checkRawReferences(
  raw: unknown,
  add: (field: string, message: string) => void,
  extracts: ReadonlyMap<string, unknown>,
  sources: ReadonlyMap<string, unknown> | undefined,
  destinations: ReadonlyMap<string, unknown> | undefined,
): void {
  if (!raw || typeof raw !== 'object') return;
  const r = raw as Record<string, unknown>;
  const check = (field: string, what: string, known: ReadonlyMap<string, unknown> | undefined) => {
    const v = r[field];
    if (known && typeof v === 'string' && !known.has(v)) add(field, `unknown ${what} "${v}" (known: ${[...known.keys()].join(', ') || 'none'})`);
  };
  check('extract', 'extract', extracts);
  check('source', 'source', sources);
  check('destination', 'destination', destinations);
}
