import { FerryError } from '../../core/errors.js';
import { dateInZone } from '../../config/params.js';
import { recordReview, reviewsDue, type ReviewDue } from '../../governance/reviews.js';
import { currentUser, findIntegration, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { formatInZone, localZone, table } from '../output.js';

export const DEFAULT_REVIEW_WINDOW_DAYS = 30;

/**
 * `ferry review due [--district D] [--days N] [--json]`: the summer clean-up list. Integrations whose yearly review is
 * overdue, due, or due within N days (or has no known date), each with its last delivery and whether anything was
 * delivered in the last N days: nothing delivered in a month is the strongest hint an integration is no longer needed.
 */
export async function cmdReviewDue(opts: GlobalOptions & { district?: string; days?: number; json?: boolean }, io: Io): Promise<number> {
  const withinDays = opts.days ?? DEFAULT_REVIEW_WINDOW_DAYS;
  return withRuntime(opts, async (rt) => {
    if (opts.district !== undefined && !rt.config.districts.has(opts.district)) {
      const known = [...rt.config.districts.keys()];
      throw new FerryError('config', `unknown district "${opts.district}" (known: ${known.join(', ') || 'none'})`, { field: 'district' });
    }
    const now = rt.clock.now();
    const [due, states] = await Promise.all([reviewsDue(rt.config, rt.store, now, { withinDays, district: opts.district }), rt.store.getStates()]);
    const enabled = (d: ReviewDue) => states.get(d.integration.id)?.enabled ?? d.integration.enabled;
    if (opts.json) {
      io.out(
        JSON.stringify(
          due.map((d) => ({
            integration: d.integration.id,
            district: d.integration.district.id,
            vendor: d.integration.inventory.vendor,
            enabled: enabled(d),
            reviewDate: d.date,
            basis: d.basis,
            state: d.state,
            days: d.days,
            lastReview: d.lastReview ? { at: d.lastReview.reviewedAt.toISOString(), by: d.lastReview.reviewedBy, note: d.lastReview.note, ticket: d.lastReview.ticket } : null,
            lastDelivery: d.lastDelivery ? { runId: d.lastDelivery.id, at: (d.lastDelivery.deliveredAt ?? d.lastDelivery.finishedAt)?.toISOString() ?? null, remotePath: d.lastDelivery.remotePath } : null,
            deliveredWithinDays: withinDays,
            deliveredRecently: d.deliveredRecently,
          })),
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    const today = dateInZone(now, localZone());
    const where = opts.district ? ` for ${opts.district}` : '';
    if (due.length === 0) {
      io.out(`No yearly review is overdue or due within ${withinDays} days${where} (as of ${today}).\n`);
      return 0;
    }
    io.out(`Yearly reviews overdue or due within ${withinDays} days${where} (as of ${today}):\n`);
    io.out(
      table(
        ['INTEGRATION', 'DISTRICT', 'VENDOR', 'REVIEW', 'LAST DELIVERY', `LAST ${withinDays} DAYS`],
        due.map((d) => [
          `${d.integration.id}${enabled(d) ? '' : ' (disabled)'}`,
          d.integration.district.id,
          d.integration.inventory.vendor,
          reviewText(d),
          d.lastDelivery ? `${formatInZone(d.lastDelivery.deliveredAt ?? d.lastDelivery.finishedAt, d.integration.schedule.timezone)} (run ${d.lastDelivery.id})` : 'never',
          d.deliveredRecently ? 'delivered' : `nothing delivered in ${withinDays} days`,
        ]),
      ),
    );
    io.out('Once reviewed with the district: ferry review confirm <integration> --note "…" [--ticket T]; no longer needed: ferry disable <integration> --reason "…"\n');
    return 0;
  });
}

function reviewText(d: ReviewDue): string {
  const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;
  switch (d.state) {
    case 'overdue':
      return `overdue: was due ${d.date} (${days(-d.days!)} ago)`;
    case 'due':
      return `due today (${d.date})`;
    case 'soon':
    case 'later':
      return `due ${d.date} (in ${days(d.days!)})`;
    case 'unknown':
      return 'no date: no inventory.startDate and never reviewed';
  }
}

/**
 * `ferry review confirm <integration> --note "…" [--ticket T]`: a person records that the integration was reviewed
 * with its district and is still needed; the next review falls due a year (reviewEveryMonths) later.
 */
export async function cmdReviewConfirm(id: string, opts: GlobalOptions & { note?: string; ticket?: string }, io: Io): Promise<number> {
  const note = opts.note?.trim();
  if (!note) throw new FerryError('params', 'review confirm needs --note "…" (what was agreed with the district; it is recorded)', { field: 'note' });
  const ticket = opts.ticket?.trim() || null;
  return withRuntime(opts, async (rt) => {
    const integration = findIntegration(rt, id);
    const by = currentUser();
    // Audited first: a review the audit log cannot take is not recorded.
    await rt.audit.append({ who: by, action: 'review', integration: id, district: integration.district.id, what: `confirmed the yearly review of ${id}`, why: note, ticket });
    const review = await recordReview(rt.store, integration, { by, note, ticket, at: rt.clock.now() });
    rt.logger.info('review recorded', { integration: id, by, reviewId: review.id, ticket, nextReview: review.nextReview });
    io.out(`${id} reviewed by ${by}${ticket ? ` (ticket ${ticket})` : ''}: ${note}\nNext review due ${review.nextReview}.\n`);
    return 0;
  });
}
