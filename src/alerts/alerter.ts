import { createHash } from 'node:crypto';
import os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'winston';
import type { FerryConfig } from '../config/model.js';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { RunRecord, RunStore } from '../store/run-store.js';
import { alertMails, webhookText } from './batch.js';
import { DIGEST_PERIOD_MS, digestMails, nextDigestAt } from './digest.js';
import { sendMails } from './email.js';
import { agreementState, agreementUses, EXPIRY_ALERT_DAYS } from '../governance/agreements.js';
import { agreementAlert, runAlert, storeRecoveredAlert, storeUnreachableAlert, type Alert } from './messages.js';
import { postWebhook } from './webhook.js';
import { overdueReviews } from '../governance/reviews.js';
import type { ReviewRecord } from '../store/run-store.js';

export interface AlerterDeps {
  /** The configuration in force, read at each event and send: a reload changes recipients and channels at once. */
  config: () => FerryConfig;
  bus: EventBus;
  /** Read only: the digest's runs and overdue reviews, and whether a failed run has a retry queued. */
  store: Pick<RunStore, 'runsFinishedBetween' | 'runsWithStatus' | 'claimOnce' | 'latestReviews'>;
  logger: Logger;
  clock: Clock;
  /** Named in the store alerts; defaults to this machine's host name. */
  host?: string;
}

export interface Alerter {
  /**
   * Listen to the bus and arm the digest timer; idempotent. It listens even while alerts are off (`alerts:` absent),
   * so that a reload that turns them on needs no restart.
   */
  start(): void;
  /** After a reload: arm, move or disarm the digest timer for the digest settings now in force. */
  refresh(): void;
  /** Stop listening, disarm the timer and wait for sends in flight; idempotent, returns the same promise. */
  stop(): Promise<void>;
  /** Send the digest for runs finished in the 24 hours before `end`. Never throws; failures are logged. */
  sendDigest(end: Date): Promise<void>;
  /** Resolves once every alert and digest already raised has been sent (or given up on). */
  idle(): Promise<void>;
  /** When the digest timer will next send; null when there is no digest (off, no email, not started, stopped). */
  nextDigestAt(): Date | null;
  /**
   * Raise an `agreement` alert for each agreement in use that is now within 60, 30 or 7 days of its expiry, once per
   * threshold across every daemon sharing the store. Runs at start and hourly; never throws.
   */
  checkAgreements(): Promise<void>;
}

/**
 * A timer never waits longer than this before looking at the clock again: setTimeout overflows past ~24.8 days (a
 * monthly digest cron), and a host that slept or had its clock set must not send a digest hours off.
 */
const MAX_TIMER_MS = 60 * 60 * 1000;

/**
 * Turns bus events into webhook posts and emails, and sends the daily digest. Sending happens off the emitter's
 * path: listeners only queue, so a slow SMTP server never holds up the runner or the scheduler.
 */
export function createAlerter(deps: AlerterDeps): Alerter {
  const { config, bus, store, clock } = deps;
  const logger = deps.logger.child({ component: 'alerts' });
  const host = deps.host ?? os.hostname();
  const inflight = new Set<Promise<unknown>>();
  const unsubscribe: (() => void)[] = [];
  let pending: Alert[] = [];
  let draining = false;
  let started = false;
  let stopping: Promise<void> | undefined;
  let storeDown = false;
  let timer: NodeJS.Timeout | undefined;
  let digestDue: Date | null = null;
  // What the digest timer was armed for; a reload that leaves it unchanged leaves the timer alone.
  let armedFor: unknown;
  const digestTiming = () => {
    const alerts = config().alerts;
    return { digest: alerts?.digest ?? false, email: Boolean(alerts?.email) };
  };

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => undefined);
    return p;
  };

  const idle = async (): Promise<void> => {
    // A send may queue another (alerts raised meanwhile), so look again until nothing is left.
    while (inflight.size > 0) await Promise.allSettled([...inflight]);
  };

  const wants = (kind: Alert['kind']) => config().alerts?.on.includes(kind) ?? false;

  const raise = (alert: Alert | undefined) => {
    if (!alert || stopping || !wants(alert.kind)) return;
    pending.push(alert);
    if (!draining) {
      draining = true;
      track(drain());
    }
  };

  /**
   * A failure the runner will retry is not worth waking anyone for: a network blip that the second attempt gets past
   * would teach contacts to ignore Ferry. The runner queues the retry before it announces the failure, so the store
   * already shows it. The last attempt alerts (its message says which attempt it was); so does any failure when the
   * store cannot be asked.
   */
  const raiseUnlessRetried = async (run: RunRecord, alert: Alert) => {
    const chain = run.retryOf ?? run.id;
    try {
      const next = [...(await store.runsWithStatus('queued', run.integrationId)), ...(await store.runsWithStatus('running', run.integrationId))];
      if (next.some((r) => r.retryOf === chain && r.attempt > run.attempt)) {
        logger.info('failure not alerted: a retry is queued', { runId: run.id, integration: run.integrationId, attempt: run.attempt });
        return;
      }
    } catch (err) {
      logger.debug('cannot tell whether a retry is queued; alerting', { runId: run.id, error: (err as Error).message });
    }
    raise(alert);
  };

  // Waits one microtask before taking the queue, so that a burst emitted in one synchronous loop goes out as one batch.
  const drain = async () => {
    try {
      await Promise.resolve();
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        try {
          await deliver(batch);
        } catch (err) {
          // The senders never throw; this is a bug in wording a message. Log it and keep the daemon up.
          logger.error('alerts not sent', { count: batch.length, error: (err as Error).message });
        }
      }
    } finally {
      draining = false;
    }
  };

  const deliver = async (batch: readonly Alert[]) => {
    const cfg = config();
    const alerts = cfg.alerts;
    if (!alerts) return;
    logger.info('alerts raised', { count: batch.length, kinds: [...new Set(batch.map((a) => a.label))].join(',') });
    const sends: Promise<unknown>[] = [];
    if (alerts.webhook) sends.push(postWebhook(alerts.webhook, webhookText(batch), { configDir: cfg.dir, logger }));
    if (alerts.email) sends.push(sendMails(alerts.email, alertMails(batch, cfg, alerts.email.to), { configDir: cfg.dir, logger }));
    await Promise.all(sends);
  };

  const sendDigest = (end: Date): Promise<void> =>
    track(
      (async () => {
        const cfg = config();
        const alerts = cfg.alerts;
        const email = alerts?.email;
        if (!alerts || !email) return;
        let runs;
        let reviews: Map<string, ReviewRecord>;
        try {
          // Several daemons share the store and the config: the first to claim this digest sends it.
          if (!(await store.claimOnce('digest', end, `${os.hostname()}:${process.pid}`))) {
            logger.info('digest left to another daemon', { end: end.toISOString() });
            return;
          }
          [runs, reviews] = await Promise.all([store.runsFinishedBetween(new Date(end.getTime() - DIGEST_PERIOD_MS), end), store.latestReviews()]);
        } catch (err) {
          logger.warn('digest not sent: the run store cannot be read', { end: end.toISOString(), error: (err as Error).message });
          return;
        }
        const timezone = alerts.digest === false ? 'UTC' : alerts.digest.timezone;
        try {
          const mails = digestMails({ config: cfg, runs, end, timezone, overdueReviews: overdueReviews(cfg, reviews, end) }, email.to);
          const sent = await sendMails(email, mails, { configDir: cfg.dir, logger });
          logger.info('digest sent', { end: end.toISOString(), runs: runs.length, messages: sent, of: mails.length });
        } catch (err) {
          // As above: a bug in wording, which must not become an unhandled rejection in a timer.
          logger.error('digest not sent', { end: end.toISOString(), error: (err as Error).message });
        }
      })(),
    );

  const checkAgreements = (): Promise<void> =>
    track(
      (async () => {
        const cfg = config();
        if (!cfg.alerts || !wants('agreement')) return;
        const now = clock.now();
        for (const use of agreementUses(cfg)) {
          const state = agreementState(use, now);
          // Unused and expired agreements put no delivery at stake (an expired one holds its runs, which alert).
          if (state.kind !== 'expiring' && state.kind !== 'active') continue;
          const threshold = [...EXPIRY_ALERT_DAYS].reverse().find((d) => state.daysLeft <= d);
          if (threshold === undefined) continue;
          const a = use.agreement;
          // The claim's name fits the store's 64 characters; its slot is the expiry, so a renewal alerts afresh.
          const name = `agreement-${threshold}:${createHash('sha256').update(`${a.districtId}/${a.id}`).digest('hex').slice(0, 40)}`;
          try {
            if (!(await store.claimOnce(name, new Date(`${a.expires}T00:00:00Z`), `${os.hostname()}:${process.pid}`))) continue;
          } catch (err) {
            logger.warn('agreement alert not checked: the run store cannot be written', { agreement: a.id, district: a.districtId, error: (err as Error).message });
            continue;
          }
          logger.info('agreement expiring', { agreement: a.id, district: a.districtId, vendor: a.vendor, expires: a.expires, daysLeft: state.daysLeft, threshold });
          raise(agreementAlert(use, state.daysLeft, cfg));
        }
      })(),
    );

  let agreementTimer: NodeJS.Timeout | undefined;
  const armAgreements = () => {
    agreementTimer = setTimeout(() => {
      void checkAgreements();
      armAgreements();
    }, MAX_TIMER_MS);
    agreementTimer.unref();
  };

  const armDigest = (after: Date) => {
    armedFor = digestTiming();
    const alerts = config().alerts;
    if (!alerts || alerts.digest === false || !alerts.email || stopping) return;
    const due = nextDigestAt(alerts.digest, after);
    if (!due) {
      logger.warn('digest cron never matches within a year: no digest will be sent', { cron: alerts.digest.cron });
      return;
    }
    digestDue = due;
    wait(due);
  };

  const wait = (due: Date) => {
    const ms = Math.min(Math.max(due.getTime() - clock.now().getTime(), 0), MAX_TIMER_MS);
    timer = setTimeout(() => {
      timer = undefined;
      const now = clock.now();
      if (now < due) return wait(due);
      void sendDigest(due);
      // From now, not from `due`: after a long sleep, send one late digest rather than one per day missed.
      armDigest(now);
    }, ms);
    // The daemon's other handles keep it alive; a pending digest alone must not.
    timer.unref();
  };

  const disarmDigest = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    digestDue = null;
  };

  const warnIfSilent = () => {
    const alerts = config().alerts;
    if (alerts && !alerts.webhook && !alerts.email) logger.warn('alerts configured with neither a webhook nor email: nothing will be sent');
  };

  return {
    start() {
      if (started || stopping) return;
      started = true;
      warnIfSilent();
      unsubscribe.push(
        bus.on('run.finished', ({ run }) => {
          // A dry run is someone trying Ferry out at a terminal: they see the result there.
          if (run.dryRun) return;
          const alert = runAlert(run, config());
          if (!alert || !wants(alert.kind)) return;
          if (alert.kind === 'failed') track(raiseUnlessRetried(run, alert));
          else raise(alert);
        }),
        bus.on('store.unreachable', (e) => {
          if (storeDown) return; // once per outage, even if the watchdog repeats itself
          storeDown = true;
          raise(storeUnreachableAlert(e, host));
        }),
        bus.on('store.recovered', (e) => {
          if (!storeDown) return;
          storeDown = false;
          raise(storeRecoveredAlert(e, host));
        }),
      );
      armDigest(clock.now());
      void checkAgreements();
      armAgreements();
    },
    refresh() {
      if (!started || stopping) return;
      warnIfSilent();
      if (isDeepStrictEqual(digestTiming(), armedFor)) return;
      // From now: a digest whose cron changed is due at the new cron's next time, not at the old one's.
      disarmDigest();
      armDigest(clock.now());
    },
    stop() {
      stopping ??= (async () => {
        for (const off of unsubscribe.splice(0)) off();
        disarmDigest();
        if (agreementTimer) clearTimeout(agreementTimer);
        await idle();
      })();
      return stopping;
    },
    sendDigest,
    idle,
    nextDigestAt: () => digestDue,
    checkAgreements,
  };
}
