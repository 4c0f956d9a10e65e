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
