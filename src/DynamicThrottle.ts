/**
 * An adaptive throttle (asyncutils' `DynamicThrottle`): admissions are spaced `1 / rate` seconds apart, and the
 * rate adapts to how the calls fare — multiplied by `increaseFactor` after a window of mostly successes, by
 * `decreaseFactor` after a window of mostly failures (additive-increase/multiplicative-decrease in spirit, but
 * multiplicative both ways, as the seed).
 *
 * Algorithm: reservations. A caller at `now` is admitted at `max(now, last + gap)` where `last` is the previous
 * admission (reserved, possibly still in the future) and `gap = 1000 / rate × (1 + u)` milliseconds, `u` uniform
 * in `[-jitter, jitter]` from Effect's `Random`, `rate` the rate at the moment of the reservation. The first call
 * is admitted at once; after an idle period the next call is admitted at once (no burst credit builds up).
 * Concurrent callers therefore get successive slots; nobody polls.
 *
 * Guarantee: with `jitter = 0`, two admissions are never closer than `1000 / rate` ms for the rate in force when
 * the later one was reserved (with jitter, than that × `(1 - jitter)`).
 *
 * Adaptation: after every `window` outcomes, success ratio `> upperBound` multiplies the rate by `increaseFactor`,
 * `< lowerBound` by `decreaseFactor` (clamped to `[minRate, maxRate]`), then the counts start again from zero.
 * Outcomes: a success; a failure — a typed failure for which `isFailure` holds (default: all) or a defect. A typed
 * failure for which `isFailure` is false is not an outcome, nor is interruption.
 *
 * Interruption: a caller interrupted while waiting gives its slot back when it is the latest one reserved;
 * otherwise the slot stays a gap and the callers behind keep their slots (see `withPermit`).
 *
 * Watching it: metrics `effect_throttles_dynamic_throttle_rate` (gauge, calls per second) and
 * `effect_throttles_dynamic_throttle_adjustments_total` (tag `direction`: up, down), tagged with the throttle's
 * `name` and updated in the same step as the rate; a wait that actually waits is an `effect_throttles.acquire`
 * span; `events` streams every rate change. `metrics: false` turns off metrics and spans.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as internal from "./internal/dynamicThrottle.js"

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace DynamicThrottle {
  /**
   * Options of {@link make}. Rates are in calls per second. Invalid options are defects
   * (`IllegalArgumentException`) with an `Expected X, got Y` message: they are programming errors, not data.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options {
    /**
     * Starting rate, calls per second. Required; `minRate <= initialRate <= maxRate`. Example: `10` spaces
     * admissions 100 ms apart.
     */
    readonly initialRate: number
    /** Lowest rate the adaptation (or `setRate`) may reach. `> 0`. Default `0.01` (one call per 100 s). */
    readonly minRate?: number | undefined
    /** Highest rate the adaptation (or `setRate`) may reach. Finite, `>= initialRate`. Default `100`. */
    readonly maxRate?: number | undefined
    /**
     * Number of outcomes after which the rate adapts (a count, the seed's name; not a duration). An integer
     * `>= 1`. Default `100`. Example: `4` re-evaluates after every 4 completed calls.
     */
    readonly window?: number | undefined
    /**
     * Success ratio strictly above which the rate increases. In `[lowerBound, 1]`. Default `0.75`. Example: with
     * window 4, 4 successes (1.0) increase; 3 successes (0.75) do not.
     */
    readonly upperBound?: number | undefined
    /**
     * Success ratio strictly below which the rate decreases. In `[0, upperBound]`. Default `0.25`. Example: with
     * window 4, 0 successes decrease; 1 success (0.25) does not.
     */
    readonly lowerBound?: number | undefined
    /** Factor applied on increase. `>= 1`. Default `1.25`. Example: rate 10 → 12.5. */
    readonly increaseFactor?: number | undefined
    /** Factor applied on decrease and by `reportThrottled`. In `(0, 1]`. Default `0.75`. Example: 12.5 → 9.375. */
    readonly decreaseFactor?: number | undefined
    /**
     * Relative jitter of each gap: the gap is multiplied by `1 + u`, `u` uniform in `[-jitter, jitter]` from
     * Effect's `Random`. In `[0, 1)`. Default `0.2`. Example: rate 10, jitter 0.2 → gaps between 80 and 120 ms.
     */
    readonly jitter?: number | undefined
    /**
     * Which typed failures are failures. A typed failure for which it returns false is not an outcome at all.
     * Defects are always failures. If it throws, the call is a failure and dies with the thrown value. Default: every typed failure. Example: `(e) => e._tag !== "NotFound"`.
     */
    readonly isFailure?: ((error: unknown) => boolean) | undefined
    /**
     * The name used as the `name` tag of the throttle's metrics and spans. Default `"default"`. Give throttles
     * distinct names: two throttles with the same name share their metrics. Example: `"github-api"`.
     */
    readonly name?: string | undefined
    /**
     * `false` turns off the throttle's metrics and spans (`events` still reach their subscribers). Default `true`.
     */
    readonly metrics?: boolean | undefined
  }

  /**
   * What happened in an adaptive throttle, on its `events` stream (times are `Clock` epoch milliseconds).
   *
   * - `RateChanged`: the rate moved `from` → `to` (calls per second), `direction` `"up"` or `"down"`, because of
   *   the adaptation after a window of outcomes (`reason: "adapted"`), `setRate` (`"setRate"`) or `reportThrottled`
   *   (`"throttled"`). A call that leaves the rate where it was (clamped at a bound) publishes nothing.
   * - `Paused`: `reportThrottled(retryAfter)` holds admissions until `until`.
   *
   * @since 0.2.0
   * @category models
   */
  export type Event = Data.TaggedEnum<{
    RateChanged: {
      readonly from: number
      readonly to: number
      readonly direction: "up" | "down"
      readonly reason: "adapted" | "setRate" | "throttled"
      readonly at: number
    }
    Paused: { readonly until: number; readonly at: number }
  }>

  /**
   * The adaptive throttle service.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The name used as the `name` tag of metrics and spans. */
    readonly name: string
    /**
     * Waits for the next admission slot, runs `self` and records its outcome. Interrupted while waiting: its slot
     * is given back if it is the latest one reserved (otherwise it stays a gap; the callers behind it keep their
     * slots). Interrupted while running: not an outcome.
     */
    readonly withPermit: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** The current rate, calls per second. */
    readonly rate: Effect.Effect<number>
    /**
     * Sets the rate, clamped to `[minRate, maxRate]` (exactly: `setRate(1000)` with `maxRate: 100` gives 100).
     * Applies to reservations made from now on. `NaN` is a defect.
     */
    readonly setRate: (rate: number) => Effect.Effect<void>
    /** Successes recorded since the last adaptation (or `reset`). */
    readonly successes: Effect.Effect<number>
    /** Failures recorded since the last adaptation (or `reset`). */
    readonly failures: Effect.Effect<number>
    /** Clears the success and failure counts (as the seed's `reset`); the rate and the schedule are kept. */
    readonly reset: Effect.Effect<void>
    /**
     * "The server said slow down" (an HTTP 429, a `Retry-After`): multiplies the rate by `decreaseFactor` at once
     * (clamped) and, with `retryAfter`, holds admissions until `retryAfter` has passed: the schedule pauses, so no
     * admission happens before `now + retryAfter` and every admission not yet made moves later by the pause,
     * keeping its order and spacing. Overlapping pauses merge. Not an outcome. Example: at t = 0 with
     * `reportThrottled("2 seconds")`, a waiter due at 300 ms is admitted at 2300 ms and a new caller at 2000 ms
     * at the earliest.
     */
    readonly reportThrottled: (retryAfter?: Duration.DurationInput) => Effect.Effect<void>
    /**
     * What happens, as it happens: rate changes and pauses (see {@link Event}), from the moment of subscription
     * on, in order. A sliding buffer per subscriber (1024 events): a slow subscriber never slows the throttle (it
     * loses its oldest events instead). With no subscriber, nothing is built.
     */
    readonly events: Stream.Stream<Event>
  }
}

/**
 * The adaptive throttle service tag; static accessors use the service in context
 * (`yield* DynamicThrottle.withPermit(effect)`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DynamicThrottle } from "effect-throttles"
 *
 * declare const urls: ReadonlyArray<string>
 * declare const fetchPage: (url: string) => Effect.Effect<string, Error>
 *
 * const program = Effect.forEach(urls, (url) => DynamicThrottle.withPermit(fetchPage(url)), { concurrency: 8 }).pipe(
 *   Effect.provide(DynamicThrottle.layer({ initialRate: 5, maxRate: 50, window: 20 }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class DynamicThrottle extends Context.Tag("effect-throttles/DynamicThrottle")<
  DynamicThrottle,
  DynamicThrottle.Service
>() {
  /**
   * Builds an adaptive throttle (the same as the module's {@link make}). Needs no `Scope` (it forks nothing).
   * Dies with an `IllegalArgumentException` ("Expected X, got Y") on invalid options.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: (options: DynamicThrottle.Options) => Effect.Effect<DynamicThrottle.Service> = internal.make

  /**
   * A layer providing an adaptive throttle built with {@link make} (the same as the module's {@link layer}).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: DynamicThrottle.Options): Layer.Layer<DynamicThrottle> =>
    Layer.effect(DynamicThrottle, internal.make(options))

  /**
   * A layer whose options are read from `Config` (the same as the module's {@link layerConfig}): the whole options
   * object as one `Config`, or an object whose fields are `Config`s. A bad value fails the layer with a
   * `ConfigError` naming the key.
   *
   * @since 0.2.0
   * @category layers
   */
  static readonly layerConfig = (
    options: Config.Config.Wrap<DynamicThrottle.Options>
  ): Layer.Layer<DynamicThrottle, ConfigError.ConfigError> =>
    Layer.effect(DynamicThrottle, internal.makeConfig(options))

  /**
   * Waits for the next admission slot of the throttle in context, runs `self` and records its outcome. Interrupted
   * while waiting: its slot is given back if it is the latest one reserved (otherwise it stays a gap; the callers
   * behind it keep their slots). Interrupted while running: not an outcome.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly withPermit = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | DynamicThrottle> =>
    Effect.flatMap(DynamicThrottle, (t) => t.withPermit(self))

  /**
   * Sets the rate of the throttle in context, clamped to `[minRate, maxRate]` (exactly: `setRate(1000)` with
   * `maxRate: 100` gives 100). Applies to reservations made from now on. `NaN` is a defect.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly setRate = (rate: number): Effect.Effect<void, never, DynamicThrottle> =>
    Effect.flatMap(DynamicThrottle, (t) => t.setRate(rate))

  /**
   * "The server said slow down" (an HTTP 429, a `Retry-After`) to the throttle in context: multiplies the rate by
   * `decreaseFactor` at once (clamped) and, with `retryAfter`, holds admissions until `retryAfter` has passed: the
   * schedule pauses, so no admission happens before `now + retryAfter` and every admission not yet made moves
   * later by the pause, keeping its order and spacing. Overlapping pauses merge. Not an outcome. Example: at t = 0
   * with `reportThrottled("2 seconds")`, a waiter due at 300 ms is admitted at 2300 ms and a new caller at 2000 ms
   * at the earliest.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reportThrottled = (retryAfter?: Duration.DurationInput): Effect.Effect<void, never, DynamicThrottle> =>
    Effect.flatMap(DynamicThrottle, (t) => t.reportThrottled(retryAfter))

  /**
   * The current rate of the throttle in context, calls per second.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly rate: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(DynamicThrottle, (t) => t.rate)

  /**
   * Successes recorded by the throttle in context since its last adaptation (or `reset`).
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly successes: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(DynamicThrottle, (t) => t.successes)

  /**
   * Failures recorded by the throttle in context since its last adaptation (or `reset`).
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly failures: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(DynamicThrottle, (t) => t.failures)

  /**
   * Clears the success and failure counts of the throttle in context (as the seed's `reset`); the rate and the
   * schedule are kept.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, DynamicThrottle> = Effect.flatMap(DynamicThrottle, (t) => t.reset)

  /**
   * What happens in the throttle in context, as it happens: rate changes and pauses (see
   * {@link DynamicThrottle.Event}), from the moment of subscription on, in order. A sliding buffer per subscriber:
   * a slow subscriber never slows the throttle.
   *
   * @since 0.2.0
   * @category accessors
   */
  static readonly events: Stream.Stream<DynamicThrottle.Event, never, DynamicThrottle> =
    Stream.unwrap(Effect.map(DynamicThrottle, (t) => t.events))
}

/**
 * Builds an adaptive throttle. Needs no `Scope` (it forks nothing). Dies with an `IllegalArgumentException`
 * ("Expected X, got Y") unless `0 < minRate <= initialRate <= maxRate` (finite), `window` is an integer `>= 1`,
 * `0 <= lowerBound <= upperBound <= 1`, `increaseFactor >= 1`, `0 < decreaseFactor <= 1` and `0 <= jitter < 1`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DynamicThrottle } from "effect-throttles"
 *
 * declare const requests: ReadonlyArray<string>
 * declare const send: (request: string) => Effect.Effect<void, Error>
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* DynamicThrottle.make({ initialRate: 10, window: 4, jitter: 0 })
 *   yield* Effect.forEach(requests, (r) => throttle.withPermit(send(r)), { concurrency: "unbounded" })
 *   // admitted at 0, 100, 200, 300 ms; after 4 successes the rate is 12.5/s (80 ms gaps)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: DynamicThrottle.Options) => Effect.Effect<DynamicThrottle.Service> = DynamicThrottle.make

/**
 * A layer providing a {@link DynamicThrottle} built with {@link make}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options: DynamicThrottle.Options) => Layer.Layer<DynamicThrottle> = DynamicThrottle.layer

/**
 * A layer whose options are read from `Config`: the whole options object as one `Config`, or an object whose
 * fields are `Config`s (every option may come from config; give `isFailure` as `Config.succeed(f)`). A bad value
 * fails the layer with a `ConfigError` naming the key: the config key for a field read on its own, the option
 * otherwise (`initialRate` for a rate outside `[minRate, maxRate]`).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { DynamicThrottle } from "effect-throttles"
 *
 * const ThrottleLive = DynamicThrottle.layerConfig({
 *   name: Config.succeed("crawler"),
 *   initialRate: Config.number("CRAWL_RATE"),
 *   maxRate: Config.number("CRAWL_MAX_RATE").pipe(Config.withDefault(50))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig: (
  options: Config.Config.Wrap<DynamicThrottle.Options>
) => Layer.Layer<DynamicThrottle, ConfigError.ConfigError> = DynamicThrottle.layerConfig
