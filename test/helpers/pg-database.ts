import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function withAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates a fresh database on the run's shared server (see global-setup.ts).
 * `name` is only a readable label; a random suffix keeps parallel files and runs apart.
 */
export async function createTestDatabase(name?: string): Promise<TestDatabase> {
  const adminUrl = inject('pgUrl');
  if (!adminUrl) {
    throw new Error("no 'pgUrl' provided: run tests through vitest with globalSetup test/helpers/global-setup.ts");
  }
  const label = name ? `_${name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 30)}` : '';
  const db = `ferry_t${label}_${randomBytes(5).toString('hex')}`;
  await withAdmin(adminUrl, `CREATE DATABASE "${db}"`);

  const url = new URL(adminUrl);
  url.pathname = `/${db}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    name: db,
    drop: () => (dropping ??= withAdmin(adminUrl, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)),
  };
}
