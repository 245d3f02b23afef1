import { createSource } from '../../../connectors/index.js';
import { ConfigError, tryLoadConfig } from '../../config/loader.js';
import type { Integration } from '../../config/model.js';
import { resolveIntegrationParams } from '../../config/params.js';
import { FerryError } from '../../core/errors.js';
import type { RowBatch, Source } from '../../core/source.js';
import { emptyColumnsWarning, watchStream } from '../../pipeline/column-presence.js';
import { isApiSource, queryOf } from '../../pipeline/execute-run.js';
import type { GlobalOptions, Io } from '../context.js';

/** Rows an integration's column check reads: enough to see a path that matches nothing, few enough to be quick. */
const SAMPLE_ROWS = 200;

/**
 * `ferry test-connection <source|integration>`: reach the source and check its credentials without reading student
 * data; print what was found (server version, district or plugin metadata, page size). Given an integration of an API
 * source, it also reads the first rows of its extract (printing none of them) and warns about declared columns that
 * are empty in all of them, as a run would fail on them.
 */
export async function cmdTestConnection(id: string, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) throw new ConfigError(res.problems);
  const integration = res.config.integrations.get(id);
  const config = integration?.source ?? res.config.sources.get(id);
  if (!config) throw new FerryError('config', `unknown source "${id}" (known: ${[...res.config.sources.keys()].join(', ') || 'none'}; or name an integration)`, { field: 'source' });
  const source = createSource(config, { configDir: res.config.dir, integration: integration?.id });
  try {
    if (!source.testConnection) throw new FerryError('config', `source ${config.id} (${config.kind}) cannot be tested without running an extract`, { field: 'source' });
    const info = await source.testConnection({ signal: AbortSignal.timeout(120_000) });
    const warnings = integration && isApiSource(integration) ? await columnWarnings(integration, source) : [];
    if (opts.json) {
      io.out(JSON.stringify({ source: config.id, kind: config.kind, ...info, ...(integration ? { integration: integration.id, warnings } : {}) }, null, 2) + '\n');
      return 0;
    }
    io.out(`source ${config.id} (${config.kind}): ok — ${info.server}\n`);
    for (const [k, v] of Object.entries(info.details ?? {})) io.out(`  ${k}: ${v}\n`);
    for (const w of warnings) io.err(`${w}\n`);
    return 0;
  } finally {
    await source.close();
  }
}

/** Each extract of the integration, read for its first rows: the declared columns empty in all of them. */
async function columnWarnings(i: Integration, source: Source): Promise<string[]> {
  const params = resolveIntegrationParams(i, i.params, new Date(), i.schedule.timezone);
  const parts = i.bundle ? i.bundle.files.map((f) => ({ extract: f.extract, query: queryOf({ ...i, extract: f.extract }, params.members?.get(f.extract.name) ?? params) })) : [{ extract: i.extract, query: queryOf(i, params) }];
  const warnings: string[] = [];
  for (const part of parts) {
    const controller = new AbortController();
    const watched = watchStream(part.extract.columns);
    try {
      const batches = watched.watch(firstRows(source.stream(part.query, { signal: controller.signal }), SAMPLE_ROWS));
      // Only the watch's per-column flags are kept; the rows themselves are dropped as they pass.
      for (let b = await batches.next(); !b.done; b = await batches.next());
    } finally {
      controller.abort();
    }
    const empty = watched.emptyColumns();
    if (empty.length > 0) warnings.push(emptyColumnsWarning(i.id, part.extract, empty, watched.rows));
  }
  return warnings;
}

async function* firstRows(batches: AsyncIterable<RowBatch>, limit: number): AsyncGenerator<RowBatch> {
  let left = limit;
  for await (const b of batches) {
    yield b.rows.length > left ? { columns: b.columns, rows: b.rows.slice(0, left) } : b;
    left -= b.rows.length;
    if (left <= 0) return;
  }
}
