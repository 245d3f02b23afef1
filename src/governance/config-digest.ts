import crypto from 'node:crypto';
import type { FerryConfig } from '../config/model.js';

/**
 * The configuration's fingerprint, and what changed between two loads of it. The loader keeps secrets as references
 * (`{ env: NAME }`, `{ file: path }`, never values), so the canonical form holds no secret.
 */

/** JSON with object keys sorted, Maps as objects sorted by key, undefined left out: equal configs, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(v: unknown): unknown {
  if (v instanceof Map) return canonical(Object.fromEntries(v));
  if (v instanceof Set) return [...v].map(canonical);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const c = (v as Record<string, unknown>)[k];
      if (c !== undefined && typeof c !== 'function') out[k] = canonical(c);
    }
    return out;
  }
  return v;
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/** Per config object: a daemon claims thousands of runs with one config, and the config is frozen. */
const digests = new WeakMap<FerryConfig, string>();

/** SHA-256 over the canonical form of the whole loaded configuration (hex). */
export function configDigest(config: FerryConfig): string {
  let d = digests.get(config);
  if (d === undefined) {
    d = sha256(canonicalJson(config));
    digests.set(config, d);
  }
  return d;
}

/**
 * What the audit log keeps of a configuration to tell the next load what changed: a short digest of each named thing
 * (every section that is a map by id: integrations, extracts, districts, sources, destinations, agreements …) and of
 * each other setting.
 */
export interface ConfigSnapshot {
  readonly digest: string;
  readonly sections: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly settings: Readonly<Record<string, string>>;
}

/** 64 bits tell a changed item from an unchanged one; the whole config keeps its full digest. */
const short = (v: unknown) => sha256(canonicalJson(v)).slice(0, 16);

export function configSnapshot(config: FerryConfig): ConfigSnapshot {
  const sections: Record<string, Record<string, string>> = {};
  const settings: Record<string, string> = {};
  for (const key of Object.keys(config).sort()) {
    const value: unknown = (config as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (value instanceof Map) sections[key] = Object.fromEntries([...value.keys()].sort().map((id) => [String(id), short(value.get(id))]));
    else settings[key] = short(value);
  }
  return { digest: configDigest(config), sections, settings };
}

export interface SectionChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

export interface ConfigChanges {
  /** Only sections with a change. */
  readonly sections: Readonly<Record<string, SectionChanges>>;
  /** Settings added, removed or changed (`logLevel`, `alerts`, `store`). */
  readonly settings: readonly string[];
}

export function diffSnapshots(before: ConfigSnapshot, after: ConfigSnapshot): ConfigChanges {
  const sections: Record<string, SectionChanges> = {};
  for (const name of [...new Set([...Object.keys(before.sections), ...Object.keys(after.sections)])].sort()) {
    const was = before.sections[name] ?? {};
    const now = after.sections[name] ?? {};
    const added = Object.keys(now).filter((id) => !(id in was));
    const removed = Object.keys(was).filter((id) => !(id in now));
    const changed = Object.keys(now).filter((id) => id in was && was[id] !== now[id]);
    if (added.length + removed.length + changed.length > 0) sections[name] = { added, removed, changed };
  }
  const keys = [...new Set([...Object.keys(before.settings), ...Object.keys(after.settings)])].sort();
  return { sections, settings: keys.filter((k) => before.settings[k] !== after.settings[k]) };
}

/** Does the change touch this item (e.g. integrations / hilltop-clever)? */
export function changesName(changes: ConfigChanges, section: string, id: string): boolean {
  const s = changes.sections[section];
  return s !== undefined && (s.added.includes(id) || s.removed.includes(id) || s.changed.includes(id));
}

/** One short sentence: "integrations added: a, b; integrations changed: c; settings changed: logLevel". */
export function describeChanges(changes: ConfigChanges): string {
  const names = (ids: readonly string[]) => (ids.length > 5 ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more` : ids.join(', '));
  const parts: string[] = [];
  for (const [section, c] of Object.entries(changes.sections)) {
    if (c.added.length) parts.push(`${section} added: ${names(c.added)}`);
    if (c.removed.length) parts.push(`${section} removed: ${names(c.removed)}`);
    if (c.changed.length) parts.push(`${section} changed: ${names(c.changed)}`);
  }
  if (changes.settings.length) parts.push(`settings changed: ${names(changes.settings)}`);
  return parts.length ? parts.join('; ') : 'nothing changed';
}
