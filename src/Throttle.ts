/**
 * Throttle: an exact sliding-window rate limiter as an Effect service (aiothrottles' `Throttle("3/s")` and
 * asyncio-throttle's `Throttler(rate_limit, period)`).
 *
 * Algorithm: a sliding log of grants, run-length encoded. In every half-open window `[t, t + period)` at most
 * `limit` permits are granted (weights counted); a permit granted at `t` frees its slot at exactly `t + period`, so
 * `"1/s"` grants at 0, 1000, 2000 ms and `"3/s"` with 8 callers grants at 0,0,0, 1000,1000,1000, 2000,2000.
 * Waiters are served strictly first-in first-out; only the head of the queue holds a timer, set for exactly the
 * instant its permits are due. Every operation is O(1) amortized, whatever the number of waiters.
 *
 * Which operation when:
 * - `withPermit(effect)` / `withPermits(n)(effect)` — the usual form (aiothrottles' `async with`): acquire, run,
 *   release on any exit, including interruption.
 * - `throttled(f)` — wrap a function so every call goes through the throttle (aiothrottles' decorator).
 * - `acquire(n)` / `release(n)` — when acquiring and releasing happen in different places.
 * - `tryAcquire(n)` — never waits; `false` when the permits are not free now or others are already queued.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Throttle, ThrottleLive } from "effect-throttles"
 *
 * const program = Effect.gen(function*() {
 *   yield* Effect.forEach([1, 2, 3, 4], (i) => Throttle.withPermit(Effect.log(`call ${i}`)), { concurrency: "unbounded" })
 * })
 * program.pipe(Effect.provide(ThrottleLive("3/s")), Effect.runPromise) // 3 calls now, the 4th after 1 s
 * ```
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/throttle.js"
import type { Checked, InvalidRateError, Rate, RateInput } from "./Rate.js"

/**
 * Released more permits than are in flight (aiothrottles' "released too many times").
 *
 * @since 0.1.0
 * @category errors
 */
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
 * The `Throttle` service. The in-memory implementation is {@link Throttle.make}; other backends (a Redis layer,
 * say) provide the same interface.
 *
 * @since 0.1.0
 * @category tags
 */
export class Throttle extends Context.Tag("effect-throttles/Throttle")<Throttle, Throttle.Service>() {
  /**
   * Builds an in-memory throttle. Fails with `InvalidRateError` for a bad rate; invalid options are defects.
   * Waiters still queued when the scope closes are interrupted.
   *
   * @since 0.1.0
   */
  static readonly make: <const R extends RateInput>(
    rate: Checked<R>,
    options?: Throttle.Options
  ) => Effect.Effect<Throttle.Service, InvalidRateError, Scope.Scope> = (rate, options) =>
    internal.make(rate as RateInput, options)

  /**
   * A layer providing an in-memory throttle: `Effect.provide(Throttle.layer("3/s"))`. Same as {@link ThrottleLive}.
   *
   * @since 0.1.0
   */
  static readonly layer = <const R extends RateInput>(
    rate: Checked<R>,
    options?: Throttle.Options
  ): Layer.Layer<Throttle, InvalidRateError> => Layer.scoped(Throttle, internal.make(rate as RateInput, options))

  /**
   * A layer whose rate is read from `Config`, e.g. `Throttle.layerConfig(Config.string("API_RATE"))`.
   *
   * @since 0.1.0
   */
  static readonly layerConfig = (
    rate: Config.Config<RateInput>,
    options?: Throttle.Options
  ): Layer.Layer<Throttle, InvalidRateError | ConfigError.ConfigError> =>
    Layer.scoped(Throttle, Effect.flatMap(rate, (input) => internal.make(input, options)))

  /** Acquire `n` permits (default 1) from the throttle in context, waiting as long as needed. @since 0.1.0 */
  static readonly acquire = (n?: number): Effect.Effect<void, never, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.acquire(n))

  /** Release `n` permits (default 1) to the throttle in context. @since 0.1.0 */
  static readonly release = (n?: number): Effect.Effect<void, ThrottleReleaseError, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.release(n))

  /** Run `self` holding one permit of the throttle in context. @since 0.1.0 */
  static readonly withPermit = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Throttle> =>
    Effect.flatMap(Throttle, (t) => t.withPermit(self))

  /** Run `self` holding `n` permits of the throttle in context. @since 0.1.0 */
  static readonly withPermits =
    (n: number) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Throttle> =>
      Effect.flatMap(Throttle, (t) => t.withPermits(n)(self))

  /** Take `n` permits now if free and nobody waits; never waits. @since 0.1.0 */
  static readonly tryAcquire = (n?: number): Effect.Effect<boolean, never, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.tryAcquire(n))

  /** Whether `acquire()` would wait now. @since 0.1.0 */
  static readonly locked: Effect.Effect<boolean, never, Throttle> = Effect.flatMap(Throttle, (t) => t.locked)

  /** A snapshot of the throttle in context. @since 0.1.0 */
  static readonly stats: Effect.Effect<Throttle.Stats, never, Throttle> = Effect.flatMap(Throttle, (t) => t.stats)
}

/**
 * @since 0.1.0
 */
export declare namespace Throttle {
  /**
   * Options of a throttle.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options {
    /**
     * What a slot of the window measures.
     * - `"start"` (default): a slot is held for `period` from the grant — at most `limit` starts in any window
     *   (asyncio-throttle, aiometer).
     * - `"release"`: a slot is held from the grant until `period` after its release (aiothrottles) — at most
     *   `limit` in flight, and at most `limit` releases in any window. With `"1/s"` and 500 ms tasks run one
     *   after another, starts are at 0, 1500, 3000 ms instead of 0, 1000, 2000.
     */
    readonly measure?: "start" | "release" | undefined
    /**
     * Space grants at least `period / limit` apart instead of allowing a burst of `limit` (default `false`).
     * `"10/s"` with `smooth: true` grants at 0, 100, 200, … ms. A grant of `n` permits takes `n` intervals.
     * The window bound still holds. On a real clock a late timer does not push the schedule back.
     */
    readonly smooth?: boolean | undefined
    /**
     * At most this many permits acquired and not yet released (an integer >= 1; default: no cap).
     * `maxConcurrent: 2` with `"100/s"` runs at most 2 tasks at a time, started at most 100 per second.
     */
    readonly maxConcurrent?: number | undefined
  }

  /**
   * A snapshot of a throttle.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Stats {
    /** Permits acquired and not yet released. */
    readonly inFlight: number
    /** Fibers waiting for permits. */
    readonly waiting: number
    /** Permits that could be granted at once now (0 while others wait). */
    readonly available: number
    /** Permits granted since creation. */
    readonly granted: number
  }

  /**
   * The throttle service.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The rate: at most `rate.limit` permits in any window of `rate.period`. */
    readonly rate: Rate
    /** The `measure` option in force. */
    readonly measure: "start" | "release"
    /** Whether grants are smoothly spaced. */
    readonly smooth: boolean
    /** The concurrency cap (`Infinity` when none). */
    readonly maxConcurrent: number
    /**
     * Waits for `n` permits (default 1), first-in first-out. Interrupted while waiting, it leaves no trace.
     * `n` must be an integer from 1 to `min(limit, maxConcurrent)`: anything else is a defect.
     */
    readonly acquire: (n?: number) => Effect.Effect<void>
    /**
     * Gives back `n` permits (default 1). Fails with {@link ThrottleReleaseError} when fewer are in flight.
     * Under `measure: "release"` their slots are freed `period` after this call.
     */
    readonly release: (n?: number) => Effect.Effect<void, ThrottleReleaseError>
    /** Runs `self` holding one permit, released on any exit (success, failure, defect, interruption). */
    readonly withPermit: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Runs `self` holding `n` permits, released on any exit. */
    readonly withPermits: (n: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Takes `n` permits (default 1) if they are free now and nobody is waiting; never waits. */
    readonly tryAcquire: (n?: number) => Effect.Effect<boolean>
    /** `true` when `acquire()` would wait now. */
    readonly locked: Effect.Effect<boolean>
    /** A snapshot: in flight, waiting, available now, granted so far. */
    readonly stats: Effect.Effect<Stats>
    /** Wraps a function returning an Effect so that every call runs under `withPermit` (the decorator form). */
    readonly throttled: <Args extends ReadonlyArray<unknown>, A, E, R>(
      f: (...args: Args) => Effect.Effect<A, E, R>
    ) => (...args: Args) => Effect.Effect<A, E, R>
  }
}

/**
 * The layer of an in-memory {@link Throttle}: `Effect.provide(ThrottleLive("3/s"))`. A string literal rate is
 * checked by the compiler (`ThrottleLive("3/ss")` does not compile); a `string` is checked when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const ThrottleLive: <const R extends RateInput>(
  rate: Checked<R>,
  options?: Throttle.Options
) => Layer.Layer<Throttle, InvalidRateError> = Throttle.layer

/**
 * Builds an in-memory throttle (the same as `Throttle.make`), scoped: queued waiters are interrupted on close.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <const R extends RateInput>(
  rate: Checked<R>,
  options?: Throttle.Options
) => Effect.Effect<Throttle.Service, InvalidRateError, Scope.Scope> = Throttle.make
