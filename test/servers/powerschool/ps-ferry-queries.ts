import { CLEVER_QUERIES } from './ps-ferry-clever.js';
import { ONEROSTER_QUERIES } from './ps-ferry-oneroster.js';
import type { FerryQuery } from './ps-ferry-query.js';
import { TRANSFER_QUERIES } from './ps-ferry-transfers.js';

/** Every named query of the Ferry PowerSchool plugin, by name, as the fake answers them. */
export const FERRY_QUERIES: ReadonlyMap<string, FerryQuery> = new Map(
  [...ONEROSTER_QUERIES, ...CLEVER_QUERIES, ...TRANSFER_QUERIES].map((q) => [q.name, q]),
);

export type { FerryQuery } from './ps-ferry-query.js';
