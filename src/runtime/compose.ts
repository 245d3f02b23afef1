import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import type { EventBus } from '../core/events.js';
import type { Source } from '../core/source.js';
import type { FerryConfig, Integration } from '../config/model.js';
import type { RunLogCollector } from '../logging/logger.js';
import { createRuns, type Runs } from '../runs/lifecycle.js';
import { createLimiter, type Limiter } from '../runs/limiter.js';
import { createQueueWorker, type QueueWorker } from '../scheduler/queue-worker.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import type { RunStore } from '../store/run-store.js';

/**
 * The one place the parts of run handling are wired together: the run lifecycle, the scheduler and the queue
 * worker. The daemon, the CLI (through openRuntime), the tests and the benchmark all build them here, so none of them
 * wires the daemon by hand and what they test is what runs.
 */
export interface Core {
  config: () => FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  clock: Clock;
  bus?: EventBus | undefined;
  /** Tests: a fixed lease owner, known jitter, servers of their own. */
  leaseOwner?: string;
  random?: () => number;
  limiter?: Limiter;
  openSource?: (integration: Integration) => Source;
  openDestination?: (integration: Integration, logger: Logger) => Destination;
}

export interface Composed {
  runs: Runs;
  scheduler: Scheduler;
  worker: QueueWorker;
  limiter: Limiter;
}

export function compose(core: Core): Composed {
  const { config, bus } = core;
  const limiter = core.limiter ?? createLimiter(config().concurrency.global, (waiting) => bus?.emit({ type: 'queue.changed', waiting }));
  const runs = createRuns({
    config,
    store: core.store,
    logger: core.logger,
    collector: core.collector,
    limiter,
    clock: core.clock,
    bus,
    ...(core.leaseOwner ? { leaseOwner: core.leaseOwner } : {}),
    ...(core.random ? { random: core.random } : {}),
    ...(core.openSource ? { openSource: core.openSource } : {}),
    ...(core.openDestination ? { openDestination: core.openDestination } : {}),
  });
  const worker = createQueueWorker({ runs, logger: core.logger, capacity: () => config().concurrency.global });
  const scheduler = createScheduler({
    integrations: () => config().integrations.values(),
    store: core.store,
    runs,
    clock: core.clock,
    logger: core.logger,
    bus,
    misfireWindowMs: config().scheduler.misfireWindowHours * 3_600_000,
    maxInFlight: () => config().concurrency.global,
    afterRun: (integration) => worker.pollOnce(integration.id).then((r) => r.done),
  });
  return { runs, scheduler, worker, limiter };
}
