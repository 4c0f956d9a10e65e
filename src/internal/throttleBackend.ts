/**
 * The backend seam of the Throttle: the brand, and `makeWith`, which derives a full service from a small backend
 * (acquire, release, tryAcquire, attempt, pause, stats) the way `HttpClient.makeWith` derives every method from
 * `execute`. A backend may pass its own derived members (the in-memory one keeps its allocation-free fast path).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Throttle } from "../Throttle.js"
import * as check from "./options.js"
import type { ThrottleReleaseError, ThrottleTimeoutError } from "./throttleErrors.js"

/** The brand of every Throttle service. */
export const TypeId: unique symbol = Symbol.for("effect-throttles/Throttle") as never

/** Whether `u` is a Throttle service of any backend. */
export const isThrottle = (u: unknown): u is Throttle.Service<unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/** The largest `n` a single acquisition may ask for: the smallest limit, or `maxConcurrent` if lower. */
export const maxPermits = (rates: Throttle.Backend<unknown>["rates"], maxConcurrent: number): number => {
  let min = maxConcurrent
  for (const rate of rates) if (rate.limit < min) min = rate.limit
  return min
}

/** The "Expected X, got Y" message of a bad permit count, or `undefined`. */
export const checkPermits = (
  n: unknown,
  max: number,
  maxConcurrent: number
): string | undefined =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && n <= max
    ? undefined
    : check.expected(
      `permits to be an integer from 1 to ${max} (the throttle's ${maxConcurrent === max ? "maxConcurrent" : "limit"})`,
      n
    )

/**
 * Decodes `maxWait`: `undefined` for no deadline (absent, or infinite), a Duration, or the message of a bad value
 * (negative, not a duration).
 */
export const decodeMaxWait = (
  options: Throttle.AcquireOptions | undefined
): Duration.Duration | undefined | string => {
  const input = options?.maxWait
  if (input === undefined) return undefined
  const decoded = check.duration(input, "maxWait", { allowZero: true, allowInfinite: true })
  if (typeof decoded === "string") return decoded
  return Duration.isFinite(decoded) ? decoded : undefined
}

type Derived<E> = Pick<Throttle.Service<E>, "withPermit" | "withPermits" | "throttled" | "locked">

/** Builds a full service from a backend; see `Throttle.makeWith`. */
export const makeWith = <E>(backend: Throttle.Backend<E> & Partial<Derived<E>>): Throttle.Service<E> => {
  const max = maxPermits(backend.rates, backend.maxConcurrent)

  const acquire = (n: number = 1, options?: Throttle.AcquireOptions): Effect.Effect<void, E | ThrottleTimeoutError> =>
    Effect.suspend(() => {
      const invalid = checkPermits(n, max, backend.maxConcurrent)
      if (invalid !== undefined) return check.die(invalid)
      const maxWait = decodeMaxWait(options)
      if (typeof maxWait === "string") return check.die(maxWait)
      return backend.acquire(n, maxWait)
    })

  const release = (n: number = 1): Effect.Effect<void, E | ThrottleReleaseError> =>
    Effect.suspend(() =>
      typeof n === "number" && Number.isSafeInteger(n) && n >= 1
        ? backend.release(n)
        : check.die(check.expected("permits to be an integer >= 1", n))
    )

  const withPermits = backend.withPermits ?? ((n: number, options?: Throttle.AcquireOptions) =>
  <A, E1, R>(self: Effect.Effect<A, E1, R>): Effect.Effect<A, E | E1 | ThrottleTimeoutError, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        restore(acquire(n, options)),
        () => Effect.ensuring(restore(self), Effect.ignore(backend.release(n)))
      )
    )) as Throttle.Service<E>["withPermits"]

  const withPermit = backend.withPermit ??
    (<A, E1, R>(self: Effect.Effect<A, E1, R>, options?: Throttle.AcquireOptions) =>
      withPermits(1, options ?? {})(self)) as Throttle.Service<E>["withPermit"]

  const tryAcquire = (n: number = 1): Effect.Effect<boolean, E> =>
    Effect.suspend(() => {
      const invalid = checkPermits(n, max, backend.maxConcurrent)
      return invalid !== undefined ? check.die(invalid) : backend.tryAcquire(n)
    })

  const attempt = (n: number = 1): Effect.Effect<Throttle.Decision, E> =>
    Effect.suspend(() => {
      const invalid = checkPermits(n, max, backend.maxConcurrent)
      return invalid !== undefined ? check.die(invalid) : backend.attempt(n)
    })

  const pause = (duration: Duration.DurationInput): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      const decoded = check.duration(duration, "pause duration", { allowZero: true })
      return typeof decoded === "string" ? check.die(decoded) : backend.pause(decoded)
    })

  const locked = backend.locked ?? Effect.map(backend.stats, (stats) => stats.available < 1)

  const throttled = backend.throttled ??
    (<Args extends ReadonlyArray<unknown>, A, E1, R>(f: (...args: Args) => Effect.Effect<A, E1, R>) =>
    (...args: Args): Effect.Effect<A, E | E1, R> => withPermit(Effect.suspend(() => f(...args))))

  return {
    [TypeId]: TypeId,
    name: backend.name,
    rate: backend.rates[0],
    rates: backend.rates,
    measure: backend.measure,
    smooth: backend.burst > 0,
    burst: backend.burst,
    maxConcurrent: backend.maxConcurrent,
    acquire: acquire as Throttle.Service<E>["acquire"],
    release,
    withPermit,
    withPermits,
    tryAcquire,
    attempt,
    pause,
    locked,
    stats: backend.stats,
    throttled,
    events: backend.events ?? Stream.empty
  }
}
