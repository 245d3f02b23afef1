import crypto from 'node:crypto';
import { createSource } from '../../../connectors/index.js';
import type { Integration } from '../../config/model.js';
import { resolveIntegrationParams } from '../../config/params.js';
import type { StandardFilter } from '../../config/schema.js';
import { FerryError } from '../../core/errors.js';
import { encodeCsv } from '../../formats/csv.js';
import { containsDigest, createKeyDigester, digestOf, findPerson, personHasherOf, createPersonHasher, type PersonHasher, type PersonPresence } from '../../governance/person-digests.js';
import { queryOf, withheldNames } from '../../pipeline/execute-run.js';
import type { Runtime } from '../../runtime/runtime.js';
import { currentUser, findIntegration, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { formatInZone } from '../output.js';

/** The standard filters that can leave a person out, each with the value that lets everyone through. */
const RELAXED: readonly [StandardFilter, unknown][] = [
  ['buildings', []],
  ['grades', 'PK-12'],
  ['activeOnly', false],
];

type SourceAnswer = { in: 'passes' } | { in: 'excluded'; by: { filter: StandardFilter; value: unknown }[] } | { in: 'absent'; relaxed: StandardFilter[] };

/**
 * `ferry trace <integration> <key>`: support's question, "is this student in the source, and is it reaching the
 * vendor?". The source is read with the integration's own parameters (then without each standard filter in turn, to
 * name the one that leaves the student out), and the recent deliveries are asked through their person digests. No
 * other student's data is printed; the key is printed only as given.
 */
export async function cmdTrace(id: string, key: string, opts: GlobalOptions & { json?: boolean; runs: number }, io: Io): Promise<number> {
  if (!Number.isSafeInteger(opts.runs) || opts.runs < 1) throw new FerryError('params', '--runs must be a positive whole number', { field: 'runs' });
  return withRuntime(opts, async (rt) => {
    const i = findIntegration(rt, id);
    if (i.bundle || !i.extract.personKey) {
      throw new FerryError('config', `integration ${id}: ${i.bundle ? 'a bundle' : `extract ${i.extract.name}`} names no personKey, so trace cannot find a person in its files`, { integration: id, field: 'personKey' });
    }
    if (!i.extract.columns.some((c) => c.name === i.extract.personKey)) {
      throw new FerryError('config', `integration ${id}: its files do not carry the person key ${i.extract.personKey} (fields: leaves it out), so trace cannot find a person in them`, { integration: id, field: 'fields' });
    }
    // A hasher of its own when no key is configured: the source check needs one, and nothing it makes is kept.
    const kept = personHasherOf(rt.config, id);
    const source = await traceSource(rt, i, key, kept ?? createPersonHasher(crypto.randomBytes(32)));
    const deliveries = (await rt.store.listRuns({ integrationId: id, status: 'succeeded', limit: 500 })).filter((r) => !r.dryRun && r.remotePath !== null).slice(0, opts.runs);
    const presence = kept ? await findPerson(rt.store.personDigests, kept, key, deliveries.map((r) => r.id)) : new Map<number, PersonPresence>();
    rt.logger.info('trace asked', { integration: id, by: currentUser(), deliveries: deliveries.length });

    const rows = deliveries.map((r) => ({ runId: r.id, deliveredAt: r.deliveredAt ?? r.finishedAt, remotePath: r.remotePath, included: presence.get(r.id) ?? 'unknown' }));
    if (opts.json) {
      io.out(JSON.stringify({ integration: id, key, source, digestsKept: kept !== null, deliveries: rows }, null, 2) + '\n');
      return 0;
    }
    const tz = i.schedule.timezone;
    io.out(`${sourceSentence(id, key, i, source)}\n`);
    if (!kept) io.out('No person digests are kept (governance.personKeySecret is not set), so which files carried them is not known.\n');
    else if (rows.length === 0) io.out(`${id} has no recorded deliveries.\n`);
    else {
      const n = rows.filter((r) => r.included === 'included').length;
      io.out(`In ${n} of the last ${rows.length} deliveries:\n`);
      for (const r of rows) {
        const what = r.included === 'included' ? 'included' : r.included === 'absent' ? 'not included' : 'unknown (no person digests recorded for this run)';
        io.out(`  run ${r.runId}  ${formatInZone(r.deliveredAt, tz)}  ${r.remotePath}  ${what}\n`);
      }
    }
    return 0;
  });
}

function sourceSentence(id: string, key: string, i: Integration, s: SourceAnswer): string {
  if (s.in === 'passes') return `${key} is in the source today and passes ${id}'s filters.`;
  if (s.in === 'excluded') {
    const what = s.by.map((b) => `the ${b.filter} filter (${JSON.stringify(b.value)})`);
    return `${key} is in the source today, but ${what.join(' and ')} of ${id} exclude${s.by.length === 1 ? 's' : ''} them.`;
  }
  const off = s.relaxed.length ? ` (even with the ${s.relaxed.join(', ')} filter${s.relaxed.length === 1 ? '' : 's'} off)` : '';
  return `${key} is not in the source at all for ${id}${off}: no ${i.extract.personKey} is ${key}.`;
}

async function traceSource(rt: Runtime, i: Integration, key: string, hasher: PersonHasher): Promise<SourceAnswer> {
  const now = rt.clock.now();
  const target = digestOf(hasher, key);
  const has = async (overrides: Record<string, unknown>) => {
    const params = resolveIntegrationParams(i, { ...i.params, ...overrides }, now, i.schedule.timezone);
    return sourceHas(rt, i, params, hasher, target);
  };
  if (await has({})) return { in: 'passes' };
  const base = resolveIntegrationParams(i, i.params, now, i.schedule.timezone).values;
  const restrictive = RELAXED.filter(([f, open]) => i.extract.filters.includes(f) && JSON.stringify(base[f]) !== JSON.stringify(open));
  const by: { filter: StandardFilter; value: unknown }[] = [];
  for (const [f, open] of restrictive) if (await has({ [f]: open })) by.push({ filter: f, value: base[f] });
  if (by.length > 0) return { in: 'excluded', by };
  if (restrictive.length > 1 && (await has(Object.fromEntries(restrictive)))) return { in: 'excluded', by: restrictive.map(([f]) => ({ filter: f, value: base[f] })) };
  return { in: 'absent', relaxed: restrictive.map(([f]) => f) };
}

/** Reads the integration's rows as its file would carry them and looks for the key's digest; no row leaves here. */
async function sourceHas(rt: Runtime, i: Integration, params: ReturnType<typeof resolveIntegrationParams>, hasher: PersonHasher, target: Buffer): Promise<boolean> {
  const columnIndex = i.extract.columns.findIndex((c) => c.name === i.extract.personKey);
  const digester = createKeyDigester({ hasher, keyColumn: i.extract.personKey!, columnIndex, format: { delimiter: i.format.delimiter, header: false } });
  const source = createSource(i.source, { configDir: rt.config.dir, integration: i.id });
  const controller = new AbortController();
  try {
    const format = { ...i.format, bom: false, header: false, lineEnding: 'lf' as const };
    for await (const chunk of encodeCsv(source.stream(queryOf(i, params), { signal: controller.signal }), i.extract.columns, format, i.id, { rows: 0 }, withheldNames(i))) digester.push(Buffer.from(chunk, 'utf8'));
  } finally {
    controller.abort();
    await source.close();
  }
  return containsDigest(digester.finish().digests, target);
}
