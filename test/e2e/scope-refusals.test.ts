import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2E_USER, ferry, type CliResult } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

/**
 * Scope changes are deliberate and recorded: a fixed parameter changed, a disabled integration run or released, an
 * older held file released over a newer delivery: each is refused in one sentence (exit 2, nothing recorded, nothing
 * sent) until a person forces it with a reason, and the forced run says so on every line and in its record.
 */

const integration = (id: string, remote: string, extra: Record<string, unknown> = {}) => ({
  id,
  extract: 'clever-students',
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: `{district}/${remote}`,
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
  inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering', ticket: 'T-1' },
  ...extra,
});

interface Run {
  id: number;
  status: string;
  rows: number;
  trigger: string;
  dryRun: boolean;
  requestedBy: string;
  remotePath: string | null;
  holdReason: string | null;
  releasedBy: string | null;
  forcedReason: string | null;
  forcedScope: string | null;
  releaseForcedReason: string | null;
  releaseForcedScope: string | null;
  deliveredAt: string | null;
  slotAt: string;
  params: Record<string, unknown>;
}

/** Each test spawns the CLI a dozen times or more, seconds each on a busy 2-core machine. */
const SLOW = 240_000;
const WARN = (reason: string, what = 'run') => ` [warning: forced ${what} (reason: ${reason})]`;
const lines = (r: CliResult) => (r.stdout + r.stderr).split('\n').filter((l) => l.length > 0);

describe('scope changes need --force --reason (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const history = async (id: string): Promise<Run[]> => JSON.parse((await ferry(['history', id, '--json', ...c()])).stdout) as Run[];
  const delivered = (remote: string) => path.join(cfg.sftpRoot, 'hilltop-csd', remote);

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        integration('scope-k5', 'k5/students.csv', { safety: false }),
        integration('scope-paused', 'paused/students.csv', { enabled: false }),
        integration('scope-disabled', 'disabled/students.csv'),
        integration('gate-growth', 'growth/students.csv', { params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K' } }),
        integration('gate-nogrowth', 'nogrowth/students.csv', { params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K' }, safety: { maxRowGrowth: false } }),
        integration('release-order', 'order/students.csv'),
      ],
    });
  });

  it('refuses to widen fixed parameters in one sentence, sends and records nothing, and runs them when forced, saying so on every line', { timeout: SLOW }, async () => {
    const refused = await ferry(['run', 'scope-k5', '--param', 'grades=PK-12', '--param', 'activeOnly=false', ...c()]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      'ferry: integration scope-k5 was not run: parameter grades=PK-12 overrides the config\'s K-5, and parameter activeOnly=false overrides the config\'s true; run it only with --force --reason "…" (a dry run needs neither)\n',
    );
    expect(await history('scope-k5')).toEqual([]);
    expect(fs.existsSync(delivered('k5/students.csv'))).toBe(false);

    // The same value as the config is no change; a dry run may try any scope.
    const same = await ferry(['run', 'scope-k5', '--param', 'grades=K-5', ...c()]);
    expect(same.stderr).toBe('');
    expect(same.code).toBe(0);
    const narrowRows = (await history('scope-k5'))[0]!.rows;
    const dry = await ferry(['run', 'scope-k5', '--dry-run', '--param', 'grades=PK-12', ...c()]);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);

    const reason = 'district asked for the whole school, ticket T-88';
    const forced = await ferry(['run', 'scope-k5', '--param', 'grades=PK-12', '--param', 'activeOnly=false', '--force', '--reason', reason, ...c()]);
    expect(forced.code, forced.stderr).toBe(0);
    const printed = lines(forced);
    expect(printed.length).toBeGreaterThanOrEqual(2);
    for (const l of printed) expect(l.endsWith(WARN(reason)), l).toBe(true);
    expect(forced.stderr).toContain(`ferry: warning: scope-k5 runs forced by ${E2E_USER}: parameter grades=PK-12 overrides the config's K-5, and parameter activeOnly=false overrides the config's true`);
    expect(forced.stdout).toMatch(/^run \d+ succeeded: \d+ rows/);

    const [wide, dryRun, plain] = await history('scope-k5');
    expect(wide).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      requestedBy: E2E_USER,
      forcedReason: reason,
      forcedScope: "parameter grades=PK-12 overrides the config's K-5, and parameter activeOnly=false overrides the config's true",
      params: expect.objectContaining({ grades: 'PK-12', activeOnly: false }),
      remotePath: '/hilltop-csd/k5/students.csv',
    });
    expect(wide!.rows).toBeGreaterThan(narrowRows);
    expect(dryRun).toMatchObject({ dryRun: true, forcedReason: null, forcedScope: null });
    expect(plain).toMatchObject({ dryRun: false, forcedReason: null, status: 'succeeded' });

    const table = await ferry(['history', 'scope-k5', ...c()]);
    expect(table.stdout).toContain(`[forced by ${E2E_USER}: parameter grades=PK-12 overrides the config's K-5, and parameter activeOnly=false overrides the config's true (reason: ${reason})]`);
    const show = await ferry(['show', 'scope-k5', ...c()]);
    expect(show.stdout).toContain(`${wide!.id}  succeeded`);
    expect(show.stdout).toContain(`(reason: ${reason})]`);
  });

  it('--force needs a reason and a reason needs --force', { timeout: SLOW }, async () => {
    const noReason = await ferry(['run', 'scope-k5', '--param', 'grades=PK-12', '--force', ...c()]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe('ferry: --force needs --reason "…" (it is recorded with the run)\n');
    const noForce = await ferry(['run', 'scope-k5', '--reason', 'because', ...c()]);
    expect(noForce.code).toBe(2);
    expect(noForce.stderr).toBe('ferry: --reason goes with --force (it says why the run is forced)\n');
  });

  it('refuses to run an integration disabled in config or by ferry disable, and runs it when forced, recorded', { timeout: SLOW }, async () => {
    const paused = await ferry(['run', 'scope-paused', ...c()]);
    expect(paused.code).toBe(2);
    expect(paused.stderr).toBe('ferry: integration scope-paused was not run: scope-paused is disabled (enabled: false in its config); run it only with --force --reason "…" (a dry run needs neither)\n');
    expect((await ferry(['disable', 'scope-disabled', '--reason', 'contract ended, DPA revoked', ...c()])).code).toBe(0);
    const disabled = await ferry(['run', 'scope-disabled', ...c()]);
    expect(disabled.code).toBe(2);
    expect(disabled.stderr).toBe(
      `ferry: integration scope-disabled was not run: scope-disabled is disabled (by ${E2E_USER}: contract ended, DPA revoked); run it only with --force --reason "…" (a dry run needs neither)\n`,
    );
    expect(await history('scope-paused')).toEqual([]);
    expect(await history('scope-disabled')).toEqual([]);
    expect(fs.existsSync(delivered('disabled/students.csv'))).toBe(false);

    expect((await ferry(['run', 'scope-paused', '--dry-run', ...c()])).code).toBe(0);
    const forced = await ferry(['run', 'scope-paused', '--force', '--reason', 'DPA signed today; config follows', ...c()]);
    expect(forced.code, forced.stderr).toBe(0);
    for (const l of lines(forced)) expect(l.endsWith(WARN('DPA signed today; config follows')), l).toBe(true);
    const [run, dry] = await history('scope-paused');
    expect(run).toMatchObject({ status: 'succeeded', requestedBy: E2E_USER, forcedReason: 'DPA signed today; config follows', forcedScope: 'scope-paused is disabled (enabled: false in its config)' });
    expect(dry).toMatchObject({ dryRun: true, forcedReason: null });
    expect(fs.existsSync(delivered('paused/students.csv'))).toBe(true);
  });

  it('holds a file whose rows grow past safety.maxRowGrowth, and maxRowGrowth: false turns that off', { timeout: SLOW }, async () => {
    const why = 'test: the whole elementary school';
    for (const id of ['gate-growth', 'gate-nogrowth']) expect((await ferry(['run', id, ...c()])).code).toBe(0);
    const before = fs.readFileSync(delivered('growth/students.csv'));
    const grown = await ferry(['run', 'gate-growth', '--param', 'grades=K-5', '--force', '--reason', why, ...c()]);
    expect(grown.code).toBe(1);
    const [held, first] = await history('gate-growth');
    expect(held).toMatchObject({ status: 'held', remotePath: null, forcedReason: why });
    expect(held!.rows).toBeGreaterThan(first!.rows * 1.5);
    const pct = Math.round(((held!.rows - first!.rows) / first!.rows) * 100);
    expect(held!.holdReason).toBe(`held: ${held!.rows} rows against ${first!.rows} in run ${first!.id} (a ${pct}% rise, over the 50% limit of safety.maxRowGrowth); release with ferry release ${held!.id}`);
    expect(grown.stderr.split('\n').at(-2)).toBe(`ferry: run ${held!.id} of gate-growth ${held!.holdReason}${WARN(why)}`);
    expect(fs.readFileSync(delivered('growth/students.csv'))).toEqual(before);

    const off = await ferry(['run', 'gate-nogrowth', '--param', 'grades=K-5', '--force', '--reason', why, ...c()]);
    expect(off.code, off.stderr).toBe(0);
    expect((await history('gate-nogrowth'))[0]).toMatchObject({ status: 'succeeded', forcedReason: why });
  });

  it('refuses to release a held run of a disabled integration, and releases it when forced, recorded', { timeout: SLOW }, async () => {
    const [held] = await history('gate-growth');
    expect(held!.status).toBe('held');
    expect((await ferry(['disable', 'gate-growth', '--reason', 'vendor paused', ...c()])).code).toBe(0);
    const refused = await ferry(['release', String(held!.id), ...c()]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`ferry: run ${held!.id} of gate-growth was not released: gate-growth is disabled (by ${E2E_USER}: vendor paused); release it only with --force --reason "…"\n`);
    expect((await history('gate-growth'))[0]).toMatchObject({ id: held!.id, status: 'held', releasedBy: null });

    const forced = await ferry(['release', String(held!.id), '--force', '--reason', 'vendor asked for this one file', ...c()]);
    expect(forced.code, forced.stderr).toBe(0);
    for (const l of lines(forced)) expect(l.endsWith(WARN('vendor asked for this one file', 'release')), l).toBe(true);
    expect((await history('gate-growth'))[0]).toMatchObject({
      id: held!.id,
      status: 'succeeded',
      releasedBy: E2E_USER,
      releaseForcedReason: 'vendor asked for this one file',
      releaseForcedScope: `gate-growth is disabled (by ${E2E_USER}: vendor paused)`,
    });
  });

  it('refuses to release a held run when a newer delivery exists, names it, and once forced calls the released run the latest delivery', { timeout: SLOW }, async () => {
    const c0 = await ferry(['run', 'release-order', ...c()]);
    expect(c0.code).toBe(0);
    const small = await ferry(['run', 'release-order', '--param', 'grades=K', '--force', '--reason', 'test: a small roster', ...c()]);
    expect(small.code).toBe(1);
    const again = await ferry(['run', 'release-order', ...c()]);
    expect(again.code).toBe(0);
    const [newer, held] = await history('release-order');
    expect(held!.status).toBe('held');
    const current = fs.readFileSync(delivered('order/students.csv'));

    const refused = await ferry(['release', String(held!.id), ...c()]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `ferry: run ${held!.id} of release-order was not released: run ${newer!.id} delivered newer data for ${newer!.slotAt}, after this run's slot ${held!.slotAt}; release it only with --force --reason "…"\n`,
    );
    expect(fs.readFileSync(delivered('order/students.csv'))).toEqual(current);

    const forced = await ferry(['release', String(held!.id), '--force', '--reason', 'the vendor wants the K roster back', ...c()]);
    expect(forced.code, forced.stderr).toBe(0);
    const [, released] = await history('release-order');
    expect(released).toMatchObject({ id: held!.id, status: 'succeeded', releaseForcedReason: 'the vendor wants the K roster back' });
    expect(released!.releaseForcedScope).toMatch(new RegExp(`^run ${newer!.id} delivered newer data for `));
    expect(Date.parse(released!.deliveredAt!)).toBeGreaterThan(Date.parse(newer!.deliveredAt!));

    // The vendor has the released file now: history, show and why say so, and the gate compares with it.
    const table = (await ferry(['history', 'release-order', ...c()])).stdout.split('\n');
    expect(table.find((l) => l.startsWith(`${held!.id} `))).toContain('(latest delivery)');
    expect(table.find((l) => l.startsWith(`${newer!.id} `))).not.toContain('(latest delivery)');
    const show = JSON.parse((await ferry(['show', 'release-order', '--json', ...c()])).stdout) as { lastDelivery: { id: number } };
    expect(show.lastDelivery.id).toBe(held!.id);
    const why = (await ferry(['why', 'release-order', ...c()])).stdout;
    expect(why).toContain(`The vendor's current file is from run ${held!.id} (slot `);
    expect(why).toContain(`released by ${E2E_USER}), delivered at `);
    expect(why).toContain(` with ${held!.rows} rows.`);
    // Against the small file the vendor has, the full roster is a rise past the limit: held, not sent unasked.
    expect((await ferry(['run', 'release-order', ...c()])).code).toBe(1);
    expect((await history('release-order'))[0]!.holdReason).toContain(`in run ${held!.id} (a `);
  });
});

describe('who did it is who did it (spawned CLI)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const osUser = os.userInfo().username;
  const lastBy = async (env: NodeJS.ProcessEnv): Promise<string> => {
    const r = await ferry(['run', 'hilltop-clever-students', '--dry-run', ...c()], { env });
    expect(r.code, r.stderr).toBe(0);
    const h = await ferry(['history', 'hilltop-clever-students', '--json', '-n', '1', ...c()]);
    expect(h.code, `ferry history: ${h.stderr}`).toBe(0);
    return (JSON.parse(h.stdout) as Run[])[0]!.requestedBy;
  };

  beforeAll(async () => {
    cfg = await makeDemoConfigDir();
  });

  it('records the OS user, the one behind sudo, and FERRY_USER beside them, never an empty name', { timeout: SLOW }, async () => {
    expect(await lastBy({ FERRY_USER: '' })).toBe(osUser);
    expect(await lastBy({ FERRY_USER: '   ' })).toBe(osUser);
    expect(await lastBy({ FERRY_USER: 'ops-desk' })).toBe(`${osUser} (as FERRY_USER=ops-desk)`);
    expect(await lastBy({ FERRY_USER: '', SUDO_USER: 'alice-sudo' })).toBe(`alice-sudo (via sudo as ${osUser})`);
    expect(await lastBy({ FERRY_USER: 'ops-desk', SUDO_USER: 'alice-sudo' })).toBe(`alice-sudo (as FERRY_USER=ops-desk; via sudo as ${osUser})`);
    // sudo to oneself changes nothing.
    expect(await lastBy({ FERRY_USER: '', SUDO_USER: osUser })).toBe(osUser);

    const d = await ferry(['disable', 'hilltop-clever-students', '--reason', 'audit test', ...c()], { env: { FERRY_USER: '', SUDO_USER: 'alice-sudo' } });
    expect(d.stdout).toBe(`hilltop-clever-students disabled by alice-sudo (via sudo as ${osUser}): audit test\n`);
    const show = JSON.parse((await ferry(['show', 'hilltop-clever-students', '--json', ...c()])).stdout) as { enabledChange: { by: string } };
    expect(show.enabledChange.by).toBe(`alice-sudo (via sudo as ${osUser})`);
  });
});
