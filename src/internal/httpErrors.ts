/**
 * The error of `effect-throttles/http`, apart so that the internal modules and the public one share one class.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** A request still answered "throttled" after its last retry; the `cause` of the `ResponseError`. */
export class HttpRateLimitedError extends Data.TaggedError("HttpRateLimitedError")<{
  /** The throttle key of the request (by default the URL's host). */
  readonly key: string
  /** The last status received (429, 503, or another of `retryOn`). */
  readonly status: number
  /** How long the server asked to wait after the last answer (the default pause when it did not say). */
  readonly retryAfter: Duration.Duration
  /** Requests sent, the first one included. */
  readonly attempts: number
}> {
  override get message(): string {
    return `rate limited by ${JSON.stringify(this.key)}: status ${this.status} after ${this.attempts} attempt${
      this.attempts === 1 ? "" : "s"
    }, retry after ${Duration.format(this.retryAfter)}`
  }
}
