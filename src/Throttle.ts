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
import type * as Arr from "effect/Array"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internal from "./internal/throttle.js"
import * as instrument from "./internal/throttleInstrument.js"
import * as backendInternal from "./internal/throttleBackend.js"
import type { ThrottleTimeoutError } from "./internal/throttleErrors.js"
import { ThrottleReleaseError } from "./internal/throttleErrors.js"
import type { Checked, ErrorOf, InvalidRateError, Rate, RatesInput } from "./Rate.js"

export {
  /**
   * Released more permits than are in flight (aiothrottles' "released too many times").
   *
   * @since 0.1.0
   * @category errors
   */
  ThrottleReleaseError,
  /**
   * The permits could not be granted within the caller's `maxWait`.
   *
   * @since 0.2.0
   * @category errors
   */
  ThrottleTimeoutError,
  /**
   * A store-backed throttle (Redis) could not reach its store, under `onStoreError: "fail"`.
   *
   * @since 0.2.0
   * @category errors
   */
  ThrottleStoreError
} from "./internal/throttleErrors.js"

/**
 * The brand of every Throttle service, whatever its backend.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: typeof backendInternal.TypeId = backendInternal.TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Whether `u` is a Throttle service (of any backend).
 *
 * @since 0.2.0
 * @category guards
 */
export const isThrottle: (u: unknown) => u is Throttle.Service<unknown> = backendInternal.isThrottle

/**
 * The `Throttle` service. The in-memory implementation is {@link Throttle.make}; other backends (the Redis one in
 * `effect-throttles/redis`) provide the same interface, built with {@link makeWith}.
 *
 * @since 0.1.0
 * @category tags
 */
export class Throttle extends Context.Tag("effect-throttles/Throttle")<Throttle, Throttle.Service>() {
  /**
   * Builds an in-memory throttle. A rate the compiler checked cannot fail; a `string` fails with
   * `InvalidRateError`. Invalid options are defects. Waiters still queued when the scope closes are interrupted.
   *
   * @since 0.1.0
   */
  static readonly make: <const R extends RatesInput>(
    rate: Checked<R>,
    options?: Throttle.Options
  ) => Effect.Effect<Throttle.Service, ErrorOf<R>, Scope.Scope> = (rate, options) =>
    internal.make(rate as RatesInput, options) as any

  /**
   * A layer providing an in-memory throttle: `Effect.provide(Throttle.layer("3/s"))`. Same as {@link ThrottleLive}.
   *
   * @since 0.1.0
   */
  static readonly layer = <const R extends RatesInput>(
    rate: Checked<R>,
    options?: Throttle.Options
  ): Layer.Layer<Throttle, ErrorOf<R>> => Layer.scoped(Throttle, Throttle.make(rate, options))

  /**
   * A layer whose rate — or whole options object — is read from `Config`:
   * `Throttle.layerConfig(Rate.config("API_RATE"))`, or every option from config with
   * `Throttle.layerConfig({ rate: Rate.config("API_RATE"), maxConcurrent: Config.integer("API_CONCURRENCY") })`.
   * A bad value fails with a `ConfigError` naming its key; a bad rate read with a plain `Config.string` fails with
   * `InvalidRateError`.
   *
   * @since 0.1.0
   */
  static readonly layerConfig = (
    config: Config.Config<RatesInput> | Config.Config.Wrap<Throttle.ConfigOptions>,
    options?: Throttle.Options
  ): Layer.Layer<Throttle, InvalidRateError | ConfigError.ConfigError> =>
    Layer.scoped(Throttle, internal.makeFromConfig(config, options))

  /**
   * Builds a full service from a small backend (see {@link makeWith}).
   *
   * @since 0.2.0
   */
  static readonly makeWith = <E>(
    backend: Throttle.Backend<E> & Partial<Pick<Throttle.Service<E>, "withPermit" | "withPermits" | "throttled" | "locked">>
  ): Throttle.Service<E> => backendInternal.makeWith(backend)

  /** The Throttle's Effect metrics (see the module-level {@link metrics}). @since 0.2.0 */
  static readonly metrics = instrument.metrics

  /** Whether `u` is a Throttle service of any backend. @since 0.2.0 */
  static readonly isThrottle = (u: unknown): u is Throttle.Service<unknown> => backendInternal.isThrottle(u)

  /**
   * Waits for `n` permits (default 1) of the throttle in context, first-in first-out. Interrupted while waiting, it
   * leaves no trace. `n` must be an integer from 1 to `min(smallest limit, maxConcurrent)`: anything else is a
   * defect. With `{ maxWait }`, fails with `ThrottleTimeoutError` when the permits cannot be granted in time — at
   * once, without queueing, when the windows already prove it.
   *
   * @since 0.1.0
   */
  static readonly acquire: {
    (n?: number): Effect.Effect<void, never, Throttle>
    (n: number, options: Throttle.AcquireOptions): Effect.Effect<void, ThrottleTimeoutError, Throttle>
  } = ((n?: number, options?: Throttle.AcquireOptions) =>
    Effect.flatMap(Throttle, (t) => t.acquire(n ?? 1, options ?? {}))) as typeof Throttle.acquire

  /**
   * Gives back `n` permits (default 1) to the throttle in context. Fails with `ThrottleReleaseError` when fewer are
   * in flight. Under `measure: "release"` their slots are freed `period` after this call.
   *
   * @since 0.1.0
   */
  static readonly release = (n?: number): Effect.Effect<void, ThrottleReleaseError, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.release(n))

  /**
   * Runs `self` holding one permit of the throttle in context, released on any exit (success, failure, defect,
   * interruption). With `{ maxWait }`, fails with `ThrottleTimeoutError` instead of waiting longer.
   *
   * @since 0.1.0
   */
  static readonly withPermit: {
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Throttle>
    <A, E, R>(
      self: Effect.Effect<A, E, R>,
      options: Throttle.AcquireOptions
    ): Effect.Effect<A, E | ThrottleTimeoutError, R | Throttle>
  } = <A, E, R>(self: Effect.Effect<A, E, R>, options?: Throttle.AcquireOptions) =>
    Effect.flatMap(Throttle, (t) => t.withPermit(self, options ?? {}))

  /**
   * Runs `self` holding `n` permits (a weight) of the throttle in context, released on any exit. With
   * `{ maxWait }`, fails with `ThrottleTimeoutError` instead of waiting longer.
   *
   * @since 0.1.0
   */
  static readonly withPermits: {
    (n: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | Throttle>
    (
      n: number,
      options: Throttle.AcquireOptions
    ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ThrottleTimeoutError, R | Throttle>
  } = ((n: number, options?: Throttle.AcquireOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.flatMap(Throttle, (t) => t.withPermits(n, options ?? {})(self))) as typeof Throttle.withPermits

  /**
   * Takes `n` permits (default 1) if they are free now and nobody is waiting (no barging past the queue); never
   * waits. `true` when taken: they are in flight until released.
   *
   * @since 0.1.0
   */
  static readonly tryAcquire = (n?: number): Effect.Effect<boolean, never, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.tryAcquire(n))

  /**
   * Decides now, never waits: takes `n` permits (default 1) exactly when `tryAcquire` would (in flight until
   * released) and returns `{ granted, limit, remaining, retryAfter, resetAfter }` — the numbers for `Retry-After`
   * and the IETF `RateLimit` headers. Several windows: those of the window with the fewest permits remaining, and
   * the longest wait. `"3/s"` after 3 grants at 0, asked at 400 ms: refused, `retryAfter` 600 ms.
   *
   * @since 0.2.0
   */
  static readonly attempt = (n?: number): Effect.Effect<Throttle.Decision, never, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.attempt(n))

  /**
   * "The server said wait": no grant before `now + duration`; the queue keeps its order. A longer pause extends
   * the current one, a shorter one never shortens it. `stats.pausedUntil` shows it.
   *
   * @since 0.2.0
   */
  static readonly pause = (duration: Duration.DurationInput): Effect.Effect<void, never, Throttle> =>
    Effect.flatMap(Throttle, (t) => t.pause(duration))

  /**
   * Wraps a function returning an Effect so that every call runs under `withPermit` of the throttle in context
   * (aiothrottles' decorator form).
   *
   * @since 0.2.0
   */
  static readonly throttled = <Args extends ReadonlyArray<unknown>, A, E, R>(
    f: (...args: Args) => Effect.Effect<A, E, R>
  ): (...args: Args) => Effect.Effect<A, E, R | Throttle> =>
  (...args) => Effect.flatMap(Throttle, (t) => t.withPermit(Effect.suspend(() => f(...args))))

  /**
   * `true` when `acquire()` would wait now (others queued, a window full, a pause, the smooth schedule, or the
   * concurrency cap).
   *
   * @since 0.1.0
   */
  static readonly locked: Effect.Effect<boolean, never, Throttle> = Effect.flatMap(Throttle, (t) => t.locked)

  /**
   * A snapshot of the throttle in context: `{ inFlight, waiting, available, granted, pausedUntil }`.
   *
   * @since 0.1.0
   */
  static readonly stats: Effect.Effect<Throttle.Stats, never, Throttle> = Effect.flatMap(Throttle, (t) => t.stats)

  /** The events of the throttle in context (see `Service.events`). @since 0.2.0 */
  static readonly events: Stream.Stream<Throttle.Event, never, Throttle> = Stream.unwrap(
    Effect.map(Throttle, (t) => t.events)
  )
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
     * Space grants evenly instead of allowing a burst of `limit` (default `false`): GCRA with emission interval
     * `period / limit` (the largest among several windows). `"10/s"` with `smooth: true` grants at 0, 100, 200, …
     * ms. `{ burst: b }` lets at most `b` permits go closer together than the spacing (default
     * `max(1, ceil(1 ms / interval))`: strict spacing wherever the interval is at least a timer tick). A grant of
     * `n` permits takes `n` intervals. The window bound still holds.
     */
    readonly smooth?: boolean | { readonly burst: number } | undefined
    /**
     * At most this many permits acquired and not yet released (an integer >= 1; default: no cap).
     * `maxConcurrent: 2` with `"100/s"` runs at most 2 tasks at a time, started at most 100 per second.
     */
    readonly maxConcurrent?: number | undefined
    /** The name used in metrics, spans, events and error messages (default `"default"`). */
    readonly name?: string | undefined
    /** `false` turns off metrics and spans (events still reach subscribers). Default `true`. */
    readonly metrics?: boolean | undefined
  }

  /**
   * The options of {@link Throttle.layerConfig} when every option comes from config: the rate (one or several) and
   * the plain options.
   *
   * @since 0.2.0
   * @category models
   */
  export interface ConfigOptions {
    readonly rate: RatesInput
    readonly measure?: "start" | "release" | undefined
    readonly smooth?: boolean | undefined
    readonly burst?: number | undefined
    readonly maxConcurrent?: number | undefined
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
  }

  /**
   * Options of one acquisition.
   *
   * @since 0.2.0
   * @category models
   */
  export interface AcquireOptions {
    /**
     * Give up when the permits cannot be granted within this long: fail with `ThrottleTimeoutError`, leaving the
     * queue without a trace. When the windows already prove on arrival that the wait is longer, fail at once
     * without queueing (nobody behind is delayed).
     */
    readonly maxWait?: Duration.DurationInput | undefined
  }

  /**
   * What `attempt` decided, with the numbers a server puts into `Retry-After` and the IETF `RateLimit` headers.
   * For several windows, `limit` / `remaining` / `resetAfter` are those of the window with the fewest permits
   * remaining and `retryAfter` is the longest wait.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Decision {
    /** Whether the permits were taken (they are then in flight until released). */
    readonly granted: boolean
    /** The limit of the deciding window. */
    readonly limit: number
    /** Permits that could still be granted now, after this decision's own grant. */
    readonly remaining: number
    /** Time until the permits could be granted to a caller arriving now (zero when granted). */
    readonly retryAfter: Duration.Duration
    /** Time until the deciding window is empty again. */
    readonly resetAfter: Duration.Duration
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
    /** Permits that could be granted at once now (0 while others wait or while paused). */
    readonly available: number
    /** Permits granted since creation. */
    readonly granted: number
    /** Until when (epoch milliseconds of Effect's `Clock`) grants are paused; `undefined` when not paused. */
    readonly pausedUntil: number | undefined
  }

  /**
   * What happened in a throttle, on its `events` stream.
   *
   * @since 0.2.0
   * @category models
   */
  export type Event = Data.TaggedEnum<{
    /** `permits` were granted after waiting `waited` (zero on the fast path). */
    Granted: { readonly permits: number; readonly waited: Duration.Duration }
    /** `attempt` or `tryAcquire` refused `permits`; they could be granted after `retryAfter`. */
    Rejected: {
      readonly permits: number
      readonly reason: "attempt" | "tryAcquire"
      readonly retryAfter: Duration.Duration
    }
    /** A caller with `maxWait` gave up (at once, or at its deadline). */
    TimedOut: {
      readonly permits: number
      readonly waited: Duration.Duration
      readonly retryAfter: Duration.Duration
    }
    /** Grants are paused until `until` (epoch milliseconds). */
    Paused: { readonly until: number }
  }>

  /**
   * The throttle service. `E` is the error a backend can fail with (`never` in memory; `ThrottleStoreError` for a
   * Redis throttle with `onStoreError: "fail"`).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service<E = never> {
    readonly [TypeId]: TypeId
    /** The name used in metrics, spans, events and error messages. */
    readonly name: string
    /** The first rate (the only one for a single window). */
    readonly rate: Rate
    /** Every window: a grant needs room in each at once. */
    readonly rates: Arr.NonEmptyReadonlyArray<Rate>
    /** The `measure` option in force. */
    readonly measure: "start" | "release"
    /** Whether grants are smoothly spaced. */
    readonly smooth: boolean
    /** The GCRA burst under `smooth` (1 = strict spacing); 0 when not smooth. */
    readonly burst: number
    /** The concurrency cap (`Infinity` when none). */
    readonly maxConcurrent: number
    /**
     * Waits for `n` permits (default 1), first-in first-out. Interrupted while waiting, it leaves no trace.
     * `n` must be an integer from 1 to `min(smallest limit, maxConcurrent)`: anything else is a defect. With
     * `maxWait`, fails with `ThrottleTimeoutError` when the permits cannot be granted in time.
     */
    readonly acquire: {
      (n?: number): Effect.Effect<void, E>
      (n: number, options: AcquireOptions): Effect.Effect<void, E | ThrottleTimeoutError>
    }
    /**
     * Gives back `n` permits (default 1). Fails with {@link ThrottleReleaseError} when fewer are in flight.
     * Under `measure: "release"` their slots are freed `period` after this call.
     */
    readonly release: (n?: number) => Effect.Effect<void, E | ThrottleReleaseError>
    /** Runs `self` holding one permit, released on any exit (success, failure, defect, interruption). */
    readonly withPermit: {
      <A, E1, R>(self: Effect.Effect<A, E1, R>): Effect.Effect<A, E | E1, R>
      <A, E1, R>(self: Effect.Effect<A, E1, R>, options: AcquireOptions): Effect.Effect<
        A,
        E | E1 | ThrottleTimeoutError,
        R
      >
    }
    /** Runs `self` holding `n` permits, released on any exit. */
    readonly withPermits: {
      (n: number): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1, R>
      (
        n: number,
        options: AcquireOptions
      ): <A, E1, R>(self: Effect.Effect<A, E1, R>) => Effect.Effect<A, E | E1 | ThrottleTimeoutError, R>
    }
    /** Takes `n` permits (default 1) if they are free now and nobody is waiting; never waits. */
    readonly tryAcquire: (n?: number) => Effect.Effect<boolean, E>
    /**
     * Decides now, never waits: takes `n` permits (default 1) exactly when `tryAcquire` would (they are then in
     * flight until released) and returns the numbers for `Retry-After` / `RateLimit` headers.
     */
    readonly attempt: (n?: number) => Effect.Effect<Decision, E>
    /**
     * No grant before `now + duration`; the queue keeps its order. A longer pause extends the current one, a
     * shorter one never shortens it.
     */
    readonly pause: (duration: Duration.DurationInput) => Effect.Effect<void, E>
    /** `true` when `acquire()` would wait now. */
    readonly locked: Effect.Effect<boolean, E>
    /** A snapshot: in flight, waiting, available now, granted so far, paused until. */
    readonly stats: Effect.Effect<Stats, E>
    /** Wraps a function returning an Effect so that every call runs under `withPermit` (the decorator form). */
    readonly throttled: <Args extends ReadonlyArray<unknown>, A, E1, R>(
      f: (...args: Args) => Effect.Effect<A, E1, R>
    ) => (...args: Args) => Effect.Effect<A, E | E1, R>
    /** What happens, as it happens (a sliding buffer per subscriber: a slow one never slows the throttle). */
    readonly events: Stream.Stream<Event>
  }

  /**
   * What a backend implements; {@link makeWith} derives the rest (`withPermit`, `withPermits`, `throttled`,
   * `locked`). `acquire` must be interruption-safe on its own: interrupted before its grant it leaves no trace,
   * interrupted at the moment of its grant it gives the permits back. Arguments arrive validated.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Backend<E = never> {
    readonly name: string
    readonly rates: Arr.NonEmptyReadonlyArray<Rate>
    readonly measure: "start" | "release"
    readonly burst: number
    readonly maxConcurrent: number
    /** Waits for `n` permits; with `maxWait` (a finite Duration), gives up with `ThrottleTimeoutError`. */
    readonly acquire: (n: number, maxWait: Duration.Duration | undefined) => Effect.Effect<void, E | ThrottleTimeoutError>
    readonly release: (n: number) => Effect.Effect<void, E | ThrottleReleaseError>
    readonly tryAcquire: (n: number) => Effect.Effect<boolean, E>
    readonly attempt: (n: number) => Effect.Effect<Decision, E>
    readonly pause: (duration: Duration.Duration) => Effect.Effect<void, E>
    readonly stats: Effect.Effect<Stats, E>
    readonly events?: Stream.Stream<Event> | undefined
  }
}

/**
 * Builds a full {@link Throttle.Service} from a {@link Throttle.Backend}: `withPermit`, `withPermits`,
 * `throttled` and `locked` are derived (a backend may pass its own, e.g. a faster path). Options and permit counts
 * are validated here, so a backend receives only valid arguments.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeWith: <E>(
  backend: Throttle.Backend<E> & Partial<Pick<Throttle.Service<E>, "withPermit" | "withPermits" | "throttled" | "locked">>
) => Throttle.Service<E> = backendInternal.makeWith

/**
 * The Throttle's Effect metrics (every backend; tag `name`, plus `reason` after it on refusals), for reading back
 * or exporting. All are updated in the same step as the state they describe, so a gauge never disagrees with
 * `stats`; `metrics: false` on a throttle leaves them untouched.
 *
 * | metric | type | tags | meaning |
 * |---|---|---|---|
 * | `effect_throttles_throttle_granted_total` | counter | `name` | permits granted |
 * | `effect_throttles_throttle_rejected_total` | counter | `name`, `reason` (`attempt`, `tryAcquire`, `maxWait`) | permits refused |
 * | `effect_throttles_throttle_wait_seconds` | histogram (0.1 ms … 3.5 min, doubling) | `name` | arrival to grant |
 * | `effect_throttles_throttle_waiting` | gauge | `name` | fibers waiting |
 * | `effect_throttles_throttle_in_flight` | gauge | `name` | permits acquired, not released |
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Throttle } from "effect-throttles"
 *
 * const granted = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make("3/s", { name: "api" })
 *   yield* throttle.withPermit(Effect.void)
 *   return (yield* Metric.value(Metric.tagged(Throttle.metrics.granted, "name", "api"))).count // 1
 * })
 * ```
 *
 * @since 0.2.0
 * @category metrics
 */
export const metrics = instrument.metrics

/**
 * Constructors and matchers of {@link Throttle.Event} (`Event.$is("Granted")`, `Event.$match`).
 *
 * @since 0.2.0
 * @category events
 */
export const Event = instrument.Event

/**
 * The layer of an in-memory {@link Throttle}: `Effect.provide(ThrottleLive("3/s"))`, or several windows at once:
 * `ThrottleLive(["4/s", "60/min"])`. A literal rate is checked by the compiler (`ThrottleLive("3/ss")` does not
 * compile) and the layer cannot fail; a `string` is checked when the layer is built (`InvalidRateError`).
 *
 * @since 0.1.0
 * @category layers
 */
export const ThrottleLive: <const R extends RatesInput>(
  rate: Checked<R>,
  options?: Throttle.Options
) => Layer.Layer<Throttle, ErrorOf<R>> = Throttle.layer

/**
 * Builds an in-memory throttle (the same as `Throttle.make`), scoped: queued waiters are interrupted on close.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <const R extends RatesInput>(
  rate: Checked<R>,
  options?: Throttle.Options
) => Effect.Effect<Throttle.Service, ErrorOf<R>, Scope.Scope> = Throttle.make

/**
 * A layer providing an in-memory throttle (the same as `Throttle.layer`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: <const R extends RatesInput>(
  rate: Checked<R>,
  options?: Throttle.Options
) => Layer.Layer<Throttle, ErrorOf<R>> = Throttle.layer

/**
 * A layer whose rate (and options) are read from `Config` (the same as `Throttle.layerConfig`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = Throttle.layerConfig
