/**
 * effect-throttles: flow control for Effect — exact rate limiting, schedulers, circuit breakers, adaptive
 * throttles and barriers.
 *
 * @since 0.1.0
 */

/** Rates: `"3/s"`, `"1/3s"`, `{ limit, period }`. @since 0.1.0 */
export * as Rate from "./Rate.js"

/** The `InvalidRateError` of a bad rate. @since 0.1.0 */
export { InvalidRateError } from "./Rate.js"

/** The exact sliding-window rate limiter service, its layer and its release error. @since 0.1.0 */
export { Throttle, ThrottleLive, ThrottleReleaseError } from "./Throttle.js"

/** Stateful cyclic barrier (asyncutils StatefulBarrier) and its errors. @since 0.1.0 */
export { Barrier, BarrierBrokenError, type BarrierBrokenReason, BarrierTimeoutError } from "./Barrier.js"

/** Fail-fast resource guards (one per object with UniqueResourceGuard). @since 0.1.0 */
export { ResourceBusyError, ResourceGuard, UniqueResourceGuard } from "./ResourceGuard.js"

/** Give back a held Throttle/Semaphore permit for the duration of an effect. @since 0.1.0 */
export * as Releasing from "./Releasing.js"

/** The error of releasing a lock the fiber does not hold. @since 0.1.0 */
export { LockNotHeldError } from "./Releasing.js"

/** Circuit breaker (consecutive or failure-rate/slow-call policy) and its rejection error. @since 0.1.0 */
export { CircuitBreaker, CircuitOpenError } from "./CircuitBreaker.js"

/** Adaptive throttle: 1/rate spacing with jitter, adapts per window of outcomes, reportThrottled. @since 0.1.0 */
export { DynamicThrottle } from "./DynamicThrottle.js"

/** aiometer-style runs: runEach / runAll / amap / runAny with maxAtOnce, maxPerSecond, throttle. @since 0.1.0 */
export * as Scheduler from "./Scheduler.js"

/** The error of `Scheduler.runAny` when every task failed. @since 0.1.0 */
export { RunAnyError } from "./Scheduler.js"

/** A throttled work queue with retry-on-throttled and a full summary (asyncio_throttler). @since 0.1.0 */
export * as TaskThrottler from "./TaskThrottler.js"

/** The error a TaskThrottler task fails with to ask for a retry later. @since 0.1.0 */
export { ThrottledError } from "./TaskThrottler.js"

/** One throttle per key (per host, user, token), dropped once truly idle. @since 0.2.0 */
export * as KeyedThrottle from "./KeyedThrottle.js"
