import type { Source } from '../src/core/source.js';
import type { NamedSource } from '../src/config/model.js';
import { resolveSecret } from '../src/config/secrets.js';
import { createPostgresSource } from './postgres/postgres-source.js';
import { createSqliteSource } from './sqlite/sqlite-source.js';

/** The one place that knows every source kind. */
export function createSource(config: NamedSource, ctx: { configDir: string; integration?: string | undefined }): Source {
  switch (config.kind) {
    case 'sqlite':
      return createSqliteSource({ id: config.id, path: config.path, integration: ctx.integration });
    case 'postgres': {
      const password = config.password;
      return createPostgresSource({
        id: config.id,
        host: config.host,
        port: config.port,
        database: config.database,
        user: config.user,
        password: password
          ? () => resolveSecret(password, { configDir: ctx.configDir, owner: `source ${config.id}`, field: 'password', integration: ctx.integration, kind: 'source_auth' })
          : undefined,
        ssl: config.ssl,
        connectTimeoutSeconds: config.connectTimeoutSeconds,
        statementTimeoutSeconds: config.statementTimeoutSeconds,
        integration: ctx.integration,
      });
    }
  }
}
