import { FerryError } from '../src/core/errors.js';

/**
 * The one error every source ends with when the run's signal fires: kind `aborted`, so the run is recorded as
 * interrupted, not failed. The signal's reason (a shutdown, a timeout) is kept as cause.
 */
export function abortedError(signal: AbortSignal, who: string, integration: string | undefined): FerryError {
  return new FerryError('aborted', `${who}: the read was stopped before it finished`, { integration, cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined, who: string, integration: string | undefined): void {
  if (signal?.aborted) throw abortedError(signal, who, integration);
}
