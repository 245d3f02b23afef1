import type { Integration } from '../config/model.js';
import { FILTER_BINDS, resolveIntegrationParams, type ResolvedParams } from '../config/params.js';
import { STANDARD_FILTERS } from '../config/schema.js';
import { expiredAgreement, expiredSentence } from '../governance/agreements.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * What a `ferry run` would change about the scope the district agreed to, each as one clause: a parameter the
 * integration's config fixes, given another value, or a run of an integration that is disabled (in config, or by
 * `ferry disable`), or a run under an agreement that has expired. Empty when the run stays within the config. The standard filters an extract supports (grades,
 * buildings, activeOnly, asOf, schoolYear) are fixed even where the config leaves them to their defaults: `activeOnly`
 * unset means active students only, and widening that is a scope change all the same. A value the parameter rules
 * reject is left to the run, which records the failure.
 */
export async function runScopeChanges(rt: Pick<Runtime, 'store' | 'clock'>, integration: Integration, overrides: Readonly<Record<string, string>>): Promise<string[]> {
  const clauses = paramChanges(integration, overrides, rt.clock.now());
  const state = (await rt.store.getStates()).get(integration.id);
  if (!(state?.enabled ?? integration.enabled)) {
    clauses.push(`${integration.id} is disabled (${state ? `by ${state.changedBy}${state.reason ? `: ${state.reason}` : ''}` : 'enabled: false in its config'})`);
  }
  const expired = expiredAgreement(integration, rt.clock.now());
  if (expired) clauses.push(expiredSentence(expired));
  return clauses;
}

function paramChanges(integration: Integration, overrides: Readonly<Record<string, string>>, now: Date): string[] {
  const extracts = integration.bundle ? integration.bundle.files.map((f) => f.extract) : [integration.extract];
  const isFilter = (name: string): name is keyof typeof FILTER_BINDS => (STANDARD_FILTERS as readonly string[]).includes(name);
  const fixed = (name: string) => name in integration.params || (isFilter(name) && extracts.some((e) => e.filters.includes(name)));
  const names = Object.keys(overrides).filter(fixed);
  if (names.length === 0) return [];
  const tz = integration.schedule.timezone;
  let base: ResolvedParams;
  let asked: ResolvedParams;
  try {
    base = resolveIntegrationParams(integration, integration.params, now, tz);
    asked = resolveIntegrationParams(integration, { ...integration.params, ...overrides }, now, tz);
  } catch {
    return [];
  }
  // Compared by what the query receives, so `grades=ES` where the config says K-5 (the same band) is no change.
  const parts = (r: ResolvedParams) => (r.members ? [...r.members.values()] : [r]);
  const [before, after] = [parts(base), parts(asked)];
  return names
    .filter((name) => {
      const binds = isFilter(name) ? FILTER_BINDS[name] : [name];
      return before.some((b, i) => binds.some((k) => k in b.binds && JSON.stringify(b.binds[k]) !== JSON.stringify(after[i]?.binds[k])));
    })
    .map((name) => `parameter ${name}=${overrides[name]} overrides the config's ${show(base.values[name])}`);
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(',') : '(all)';
  return v === undefined || v === null ? '(unset)' : String(v);
}
