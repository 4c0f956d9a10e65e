/**
 * `Releasing.releasing`: give back a held lock for the duration of an effect, take it again afterwards. A Throttle
 * (any backend) is recognised by its brand; anything else must be an Effect `Semaphore` (Effect gives semaphores
 * no brand, so their two methods are checked).
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Releasing from "../Releasing.js"
import type { Throttle } from "../Throttle.js"
import * as check from "./options.js"
import { isThrottle } from "./throttleBackend.js"

/** See `Releasing.LockNotHeldError`. */
export class LockNotHeldError extends Data.TaggedError("LockNotHeldError")<{
  /** The permits `releasing` was asked to give back. */
  readonly permits: number
  /** The permits in flight on the throttle at that moment. */
  readonly inFlight: number
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Cannot release ${this.permits} permit(s) of a lock that is not held: ${this.inFlight} in flight`
  }
}

const isSemaphore = (u: unknown): u is Effect.Semaphore =>
  typeof u === "object" && u !== null && typeof (u as Effect.Semaphore).take === "function" &&
  typeof (u as Effect.Semaphore).release === "function"

/**
 * Gives back `permits` with `giveBack`, runs `self` (interruptible), then takes them again with `takeBack`
 * (uninterruptible, whatever the outcome of `self`), and ends with the outcome of `self` — or with the error of
 * `takeBack`, when a store-backed throttle could not take them again.
 */
const around = <A, E, R, E1, E2>(
  giveBack: Effect.Effect<void, E1>,
  takeBack: Effect.Effect<void, E2>,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | E1 | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(
      giveBack,
      Effect.flatMap(Effect.exit(restore(self)), (exit) => Effect.zipRight(takeBack, exit))
    )
  )

/** `Releasing.releasing`. */
export const releasing = (
  lock: Releasing.Lock,
  permits: number = 1
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockNotHeldError, R> =>
  Effect.suspend((): Effect.Effect<A, E | LockNotHeldError, R> => {
    const invalid = check.int(permits, "permits", 1)
    if (invalid !== undefined) return check.die(invalid)
    if (isThrottle(lock)) {
      // Typed as the in-memory service: a store error of another backend passes through as it is.
      const throttle = lock as Throttle.Service
      const giveBack = Effect.catchTag(
        throttle.release(permits),
        "ThrottleReleaseError",
        (error) => Effect.fail(new LockNotHeldError({ permits, inFlight: error.inFlight }))
      )
      return around(giveBack, throttle.acquire(permits), self)
    }
    if (isSemaphore(lock)) return around(lock.release(permits), lock.take(permits), self)
    return check.die(check.expected("lock to be a Throttle service or an Effect Semaphore", lock))
  })
