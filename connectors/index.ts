import fs from 'node:fs';
import path from 'node:path';
import { FerryError } from '../src/core/errors.js';
import type { Source } from '../src/core/source.js';
import type { NamedSource } from '../src/config/model.js';
import type { SecretRef } from '../src/config/schema.js';
import { resolveSecret } from '../src/config/secrets.js';
import { createESchoolDataSource } from './eschooldata/eschooldata-source.js';
import { createPostgresSource } from './postgres/postgres-source.js';
import { createPowerSchoolSource } from './powerschool/powerschool-source.js';
import { createSchoolToolSource } from './schooltool/schooltool-source.js';
import { createSqliteSource } from './sqlite/sqlite-source.js';

/** The one place that knows every source kind. Secrets are handed over as functions, read only when connecting. */
export function createSource(config: NamedSource, ctx: { configDir: string; integration?: string | undefined }): Source {
  const secret = (ref: SecretRef | string, field: string) => () =>
    typeof ref === 'string' ? ref : resolveSecret(ref, { configDir: ctx.configDir, owner: `source ${config.id}`, field, integration: ctx.integration, kind: 'source_auth' });
  switch (config.kind) {
    case 'sqlite':
      return createSqliteSource({ id: config.id, path: config.path, integration: ctx.integration });
    case 'postgres':
      return createPostgresSource({
        id: config.id,
        host: config.host,
        port: config.port,
        database: config.database,
        user: config.user,
        password: config.password ? secret(config.password, 'password') : undefined,
        ssl: config.ssl,
        sslCa: config.sslCa ? readFileAt(config.sslCa, ctx.configDir, config.id, ctx.integration) : undefined,
        connectTimeoutSeconds: config.connectTimeoutSeconds,
        statementTimeoutSeconds: config.statementTimeoutSeconds,
        integration: ctx.integration,
      });
    case 'schooltool':
      return createSchoolToolSource({
        id: config.id,
        host: config.host,
        port: config.port,
        instanceName: config.instanceName,
        database: config.database,
        user: config.user,
        password: config.password ? secret(config.password, 'password') : undefined,
        encrypt: config.encrypt,
        trustServerCertificate: config.trustServerCertificate,
        sslCa: config.sslCa ? readFileAt(config.sslCa, ctx.configDir, config.id, ctx.integration) : undefined,
        connectTimeoutSeconds: config.connectTimeoutSeconds,
        requestTimeoutSeconds: config.requestTimeoutSeconds,
        readOnlyIntent: config.readOnlyIntent,
        integration: ctx.integration,
      });
    case 'powerschool':
      return createPowerSchoolSource({
        id: config.id,
        baseUrl: config.baseUrl,
        clientId: secret(config.clientId, 'clientId'),
        clientSecret: secret(config.clientSecret, 'clientSecret'),
        timeoutSeconds: config.timeoutSeconds,
        maxConcurrency: config.maxConcurrency,
        pageSize: config.pageSize,
        retries: config.retries,
        tolerance: config.completeness.tolerance,
        integration: ctx.integration,
      });
    case 'eschooldata':
      return createESchoolDataSource({
        id: config.id,
        tokenUrl: config.tokenUrl,
        apiBase: config.apiBase,
        clientId: secret(config.clientId, 'clientId'),
        clientSecret: secret(config.clientSecret, 'clientSecret'),
        timeoutSeconds: config.timeoutSeconds,
        maxConcurrency: config.maxConcurrency,
        pageSize: config.pageSize,
        retries: config.retries,
        tolerance: config.completeness.tolerance,
        integration: ctx.integration,
      });
  }
}

/** A file named in a source's config (relative to the config folder), read when connecting. */
function readFileAt(file: string, configDir: string, sourceId: string, integration?: string): () => string {
  const at = path.resolve(configDir, file);
  return () => {
    try {
      return fs.readFileSync(at, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
      throw new FerryError('config', `${integration ? `integration ${integration}: ` : ''}source ${sourceId}: the CA file ${at} (sslCa) ${why}`, { integration, field: `sources.${sourceId}.sslCa`, cause: err });
    }
  };
}
