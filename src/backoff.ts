/** Retry delays: exponential growth with jitter, capped. */

export interface IBackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  initialMs: number;
  /** Largest delay ever waited, in ms. */
  maxMs: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry).
 *
 * "Equal jitter": half of the exponential ceiling is fixed, half random. The
 * fixed half guarantees that a failing server is not hammered; the random half
 * spreads a classroom of browsers so that they do not all retry in the same
 * second when the server comes back.
 */
export function backoffDelay(
  attempt: number,
  options: IBackoffOptions,
  random: () => number = Math.random
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return ceiling / 2 + (random() * ceiling) / 2;
}
