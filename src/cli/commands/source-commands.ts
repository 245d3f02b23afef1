import { createSource } from '../../../connectors/index.js';
import { ConfigError, tryLoadConfig } from '../../config/loader.js';
import { FerryError } from '../../core/errors.js';
import type { GlobalOptions, Io } from '../context.js';

/**
 * `ferry test-connection <source>`: reach the source and check its credentials without reading student data;
 * print what was found (server version, district or plugin metadata, page size).
 */
export async function cmdTestConnection(id: string, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) throw new ConfigError(res.problems);
  const config = res.config.sources.get(id);
  if (!config) throw new FerryError('config', `unknown source "${id}" (known: ${[...res.config.sources.keys()].join(', ') || 'none'})`, { field: 'source' });
  const source = createSource(config, { configDir: res.config.dir });
  try {
    if (!source.testConnection) throw new FerryError('config', `source ${id} (${config.kind}) cannot be tested without running an extract`, { field: 'source' });
    const info = await source.testConnection({ signal: AbortSignal.timeout(120_000) });
    if (opts.json) {
      io.out(JSON.stringify({ source: id, kind: config.kind, ...info }, null, 2) + '\n');
      return 0;
    }
    io.out(`source ${id} (${config.kind}): ok — ${info.server}\n`);
    for (const [k, v] of Object.entries(info.details ?? {})) io.out(`  ${k}: ${v}\n`);
    return 0;
  } finally {
    await source.close();
  }
}
