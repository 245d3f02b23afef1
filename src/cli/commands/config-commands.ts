import fs from 'node:fs';
import { isPidAlive, pidDir } from '../../daemon/daemon.js';
import { readReloadResultText, reloadResultFile, waitForReloadResult } from '../../daemon/reload-result.js';
import { needsRestartSentence } from '../../config/reload-plan.js';
import { ConfigError, formatProblem, tryLoadConfig } from '../../config/loader.js';
import type { Integration } from '../../config/model.js';
import { transportWarning } from '../../config/transport-warnings.js';
import { sentElements } from '../../governance/sent-elements.js';
import { resolveIntegrationParams } from '../../config/params.js';
import { nextFireTimes } from '../../scheduler/scheduler.js';
import type { IntegrationState, RunRecord } from '../../store/run-store.js';
import { currentUser, findIntegration, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { configDigest } from '../../governance/config-digest.js';
import os from 'node:os';
import { forcedNote, formatBytes, formatInZone, runOutcome, runToJson, table } from '../output.js';

/**
 * `ferry validate`: every problem at once, each with its file and field, exit 2 when there are any. Beyond the files it
 * checks what a run at 2 AM needs from this host and user: secrets that resolve (values are never printed), private
 * secret files, readable pin files, a usable data folder. Warnings (an unused grade band) are printed on stdout.
 */
export async function cmdValidate(opts: GlobalOptions, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config, new Date(), { environment: process.env });
  const warnings = res.warnings.map((w) => `  warning: ${formatProblem(w)}\n`).join('');
  if (!res.ok) {
    io.err(`${res.problems.length} problem${res.problems.length === 1 ? '' : 's'} in ${opts.config}:\n`);
    for (const p of res.problems) io.err(`  ${formatProblem(p)}\n`);
    io.out(warnings);
    return 2;
  }
  const c = res.config;
  io.out(`ok: ${c.integrations.size} integrations in ${c.districts.size} districts, ${c.extracts.size} extracts, ${c.sources.size} sources, ${c.destinations.size} destinations\n${warnings}`);
  for (const source of c.sources.values()) {
    const warning = transportWarning(source);
    if (warning) io.err(`ferry: warning: ${warning}\n`);
  }
  return 0;
}

/** A reload of ~1,000 integrations takes seconds; a busy host more. Past this, the CLI stops waiting, not the daemon. */
const RELOAD_ANSWER_MS = 60_000;

/**
 * `ferry reload`: check the configuration, and only if it is valid send SIGHUP to every daemon of this data folder on
 * this host (they leave their pid in <dataDir>/run). Each reloads, and refuses a config that changed meanwhile and is
 * invalid; then says what it applied and what needs a restart, which this prints. Exit 0 when every daemon reloaded,
 * 2 when one refused the configuration, 1 when one did not answer. Daemons on other hosts: run `ferry reload` there.
 */
export async function cmdReload(opts: GlobalOptions, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) {
    io.err(`ferry: not reloaded: ${res.problems.length} problem${res.problems.length === 1 ? '' : 's'} in ${opts.config} (the daemons keep the configuration they run):\n`);
    for (const p of res.problems) io.err(`  ${formatProblem(p)}\n`);
    return 2;
  }
  const dir = pidDir(res.config.dataDir);
  const pids = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
    .map((f) => /^ferryd-(\d+)\.pid$/.exec(f)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number)
    .filter(isPidAlive);
  if (pids.length === 0) {
    io.err(`ferry: no daemon is running for ${res.config.dataDir} on this host; nothing to reload\n`);
    return 1;
  }
  // Who asked, recorded before any daemon is told (each daemon records what changed in the configuration it loads).
  await withRuntime(opts, (rt) =>
    rt.audit.append({
      who: currentUser(),
      action: 'reload',
      what: `asked the daemon${pids.length === 1 ? '' : 's'} on ${os.hostname()} (pid ${pids.join(', ')}) to reload the configuration`,
      ticket: opts.ticket ?? null,
      details: { host: os.hostname(), pids },
      configDigest: configDigest(res.config),
    }),
  );
  const answers = pids.map((pid) => {
    const file = reloadResultFile(dir, pid);
    const before = readReloadResultText(file);
    process.kill(pid, 'SIGHUP');
    return { pid, answer: waitForReloadResult(file, before, RELOAD_ANSWER_MS) };
  });
  io.out(`sent SIGHUP to ${pids.length} daemon${pids.length === 1 ? '' : 's'} (pid ${pids.join(', ')})\n`);
  let code = 0;
  for (const { pid, answer } of answers) {
    const r = await answer;
    if (!r) {
      io.err(`ferry: daemon ${pid} did not say within ${RELOAD_ANSWER_MS / 1000}s whether it reloaded; its log will say\n`);
      code = Math.max(code, 1);
    } else if (!r.ok) {
      io.err(
        r.error
          ? `ferry: daemon ${pid} did not reload and keeps the configuration it runs: ${r.error}\n`
          : `ferry: daemon ${pid} refused the configuration (${r.problems} problem${r.problems === 1 ? '' : 's'}, named in its log; it changed after this check?) and keeps the one it runs\n`,
      );
      code = 2;
    } else {
      io.out(`daemon ${pid}: configuration reloaded; ${r.applied.length > 0 ? `applied: ${r.applied.join(', ')}` : 'nothing that applies live had changed'}\n`);
      if (r.needsRestart.length > 0) io.out(`daemon ${pid}: ${needsRestartSentence(r.needsRestart)}\n`);
    }
  }
  return code;
}

function safetySentence(i: Integration): string {
  const g = i.safety;
  if (!g) return 'off';
  const pct = (x: number) => `${Number((x * 100).toFixed(1))}%`;
  const limits = [...(g.maxRowDrop !== null ? [`fall by more than ${pct(g.maxRowDrop)}`] : []), ...(g.maxRowGrowth !== null ? [`grow by more than ${pct(g.maxRowGrowth)}`] : [])];
  return `hold when rows ${limits.join(' or ')} against the last delivery; a held file waits ${g.heldDays} day${g.heldDays === 1 ? '' : 's'} for ferry release, then expires`;
}

function effectiveEnabled(i: Integration, states: Map<string, IntegrationState>): boolean {
  return states.get(i.id)?.enabled ?? i.enabled;
}

/** `ferry list [--json]`: every integration with its next run and last status. */
export async function cmdList(opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  return withRuntime(opts, async (rt) => {
    const [last, states] = await Promise.all([rt.store.lastRuns(), rt.store.getStates()]);
    const rows = [...rt.config.integrations.values()].map((i) => {
      const enabled = effectiveEnabled(i, states);
      const next = enabled ? nextFireTimes(i.schedule, 1, rt.clock.now())[0] ?? null : null;
      return { i, enabled, next, last: last.get(i.id) };
    });
    if (opts.json) {
      io.out(
        JSON.stringify(
          rows.map(({ i, enabled, next, last: l }) => ({
            id: i.id,
            district: i.district.id,
            extract: i.extract.name,
            vendor: i.inventory.vendor,
            schedule: i.schedule,
            enabled,
            nextRun: next?.toISOString() ?? null,
            lastRun: l ? { id: l.id, status: l.status, finishedAt: l.finishedAt?.toISOString() ?? null } : null,
          })),
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    io.out(
      table(
        ['INTEGRATION', 'DISTRICT', 'VENDOR', 'SCHEDULE', 'ENABLED', 'NEXT RUN', 'LAST RUN'],
        rows.map(({ i, enabled, next, last: l }) => [
          i.id,
          i.district.id,
          i.inventory.vendor,
          `${i.schedule.cron} (${i.schedule.timezone})`,
          enabled ? 'yes' : 'no',
          next ? formatInZone(next, i.schedule.timezone) : '-',
          l ? `${l.status} (run ${l.id})` : 'never',
        ]),
      ),
    );
    return 0;
  });
}

/** `ferry show <id> [--json]`: what the integration sends, where, when, why, and its recent runs. */
export async function cmdShow(id: string, opts: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  return withRuntime(opts, async (rt) => {
    const i = findIntegration(rt, id);
    const [states, runs, lastDelivery] = await Promise.all([rt.store.getStates(), rt.store.listRuns({ integrationId: id, limit: 5 }), rt.store.lastDelivered(id)]);
    const state = states.get(id);
    const params = resolveIntegrationParams(i, i.params, rt.clock.now(), i.schedule.timezone).values;
    const next = nextFireTimes(i.schedule, 3, rt.clock.now());
    const dest = i.destination.kind === 'sftp' ? `sftp://${i.destination.username}@${i.destination.host}:${i.destination.port}${i.destination.basePath}` : `file://${i.destination.basePath}`;
    const info = {
      id: i.id,
      file: i.file,
      district: { id: i.district.id, name: i.district.name, contact: i.district.contact ?? null },
      extract: { name: i.extract.name, description: i.extract.description, file: i.extract.file, personKey: i.extract.personKey ?? null },
      dataElements: sentElements(i),
      bundle: i.bundle ? { format: i.bundle.format, mode: i.bundle.mode, files: i.bundle.files.map((f) => ({ name: f.name, extract: f.extract.name })) } : null,
      source: { id: i.source.id, kind: i.source.kind, transportWarning: transportWarning(i.source) ?? null },
      destination: { id: i.destination.id, kind: i.destination.kind, target: dest },
      remotePath: i.remotePath,
      schedule: i.schedule,
      nextRuns: next.map((d) => d.toISOString()),
      enabled: state?.enabled ?? i.enabled,
      enabledChange: state ? { enabled: state.enabled, reason: state.reason, by: state.changedBy, at: state.changedAt.toISOString() } : null,
      params,
      format: i.format,
      inventory: i.inventory,
      columns: i.extract.columns,
      withheld: i.withheld.map((c) => c.name),
      safety: i.safety,
      recentRuns: runs.map(runToJson),
      lastDelivery: lastDelivery ? runToJson(lastDelivery) : null,
    };
    if (opts.json) {
      io.out(JSON.stringify(info, null, 2) + '\n');
      return 0;
    }
    const lines = [
      `${i.id}  (${i.file})`,
      `  district     ${i.district.name} [${i.district.id}]`,
      `  vendor       ${i.inventory.vendor}`,
      `  purpose      ${i.inventory.purpose}`,
      `  contact      ${i.inventory.contact}`,
      ...(i.inventory.ticket ? [`  ticket       ${i.inventory.ticket}`] : []),
      ...(i.inventory.startDate ? [`  start date   ${i.inventory.startDate}`] : []),
      ...(i.inventory.notes ? [`  notes        ${i.inventory.notes}`] : []),
      ...(i.bundle
        ? [
            `  bundle       ${i.bundle.format === 'clever' ? 'Clever CSV set, each file into the remote folder' : i.bundle.mode === 'delta' ? 'OneRoster 1.1 delta zip (changes since the last delivered bulk)' : 'OneRoster 1.1 bulk zip'}: ${i.bundle.files.map((f) => `${f.name} ← ${f.extract.name}`).join(', ')}`,
          ]
        : [`  extract      ${i.extract.name}: ${i.extract.description}`]),
      `  source       ${i.source.id} (${i.source.kind})`,
      ...(info.source.transportWarning ? [`  transport    warning: ${info.source.transportWarning}`] : []),
      `  destination  ${i.destination.id} → ${dest}`,
      `  remote path  ${i.remotePath}`,
      `  schedule     ${i.schedule.cron} in ${i.schedule.timezone}; next ${next.map((d) => formatInZone(d, i.schedule.timezone)).join(', ')}`,
      `  enabled      ${info.enabled ? 'yes' : 'no'}${state ? ` (set by ${state.changedBy} at ${state.changedAt.toISOString()}${state.reason ? `: ${state.reason}` : ''})` : ' (from config)'}`,
      `  parameters   ${Object.entries(params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') || '(all)' : String(v)}`).join('  ')}`,
      ...(i.bundle ? [] : [`  fields sent  ${i.extract.columns.map((c) => `${c.name} (${c.type})`).join(', ')}`]),
      `  data sent    ${sentElements(i).join(', ') || '(no column names its data element)'}`,
      ...(i.withheld.length ? [`  withheld     ${i.withheld.map((c) => c.name).join(', ')} (not in fields:)`] : []),
      `  safety gate  ${safetySentence(i)}`,
      `  delivered    ${lastDelivery ? `run ${lastDelivery.id} is the vendor's current file (${lastDelivery.rows ?? '?'} rows, delivered ${lastDelivery.deliveredAt?.toISOString() ?? 'at an unrecorded time'})` : 'nothing yet'}`,
      '  recent runs',
      ...(runs.length ? runs.map((r: RunRecord) => `    ${r.id}  ${r.status.padEnd(11)} ${r.startedAt?.toISOString() ?? r.createdAt.toISOString()}  ${r.rows ?? ''} rows${r.expected === null ? '' : ` (${r.expected} expected)`} ${formatBytes(r.bytes)}  ${runOutcome(r)}${forcedNote(r)}`) : ['    (none)']),
    ];
    io.out(lines.join('\n') + '\n');
    return 0;
  });
}

/** `ferry next <id> [--count N]`: the coming fire times, in the integration's zone and in UTC. */
export async function cmdNext(id: string, opts: GlobalOptions & { count: number }, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) throw new ConfigError(res.problems);
  const i = findIntegration(res, id);
  for (const d of nextFireTimes(i.schedule, opts.count)) io.out(`${formatInZone(d, i.schedule.timezone)}  (${d.toISOString()})\n`);
  return 0;
}
