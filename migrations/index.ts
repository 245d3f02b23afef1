import type { Knex } from 'knex';
import * as runs from './20261123_001_runs.js';
import * as held from './20261123_002_held.js';
import * as bundleFiles from './20261123_003_bundle_files.js';
import * as bundleMode from './20261123_004_bundle_mode.js';
import * as scheduling from './20261123_005_scheduling.js';
import * as claims from './20261123_006_claims.js';
import * as slotAt from './20261207_007_slot_at.js';
import * as expected from './20261207_008_expected.js';
import * as scope from './20261207_009_scope.js';
import * as reviews from './20261207_011_reviews.js';
import * as personDigests from './20261207_012_person_digests.js';
import * as audit from './20261207_010_audit.js';

/**
 * Migrations are listed here rather than discovered on disk, so the same list works from TypeScript under the
 * test runner and from the compiled dist/ folder.
 */
const MIGRATIONS: Record<string, Knex.Migration> = {
  '20261123_001_runs': runs,
  '20261123_002_held': held,
  '20261123_003_bundle_files': bundleFiles,
  '20261123_004_bundle_mode': bundleMode,
  '20261123_005_scheduling': scheduling,
  '20261123_006_claims': claims,
  '20261207_007_slot_at': slotAt,
  '20261207_008_expected': expected,
  '20261207_009_scope': scope,
  '20261207_011_reviews': reviews,
  '20261207_012_person_digests': personDigests,
  '20261207_010_audit': audit,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name]!,
};
