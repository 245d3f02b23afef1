import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import type { Integration } from '../config/model.js';

/**
 * Fires each integration on its cron schedule in its own IANA time zone (node-cron). The scheduler only says
 * "slot X of integration Y is due"; the runner decides whether it runs (enabled, already running, limits) and
 * records it.
 */
export interface SchedulerDeps {
  integrations: Iterable<Integration>;
  onSlot: (integration: Integration, scheduledFor: Date) => Promise<unknown>;
  logger: Logger;
}

export interface Scheduler {
  start(): void;
  /** Stop firing; idempotent. Runs already started are not touched. */
  stop(): Promise<void>;
}

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const tasks: ScheduledTask[] = [];
  let started = false;
  let stopping: Promise<void> | undefined;
  const cronLogger = {
    info: (m: string) => deps.logger.debug(m, { component: 'cron' }),
    warn: (m: string) => deps.logger.warn(m, { component: 'cron' }),
    error: (m: string | Error) => deps.logger.error(String(m instanceof Error ? m.message : m), { component: 'cron' }),
    debug: () => undefined,
  };
  return {
    start() {
      if (started) return;
      started = true;
      for (const integration of deps.integrations) {
        const task = cron.createTask(
          integration.schedule.cron,
          (ctx) => {
            const scheduledFor = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000);
            deps.onSlot(integration, scheduledFor).catch((err: unknown) => {
              deps.logger.error('slot handling failed', { integration: integration.id, error: (err as Error).message });
            });
          },
          { timezone: integration.schedule.timezone, name: integration.id, logger: cronLogger },
        );
        tasks.push(task);
        void task.start();
      }
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(tasks.map(async (t) => t.destroy()));
        tasks.length = 0;
      })();
      return stopping;
    },
  };
}

/** The next fire times of a schedule, computed by the same library that fires them. */
export function nextFireTimes(schedule: { cron: string; timezone: string }, count: number): Date[] {
  const task = cron.createTask(schedule.cron, () => undefined, { timezone: schedule.timezone });
  try {
    return task.getNextRuns(count);
  } finally {
    void task.destroy();
  }
}
