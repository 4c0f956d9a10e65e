/**
 * The Scheduler's pure core: the smooth rate behind `maxPerSecond`, and the size of paced admission's lookahead.
 * No Effect import; the run functions themselves (`internal/scheduler.ts`) are Effect's own concurrency plus a
 * throttle, so this is all the arithmetic there is.
 *
 * @internal
 */

/**
 * The smooth rate of `maxPerSecond: r`: `limit = max(1, ceil(r))` in `limit / r` seconds (`periodMillis`). Spacing
 * `1000 / r` ms; the window of `limit` lets the schedule catch up after a late timer on a real clock.
 * `rateOf(10)`: 10 in 1000 ms; `rateOf(0.2)`: 1 in 5000 ms; `rateOf(2.5)`: 3 in 1200 ms.
 */
export const rateOf = (maxPerSecond: number): { readonly limit: number; readonly periodMillis: number } => {
  const limit = Math.max(1, Math.ceil(maxPerSecond))
  return { limit, periodMillis: (limit * 1000) / maxPerSecond }
}

/** How many tasks paced admission keeps waiting for their `maxPerSecond` start at once (see `scheduler.ts`). */
export const PACED_LOOKAHEAD = 16
