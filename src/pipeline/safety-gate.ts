import type { Integration } from '../config/model.js';

/**
 * The roster safety gate. Vendors treat a student missing from a roster as deleted, so a file that falls by more than
 * the integration's `safety.maxRowDrop` against the last delivered file (an empty one included) is held for a person
 * to look at instead of overwriting the vendor's copy. A file that grows by more than `safety.maxRowGrowth` is held
 * too: a roster that suddenly grows is usually a wider scope (more grades, inactive students, another building) than
 * the vendor's agreement covers.
 */
export interface PreviousDelivery {
  readonly runId: number;
  readonly rows: number;
}

export interface HoldDecision {
  readonly rows: number;
  readonly previousRows: number;
  readonly previousRunId: number;
  /** Which limit the file went past. */
  readonly direction: 'drop' | 'growth';
  /** The change in rows as a fraction of the previous delivery: the fall for a drop (1 = empty), the rise for growth. */
  readonly change: number;
  /** `safety.maxRowDrop` or `safety.maxRowGrowth`, whichever was passed. */
  readonly limit: number;
  /** One sentence for the run record and the CLI. */
  readonly reason: string;
}

/** Null when the file may go out: the gate is off, nothing was delivered before, or the change is within the limits. */
export function checkRowChange(integration: Pick<Integration, 'safety'>, runId: number, rows: number, previous: PreviousDelivery | null | undefined): HoldDecision | null {
  const gate = integration.safety;
  // Growth from an empty delivery has no proportion; the first real roster after an allowed empty one goes out.
  if (!gate || !previous || previous.rows <= 0) return null;
  const change = (rows - previous.rows) / previous.rows;
  const n = (x: number) => x.toLocaleString('en-US');
  const held = (direction: 'drop' | 'growth', by: number, limit: number, setting: string): HoldDecision => ({
    rows,
    previousRows: previous.rows,
    previousRunId: previous.runId,
    direction,
    change: by,
    limit,
    reason:
      `held: ${n(rows)} rows against ${n(previous.rows)} in run ${previous.runId} ` +
      `(a ${percent(by, limit)} ${direction === 'drop' ? 'drop' : 'rise'}, over the ${percent(limit)} limit${setting}); release with ferry release ${runId}`,
  });
  if (gate.maxRowDrop !== null && -change > gate.maxRowDrop) return held('drop', -change, gate.maxRowDrop, '');
  if (gate.maxRowGrowth !== null && change > gate.maxRowGrowth) return held('growth', change, gate.maxRowGrowth, ' of safety.maxRowGrowth');
  return null;
}

/** Whole percents, unless rounding would hide how a change compares with its limit (10.4% over a 10% limit). */
function percent(x: number, limit?: number): string {
  const whole = Math.round(x * 100);
  return limit !== undefined && whole > Math.round(limit * 100) ? `${whole}%` : `${Number((x * 100).toFixed(1))}%`;
}
