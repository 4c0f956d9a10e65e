/**
 * The Throttle's errors, defined here and re-exported by `Throttle.ts` (so that internal modules never import the
 * public one at run time).
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** Released more permits than are in flight (aiothrottles' "released too many times"). */
export class ThrottleReleaseError extends Data.TaggedError("ThrottleReleaseError")<{
  /** Permits the caller tried to release. */
  readonly requested: number
  /** Permits acquired and not yet released at that moment. */
  readonly inFlight: number
}> {
  override get message(): string {
    return `Throttle released too many times: release(${this.requested}) with ${this.inFlight} permit(s) in flight`
  }
}

/**
 * The permits could not be granted within the caller's `maxWait`. `waited` is how long the caller waited (zero
 * when the wait was known to be too long on arrival); `retryAfter` the projected time, from the failure, until the
 * permits could be granted (a lower bound when only a release can free room).
 */
export class ThrottleTimeoutError extends Data.TaggedError("ThrottleTimeoutError")<{
  /** The throttle's name. */
  readonly key: string
  /** Permits asked for. */
  readonly permits: number
  /** The caller's `maxWait`. */
  readonly maxWait: Duration.Duration
  /** How long the caller waited before failing. */
  readonly waited: Duration.Duration
  /** When the permits could be granted, counted from the failure (a lower bound). */
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Throttle "${this.key}": ${this.permits} permit(s) not granted within maxWait ${
      Duration.format(this.maxWait)
    } (waited ${Duration.format(this.waited)}, retry after ${Duration.format(this.retryAfter)})`
  }
}

/** The throttle's store (Redis) did not answer in time or failed, under `onStoreError: "fail"`. */
export class ThrottleStoreError extends Data.TaggedError("ThrottleStoreError")<{
  /** The throttle's key in the store. */
  readonly key: string
  /** What the store said (an error, or a timeout). */
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Throttle store failed for key "${this.key}": ${cause}`
  }
}
