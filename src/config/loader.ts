import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FerryError } from '../core/errors.js';
import { checkEnvironment } from './check-environment.js';
import { checkIntegration } from './check-integration.js';
import type { Agreement, ConfigProblem, DemoConfig, District, FerryConfig, Integration, NamedDestination, NamedSource } from './model.js';
import { loadExtracts } from './load-extracts.js';
import { DATA_ELEMENTS, dataElement, suggestElements } from '../governance/elements.js';
import { agreementSchema, destinationSchema, districtSchema, type FerryFile, ferryFileSchema, gradeBandSchema, slug, sourceSchema } from './schema.js';
import { displayPath, parsePartial, parseWith, readYaml, type AddProblem } from './yaml-file.js';

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

/**
 * Problems make the configuration unusable; warnings (a grade band no integration uses) do not, and `ferry validate`
 * shows them beside "ok".
 */
export type LoadResult = { ok: true; config: FerryConfig; warnings: ConfigProblem[] } | { ok: false; problems: ConfigProblem[]; warnings: ConfigProblem[] };

/** Load and cross-check the whole configuration, collecting every problem instead of stopping at the first. */
export function loadConfig(configDir: string, now: Date = new Date()): FerryConfig {
  const res = tryLoadConfig(configDir, now);
  if (!res.ok) throw new ConfigError(res.problems);
  return res.config;
}

export interface LoadOptions {
  /**
   * Also check what this host and user must supply for runs to work (secrets resolve, secret files private, pin
   * files readable, the data folder writable): `ferry validate` does; other commands load config without them.
   */
  environment?: NodeJS.ProcessEnv | undefined;
}

export function tryLoadConfig(configDir: string, now: Date = new Date(), opts: LoadOptions = {}): LoadResult {
  const dir = path.resolve(configDir);
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const rel = displayPath;
  const add = (file: string, field: string, message: string) => problems.push({ file: rel(file), field, message });
  const warn = (file: string, field: string, message: string) => warnings.push({ file: rel(file), field, message });

  const mainFile = path.join(dir, 'ferry.yaml');
  const mainRaw = readYaml(mainFile, add);
  if (mainRaw === undefined) return { ok: false, problems, warnings };
  // Keep going on a broken ferry.yaml: each source and destination that parses on its own is still used to check
  // the integrations, and extract and district problems are reported in the same pass.
  const parsedMain = parsePartial(ferryFileSchema, mainRaw ?? {}, mainFile, '', add);
  const main: FerryFile = parsedMain.ok ? (parsedMain.data as FerryFile) : { ...ferryFileSchema.parse({}), ...parsedMain.data };

  const at = (p: string) => path.resolve(dir, p);
  const dataDir = at(main.dataDir);
  const rawSection = (key: 'sources' | 'destinations'): Record<string, unknown> | undefined => {
    const v = mainRaw && typeof mainRaw === 'object' ? (mainRaw as Record<string, unknown>)[key] : undefined;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  };
  const sourceInputs = parsedMain.ok ? main.sources : entriesThatParse(rawSection('sources'), sourceSchema);
  const destinationInputs = parsedMain.ok ? main.destinations : entriesThatParse(rawSection('destinations'), destinationSchema);
  const sources = new Map<string, NamedSource>(Object.entries(sourceInputs).map(([id, s]) => [id, Object.freeze({ ...s, ...(s.kind === 'sqlite' ? { path: at(s.path) } : {}), id })]));
  const sourceNames = rawSection('sources') ? new Set(Object.keys(rawSection('sources')!)) : parsedMain.ok ? new Set<string>() : undefined;
  const destinationNames = rawSection('destinations') ? new Set(Object.keys(rawSection('destinations')!)) : parsedMain.ok ? new Set<string>() : undefined;

  const extractsDir = at(main.extractsDir);
  const extracts = loadExtracts(extractsDir, add);

  const integrationsDir = path.join(dir, 'integrations');
  const files = fs.existsSync(integrationsDir)
    ? fs.readdirSync(integrationsDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(integrationsDir, f))
    : [];
  const docs = files.map((file) => ({ file, raw: readYaml(file, add) }));
  const sharedBy = districtsByDestination(docs.map((d) => d.raw));
  const destinations = new Map<string, NamedDestination>(
    Object.entries(destinationInputs).map(([id, d]) => [
      id,
      Object.freeze({ ...d, ...(d.kind === 'local' ? { basePath: at(d.basePath) } : {}), id, sharedBy: Object.freeze([...(sharedBy.get(id) ?? [])].sort()) }),
    ]),
  );
  for (const [id, d] of destinations) {
    if (d.kind === 'sftp' && d.basePath.split('/').includes('..')) add(mainFile, `destinations.${id}.basePath`, 'must not contain ".."');
  }

  const districts = new Map<string, District>();
  const integrations = new Map<string, Integration>();
  const seen = new Map<string, string>();
  const bandsUsed = new Map<District, Set<string>>();
  for (const { file, raw } of docs) {
    if (raw === undefined) continue;
    const district = checkDistrictBlock(raw, file, districts, add);
    const list = parseWith(districtIntegrations, raw ?? {}, file, '', add);
    const used = new Set<string>();
    bandsUsed.set(district, used);
    (list?.integrations ?? []).forEach((rawInt, i) => {
      const grades = rawInt && typeof rawInt === 'object' ? (rawInt as { params?: { grades?: unknown } }).params?.grades : undefined;
      if (typeof grades === 'string') used.add(grades.trim().toLowerCase());
      const built = checkIntegration(rawInt, i, { file, shownFile: rel(file), district, extracts, sources, destinations, sourceNames, destinationNames, seen, now, governance: main.governance, warn }, add);
      if (built) integrations.set(built.id, built);
    });
  }
  // Unused bands do not fail a run, but a band nobody uses is often an integration that wrote its range by hand.
  for (const [district, used] of bandsUsed) {
    for (const band of Object.keys(district.gradeBands)) {
      if (!used.has(band.toLowerCase())) warnings.push({ file: district.file, field: `district.gradeBands.${band}`, message: `no integration of ${district.id} uses grade band ${band}` });
    }
  }

  if (opts.environment) {
    checkEnvironment(
      { configDir: dir, env: opts.environment, dataDir, sources, destinations, store: main.store, alerts: main.alerts, demo: main.demo ? demoConfig(main.demo, at) : undefined },
      (field, message) => add(mainFile, field, message),
    );
  }

  if (problems.length > 0) return { ok: false, problems, warnings };
  const store = main.store === undefined ? { kind: 'sqlite' as const, path: path.join(dataDir, 'ferry.sqlite') } : 'sqlite' in main.store ? { kind: 'sqlite' as const, path: at(main.store.sqlite.path) } : { kind: 'postgres' as const, url: main.store.postgres.url };
  const demo = main.demo ? demoConfig(main.demo, at) : undefined;
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
    governance: Object.freeze({ ...main.governance }),
    shutdownGraceSeconds: main.shutdownGraceSeconds,
    logLevel: main.logLevel,
    debugLog: main.debugLog,
    sources,
    destinations,
    extracts,
    districts,
    integrations,
    demo,
    personDigests: Object.freeze({ secret: main.governance.personKeySecret ?? null, days: main.governance.digestDays }),
  });
  return { ok: true, config, warnings };
}

/** The demo block with its paths made absolute. */
function demoConfig(demo: NonNullable<FerryFile['demo']>, at: (p: string) => string): DemoConfig {
  return {
    sisPath: at(demo.sisPath),
    sftp: { ...demo.sftp, root: at(demo.sftp.root), hostKeyPath: at(demo.sftp.hostKeyPath), clientKeyPath: at(demo.sftp.clientKeyPath) },
  };
}

/** The entries of a record (sources:, destinations:, gradeBands:) that parse on their own (the others are reported already). */
function entriesThatParse<T extends z.ZodType>(section: Record<string, unknown> | undefined, schema: T, key: z.ZodType = slug): Record<string, z.infer<T>> {
  const out: Record<string, z.infer<T>> = {};
  for (const [id, raw] of Object.entries(section ?? {})) {
    const res = schema.safeParse(raw);
    if (res.success && key.safeParse(id).success) out[id] = res.data;
  }
  return out;
}

/** Which districts' integrations name each destination, read from the district files as written. */
function districtsByDestination(docs: readonly unknown[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const doc of docs) {
    if (!doc || typeof doc !== 'object') continue;
    const { district, integrations } = doc as { district?: { id?: unknown }; integrations?: unknown };
    if (typeof district?.id !== 'string' || !Array.isArray(integrations)) continue;
    for (const i of integrations) {
      const dest = i && typeof i === 'object' ? (i as { destination?: unknown }).destination : undefined;
      if (typeof dest === 'string') out.set(dest, (out.get(dest) ?? new Set()).add(district.id));
    }
  }
  return out;
}

/** The top level of a district file; the district block and each integration are parsed on their own. */
const districtIntegrations = z.strictObject({ district: z.unknown(), agreements: z.array(z.unknown()).default([]), integrations: z.array(z.unknown()).default([]) });

/**
 * A district file's `district:` block. A block with problems still yields a district (its id as written, the grade
 * bands that parse) so that the file's integrations are checked too.
 */
function checkDistrictBlock(raw: unknown, file: string, districts: Map<string, District>, add: AddProblem): District {
  const block = raw && typeof raw === 'object' ? (raw as Record<string, unknown>)['district'] : undefined;
  const { data } = parsePartial(districtSchema, block, file, 'district', add);
  const rawBlock = block && typeof block === 'object' ? (block as Record<string, unknown>) : {};
  // Without a usable id the integrations are still checked, against the file's name (the convention: hilltop-csd.yaml).
  const id = data.id ?? (typeof rawBlock['id'] === 'string' && rawBlock['id'] !== '' ? rawBlock['id'] : path.basename(file).replace(/\.ya?ml$/, ''));
  const bands = data.gradeBands ?? entriesThatParse(rawBlock['gradeBands'] as Record<string, unknown> | undefined, gradeBandSchema, z.string());
  const district: District = Object.freeze({
    id,
    name: data.name ?? id,
    contact: data.contact,
    gradeBands: Object.freeze({ ...bands }),
    blackouts: Object.freeze((data.blackouts ?? []).map((b) => Object.freeze({ ...b }))),
    agreements: checkAgreements(raw, file, id, add),
    file: displayPath(file),
  });
  const first = districts.get(id);
  if (first) add(file, 'district.id', `district ${id} is already defined in ${first.file}`);
  else if (data.id !== undefined) districts.set(id, district);
  return district;
}

const CATEGORIES: ReadonlySet<string> = new Set([...DATA_ELEMENTS.values()].map((e) => e.category));

/**
 * A district file's `agreements:` list (beside `district:` and `integrations:`): each entry parsed on its own, its
 * `covers` tags known elements or categories, its id unique in the file. An agreement with a problem is left out (and
 * the problem reported), so its integrations are checked as having none.
 */
function checkAgreements(raw: unknown, file: string, districtId: string, add: AddProblem): readonly Agreement[] {
  const list = raw && typeof raw === 'object' ? (raw as Record<string, unknown>)['agreements'] : undefined;
  if (!Array.isArray(list)) return Object.freeze([]);
  const out: Agreement[] = [];
  const ids = new Set<string>();
  list.forEach((entry, k) => {
    const idHint = entry && typeof entry === 'object' && 'id' in entry ? ` (${String((entry as { id: unknown }).id)})` : '';
    const prefix = `agreements[${k}]${idHint}`;
    const parsed = parseWith(agreementSchema, entry, file, prefix, add);
    if (!parsed) return;
    let ok = true;
    parsed.covers.forEach((tag, t) => {
      if (dataElement(tag) || CATEGORIES.has(tag)) return;
      const close = suggestElements(tag);
      add(file, `${prefix}.covers[${t}]`, `unknown data element "${tag}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}; see src/governance/elements.ts`);
      ok = false;
    });
    if (ids.has(parsed.id)) {
      add(file, `${prefix}.id`, `agreement ${parsed.id} is listed twice`);
      ok = false;
    }
    ids.add(parsed.id);
    if (ok) out.push(Object.freeze({ ...parsed, covers: Object.freeze([...parsed.covers]), dataAtEnd: Object.freeze({ ...parsed.dataAtEnd }), districtId }));
  });
  return Object.freeze(out);
}
