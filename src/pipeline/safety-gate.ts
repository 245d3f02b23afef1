import type { Integration } from '../config/model.js';

/**
 * The roster safety gate. Vendors treat a student missing from a roster as deleted, so a file that falls by more than
 * the integration's `safety.maxRowDrop` against the last delivered file (an empty one included) is held for a person
 * to look at instead of overwriting the vendor's copy.
 */
export interface PreviousDelivery {
  readonly runId: number;
  readonly rows: number;
}

export interface HoldDecision {
  readonly rows: number;
  readonly previousRows: number;
  readonly previousRunId: number;
  /** The fall in rows, as a fraction of the previous delivery (1 = empty). */
  readonly drop: number;
  readonly maxRowDrop: number;
  /** One sentence for the run record and the CLI. */
  readonly reason: string;
}

/** Null when the file may go out: the gate is off, nothing was delivered before, or the fall is within the limit. */
export function checkRowDrop(integration: Pick<Integration, 'safety'>, runId: number, rows: number, previous: PreviousDelivery | null | undefined): HoldDecision | null {
  const limit = integration.safety?.maxRowDrop;
  if (limit === undefined || !previous || previous.rows <= 0) return null;
  const drop = (previous.rows - rows) / previous.rows;
  if (!(drop > limit)) return null;
  const n = (x: number) => x.toLocaleString('en-US');
  return {
    rows,
    previousRows: previous.rows,
    previousRunId: previous.runId,
    drop,
    maxRowDrop: limit,
    reason:
      `held: ${n(rows)} rows against ${n(previous.rows)} in run ${previous.runId} ` +
      `(a ${percent(drop, limit)} drop, over the ${percent(limit)} limit); release with ferry release ${runId}`,
  };
}

/** Whole percents, unless rounding would hide how a drop compares with its limit (10.4% over a 10% limit). */
function percent(x: number, limit?: number): string {
  const whole = Math.round(x * 100);
  return limit !== undefined && whole > Math.round(limit * 100) ? `${whole}%` : `${Number((x * 100).toFixed(1))}%`;
}
