import type { Blackout, Integration } from './model.js';
import { dateInZone } from './params.js';

/** The blackout covering a calendar day (YYYY-MM-DD), if any: blackouts are whole days, inclusive. */
export function blackoutOn(blackouts: readonly Blackout[], day: string): Blackout | undefined {
  return blackouts.find((b) => day >= b.from && day <= b.to);
}

/** The blackout that covers `at` (its date in the integration's zone), if any. */
export function blackoutNow(integration: Pick<Integration, 'blackouts' | 'schedule'>, at: Date): Blackout | undefined {
  if (integration.blackouts.length === 0) return undefined; // the scheduler asks for every slot it starts
  return blackoutOn(integration.blackouts, dateInZone(at, integration.schedule.timezone));
}
