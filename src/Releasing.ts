/**
 * Temporarily give back a lock the current fiber holds (asyncutils' `Releasing`): release on entry, re-acquire on
 * exit.
 *
 * `releasing(lock, permits)(self)` releases `permits` of `lock`, runs `self`, then acquires the same number again
 * — whatever the outcome of `self` (success, failure, defect) and also when the fiber is interrupted. Use it for
 * the slow part of a critical section that does not need the lock (a network call, waiting for another fiber
 * that needs the lock itself), so others can make progress meanwhile.
 *
 * The lock is either
 * - a `Throttle` service: the permits given back are its in-flight permits (acquired and not yet released). With
 *   fewer than `permits` in flight it fails with {@link LockNotHeldError} and does not run `self`. The check is
 *   the throttle's own atomic `release` check. Re-acquiring goes through the throttle again (it waits its turn in
 *   the FIFO queue and, for a rate, takes a new slot of the window);
 * - an Effect `Semaphore`: it cannot tell who holds it, so nothing is checked — releasing a semaphore you do not
 *   hold over-releases it.
 *
 * Re-acquiring runs uninterruptibly (as a finalizer): an interrupted fiber first waits until it holds the lock
 * again, so the enclosing `withPermit` never ends up releasing a lock it does not hold. Interruption of the fiber
 * is then reported as usual.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Releasing } from "effect-throttles"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Effect.makeSemaphore(1)
 *   yield* lock.withPermits(1)(
 *     Effect.gen(function*() {
 *       yield* Effect.log("holding the lock")
 *       yield* Releasing.releasing(lock)(Effect.log("lock given back while we wait"))
 *       yield* Effect.log("holding the lock again")
 *     })
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { LockNotHeldError } from "./internal/releasing.js"
import * as internal from "./internal/releasing.js"
import type { Throttle } from "./Throttle.js"

export {
  /**
   * `releasing` on a `Throttle` found fewer than `permits` permits in flight: there is nothing (or not enough) to
   * give back. `self` was not run and the throttle is unchanged.
   *
   * @since 0.1.0
   * @category errors
   */
  LockNotHeldError
} from "./internal/releasing.js"

/**
 * What `releasing` accepts: a `Throttle` service (of any backend, recognised by its brand, `Throttle.isThrottle`)
 * or an Effect `Semaphore`.
 *
 * @since 0.1.0
 * @category models
 */
export type Lock = Throttle.Service<any> | Effect.Semaphore

/**
 * Gives back `permits` (default 1, an integer >= 1) of `lock` for the duration of `self`, and takes them again
 * afterwards, whatever the outcome and whatever the interruption. On a `Throttle` with fewer than `permits` in
 * flight it fails with {@link LockNotHeldError} without running `self`. A bad `permits`, or a `lock` that is
 * neither a Throttle nor a Semaphore, is a defect ("Expected permits to be an integer >= 1, got ..."). On a
 * store-backed throttle whose errors are typed (`Throttle.Service<E>`), `E` is added to the result: releasing or
 * taking the permits again may fail with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Releasing, Throttle } from "effect-throttles"
 *
 * const fetchPage = Effect.succeed("<html>...</html>")
 * const parse = (page: string) => Effect.sync(() => page.length)
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make("10/s", { maxConcurrent: 2 })
 *   return yield* throttle.withPermit(
 *     Effect.gen(function*() {
 *       const page = yield* fetchPage
 *       // parse without holding the permit (LockNotHeldError if the permit were not held)
 *       return yield* Releasing.releasing(throttle)(parse(page))
 *     })
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const releasing: {
  (lock: Effect.Semaphore, permits?: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <E2 = never>(
    lock: Throttle.Service<E2>,
    permits?: number
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2 | LockNotHeldError, R>
  (lock: Lock, permits?: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LockNotHeldError, R>
} = internal.releasing as any
