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
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
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
  }

  /**
   * The adaptive throttle service.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
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
 * const program = Effect.forEach(urls, (url) => DynamicThrottle.withPermit(fetch(url)), { concurrency: 8 }).pipe(
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
   * Builds an adaptive throttle; see {@link make}.
   *
   * @since 0.1.0
   * @category constructors
   */
  static make(options: DynamicThrottle.Options): Effect.Effect<DynamicThrottle.Service> {
    return make(options)
  }

  /**
   * A layer providing an adaptive throttle; see {@link layer}.
   *
   * @since 0.1.0
   * @category layers
   */
  static layer(options: DynamicThrottle.Options): Layer.Layer<DynamicThrottle> {
    return layer(options)
  }

  /**
   * `withPermit` with the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static withPermit<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | DynamicThrottle> {
    return Effect.flatMap(DynamicThrottle, (throttle) => throttle.withPermit(self))
  }

  /**
   * `setRate` with the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static setRate(rate: number): Effect.Effect<void, never, DynamicThrottle> {
    return Effect.flatMap(DynamicThrottle, (throttle) => throttle.setRate(rate))
  }

  /**
   * `reportThrottled` with the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static reportThrottled(retryAfter?: Duration.DurationInput): Effect.Effect<void, never, DynamicThrottle> {
    return Effect.flatMap(DynamicThrottle, (throttle) => throttle.reportThrottled(retryAfter))
  }

  /**
   * The current rate of the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly rate: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(
    DynamicThrottle,
    (throttle) => throttle.rate
  )

  /**
   * The success count of the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly successes: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(
    DynamicThrottle,
    (throttle) => throttle.successes
  )

  /**
   * The failure count of the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly failures: Effect.Effect<number, never, DynamicThrottle> = Effect.flatMap(
    DynamicThrottle,
    (throttle) => throttle.failures
  )

  /**
   * Clears the counts of the throttle in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, DynamicThrottle> = Effect.flatMap(
    DynamicThrottle,
    (throttle) => throttle.reset
  )
}

/**
 * Builds an adaptive throttle. Needs no `Scope` (it forks nothing). Dies with an `IllegalArgumentException`
 * ("Expected X, got Y") unless `0 < minRate <= initialRate <= maxRate` (finite), `window` is an integer `>= 1`,
 * `0 <= lowerBound <= upperBound <= 1`, `increaseFactor >= 1`, `0 < decreaseFactor <= 1` and `0 <= jitter < 1`.
 *
 * @example
 * ```ts
 * const throttle = yield* DynamicThrottle.make({ initialRate: 10, window: 4, jitter: 0 })
 * yield* Effect.forEach(requests, (r) => throttle.withPermit(send(r)), { concurrency: "unbounded" })
 * // admitted at 0, 100, 200, 300 ms; after 4 successes the rate is 12.5/s (80 ms gaps)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: DynamicThrottle.Options): Effect.Effect<DynamicThrottle.Service> =>
  Effect.suspend(() => {
    const validated = internal.validate(options)
    if (validated._tag === "Invalid") return Effect.die(new Cause.IllegalArgumentException(validated.message))
    const config = validated.config
    const isFailure = options.isFailure
    return Effect.map(Ref.make(internal.initial(config)), (ref): DynamicThrottle.Service => {
      const drawJitter: Effect.Effect<number> = config.jitter === 0
        ? Effect.succeed(0)
        : Random.nextRange(-config.jitter, config.jitter)

      // Sleeps until `at`; then, if a pause was reported meanwhile, sleeps its length and checks again.
      const waitUntil = (at: number, appliedShift: number): Effect.Effect<void> =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.zipRight(
            at > now ? Effect.sleep(Duration.millis(at - now)) : Effect.void,
            Effect.flatMap(Ref.get(ref), (state) =>
              state.shift > appliedShift
                ? waitUntil(at + state.shift - appliedShift, state.shift)
                : Effect.void)
          ))

      // success: true / false, or undefined when not an outcome (ignored typed failures only, or interruption).
      // An `isFailure` that throws makes the call a failure that also dies with the thrown value.
      const outcomeOf = (
        exit: Exit.Exit<unknown, unknown>
      ): { readonly success: boolean | undefined; readonly thrown: Option.Option<unknown> } => {
        if (Exit.isSuccess(exit)) return { success: true, thrown: Option.none() }
        if (Cause.isDie(exit.cause)) return { success: false, thrown: Option.none() }
        for (const error of Cause.failures(exit.cause)) {
          try {
            if (isFailure === undefined || isFailure(error)) return { success: false, thrown: Option.none() }
          } catch (thrown) {
            return { success: false, thrown: Option.some(thrown) }
          }
        }
        return { success: undefined, thrown: Option.none() }
      }

      const withPermit = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(drawJitter, (u) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.flatMap(Ref.modify(ref, (state) => internal.reserve(state, now, u)), (ticket) =>
                Effect.zipRight(
                  restore(waitUntil(ticket.at, ticket.shift)).pipe(
                    Effect.onInterrupt(() => Ref.update(ref, (state) => internal.cancel(state, ticket)))
                  ),
                  Effect.flatMap(Effect.exit(restore(self)), (exit) => {
                    const { success, thrown } = outcomeOf(exit)
                    const result = Option.isSome(thrown) && Exit.isFailure(exit)
                      ? Effect.failCause(Cause.sequential(exit.cause, Cause.die(thrown.value)))
                      : exit
                    return success === undefined
                      ? result
                      : Effect.zipRight(Ref.update(ref, (state) => internal.record(config, state, success)), result)
                  })
                ))))
        )

      return {
        withPermit,
        rate: Effect.map(Ref.get(ref), (state) => state.rate),
        setRate: (rate) =>
          Effect.suspend(() =>
            Number.isNaN(rate) || typeof rate !== "number"
              ? Effect.die(new Cause.IllegalArgumentException(`Expected rate to be a number, got ${String(rate)}`))
              : Ref.update(ref, (state) => internal.setRate(config, state, rate))
          ),
        successes: Effect.map(Ref.get(ref), (state) => state.successes),
        failures: Effect.map(Ref.get(ref), (state) => state.failures),
        reset: Ref.update(ref, internal.resetCounts),
        reportThrottled: (retryAfter) =>
          Effect.suspend(() => {
            let retryMillis: number | undefined
            if (retryAfter !== undefined) {
              retryMillis = Duration.toMillis(Duration.decode(retryAfter))
              if (!Number.isFinite(retryMillis) || retryMillis < 0) {
                return Effect.die(
                  new Cause.IllegalArgumentException(
                    `Expected retryAfter to be a finite duration >= 0, got ${Duration.format(Duration.decode(retryAfter))}`
                  )
                )
              }
            }
            return Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Ref.update(ref, (state) => internal.reportThrottled(config, state, now, retryMillis)))
          })
      }
    })
  })

/**
 * A layer providing a {@link DynamicThrottle} built with {@link make}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: DynamicThrottle.Options): Layer.Layer<DynamicThrottle> =>
  Layer.effect(DynamicThrottle, make(options))
