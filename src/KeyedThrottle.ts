/**
 * KeyedThrottle: one throttle per key — per host, per user, per API token — created on first use and dropped once
 * it has been truly idle for `idleTimeToLive`, so memory stays bounded by the keys in use.
 *
 * The surprise first: a key is not dropped when its last caller finishes, but `idleTimeToLive` after the moment
 * its throttle is *truly* idle — nobody waiting, nothing in flight, every window empty (and no pause or smooth
 * schedule pending). Dropping it earlier would forget the grants still counting in its windows, and a fresh
 * throttle for the same key would admit too many. With `"10/s"` and the default `idleTimeToLive` of one minute, a
 * key last used at t = 5 s (a one-second task) is idle from 6 s (its release; its window emptied at 6 s) and is
 * dropped at 66 s; used again before that, it keeps its state.
 *
 * Each key's throttle is an in-memory {@link Throttle} with the same guarantees (exact sliding windows, FIFO,
 * interruption safety); keys are independent. Keys compare by `Equal`: strings, numbers, and `Data` values
 * (`Data.struct({ tenant, region })`) work as keys; other objects compare by identity.
 *
 * Cost: an operation on a live key is one map lookup and the throttle's own work, in one uninterruptible region;
 * letting go of the key reads the clock once. A key's creation allocates its throttle's state (no scope, no
 * metric lookups: the metrics are per keyed throttle). One background fiber sleeps until the next key may be
 * dropped (a binary heap of the keys nobody uses: one heap operation per key per `idleTimeToLive`, however many
 * operations the key serves), and looks at a key's windows only then.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as KeyedThrottle from "effect-throttles/KeyedThrottle"
 *
 * const program = Effect.gen(function*() {
 *   const perHost = yield* KeyedThrottle.make({ rate: (host: string) => (host === "api.github.com" ? "10/s" : "2/s") })
 *   yield* perHost.withPermit("api.github.com")(Effect.log("call GitHub")) // does not wait for the other hosts
 * })
 * ```
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/keyedThrottle.js"
import type { ThrottleReleaseError, ThrottleTimeoutError } from "./internal/throttleErrors.js"
import type { Checked, ErrorOf, InvalidRateError, Rate, RatesInput, RateString } from "./Rate.js"
import type { Throttle } from "./Throttle.js"

/**
 * The brand of a keyed throttle.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Whether `u` is a keyed throttle.
 *
 * @since 0.2.0
 * @category guards
 */
export const isKeyedThrottle: (u: unknown) => u is KeyedThrottle<unknown, unknown, unknown> = internal.isKeyedThrottle

/**
 * One throttle per key. `K` is the key type; `E` the error a key's first use can fail with: `InvalidRateError`
 * when the rate function may return a bad rate (a `string`, say), `never` for a constant rate or one the compiler
 * checked. `S` is the error of a key's throttle itself (its `Throttle.Service<S>`): `never` in memory, and for a
 * Redis keyed throttle unless it was made with `onStoreError: "fail"` (then `ThrottleStoreError`).
 *
 * @since 0.2.0
 * @category models
 */
export interface KeyedThrottle<in K, out E = never, out S = never> {
  readonly [TypeId]: TypeId
  /** How long a key is kept after it became truly idle. */
  readonly idleTimeToLive: Duration.Duration
  /**
   * The key's throttle, kept (not dropped) while the scope is open — for the operations not listed here
   * (`acquire`/`release`, `tryAcquire`, `stats`, `events`). Keep the handle inside that scope: used after it,
   * it may be a throttle the keyed throttle has since dropped.
   */
  readonly get: (key: K) => Effect.Effect<Throttle.Service<S>, E, Scope.Scope>
  /** Runs `self` holding one permit of the key's throttle, released on any exit. */
  readonly withPermit: {
    (key: K): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1 | S, R>
    (
      key: K,
      options: Throttle.AcquireOptions
    ): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1 | S | ThrottleTimeoutError, R>
  }
  /** Runs `self` holding `n` permits of the key's throttle, released on any exit. */
  readonly withPermits: {
    (key: K, n: number): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1 | S, R>
    (
      key: K,
      n: number,
      options: Throttle.AcquireOptions
    ): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1 | S | ThrottleTimeoutError, R>
  }
  /**
   * Decides now for the key, never waits (see `Throttle.Service.attempt`). Granted permits are in flight until
   * given back with {@link KeyedThrottle.release}; the key is kept until then.
   */
  readonly attempt: (key: K, n?: number) => Effect.Effect<Throttle.Decision, E | S>
  /**
   * Gives back `n` permits (default 1) taken by `attempt`. Fails with `ThrottleReleaseError` when the key has fewer
   * in flight (a key that is not live has none).
   */
  readonly release: (key: K, n?: number) => Effect.Effect<void, ThrottleReleaseError | S>
  /** No grant for the key before `now + duration` ("the server said wait"); other keys are unaffected. */
  readonly pause: (key: K, duration: Duration.DurationInput) => Effect.Effect<void, E | S>
  /** The number of live keys (created and not dropped yet). */
  readonly size: Effect.Effect<number>
}

/**
 * @since 0.2.0
 */
export declare namespace KeyedThrottle {
  /**
   * Options of {@link make}.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Options<R> {
    /**
     * The rate of every key (`"10/s"`, `["4/s", "60/min"]`, …), or a function giving each key its rate, called
     * once when the key's throttle is created (again if it is created anew after being dropped). A function that
     * returns a bad rate fails that call with `InvalidRateError` (the other keys are unaffected); one that throws
     * is a defect naming the key.
     */
    readonly rate: R
    /** Options of every key's throttle (`measure`, `smooth`, `maxConcurrent`, …); checked once, by `make`. */
    readonly options?: Throttle.Options | undefined
    /**
     * How long a key is kept once it is truly idle (nothing waiting, nothing in flight, every window empty).
     * A duration ≥ 0 (default `"1 minute"`); `Duration.infinity` keeps every key. With `"10 seconds"` and
     * `"1/s"`, a key granted once at t = 0 is dropped at t = 11 s (its window empties at 1 s).
     */
    readonly idleTimeToLive?: Duration.DurationInput | undefined
  }

  /**
   * The error a rate function's result can fail with: `never` for rate literals the compiler checked and `Rate`
   * values, `InvalidRateError` for anything else (a `string`, an object whose numbers are only known at run time).
   *
   * @since 0.2.0
   * @category models
   */
  export type RateErrorOf<X> = X extends string ? string extends X ? InvalidRateError
    : X extends RateString ? never
    : InvalidRateError
    : X extends ReadonlyArray<infer Y> ? RateErrorOf<Y>
    : X extends Rate ? never
    : InvalidRateError
}

/**
 * Builds a keyed throttle, scoped: when the scope closes, waiters of every key are interrupted.
 *
 * - `rate` a constant: checked once (a `string` fails `make` with `InvalidRateError`; a literal is checked by the
 *   compiler). Keys have type `unknown` unless you say otherwise (`const k: KeyedThrottle<string> = yield* …`).
 * - `rate` a function `(key: K) => rate`: the key type comes from its parameter; a bad rate it returns fails the
 *   operation on that key with `InvalidRateError` (naming the key), and is asked again on the key's next use.
 *
 * Invalid options (`options`, `idleTimeToLive`) are defects.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: {
  <K, const X extends RatesInput>(
    options: KeyedThrottle.Options<(key: K) => X>
  ): Effect.Effect<KeyedThrottle<K, KeyedThrottle.RateErrorOf<X>>, never, Scope.Scope>
  <const R extends RatesInput, K = unknown>(
    options: KeyedThrottle.Options<Checked<R>>
  ): Effect.Effect<KeyedThrottle<K>, ErrorOf<R>, Scope.Scope>
} = internal.make as any
