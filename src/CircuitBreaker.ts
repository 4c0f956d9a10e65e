/**
 * A circuit breaker (asyncutils' `CircuitBreaker`, with the failure-rate and slow-call policies of Resilience4j):
 * stop calling a dependency that keeps failing, give it time to recover, then probe it with a few trial calls.
 *
 * ```text
 *            counted failures reach the policy's limit            openedAt + resetTimeout
 *   closed ─────────────────────────────────────────────▶ open ───────────────────────▶ half-open
 *     ▲                                                     ▲                                │
 *     │                     a trial fails (or is slow)      └────────────────────────────────┤
 *     └──────────────────────────────────────────────────────────────────────────────────────┘
 *                                       a trial succeeds
 * ```
 *
 * - **Closed**: calls run. The policy watches their outcomes: by default `maxFailures` consecutive counted
 *   failures open the breaker (a success resets the count); with a failure-rate policy, the share of failed (or
 *   slow) calls in a sliding window does.
 * - **Open**: calls fail at once with {@link CircuitOpenError} without running. At exactly
 *   `openedAt + resetTimeout` the breaker is half-open (no call is needed to notice: `state` reads it from the
 *   `Clock`, and a timer publishes the transition on `changes` at that instant).
 * - **Half-open**: up to `halfOpenMaxCalls` trial calls run at once; further calls are rejected with
 *   `CircuitOpenError`. The first trial that succeeds closes the breaker; the first that fails (or, with slow-call
 *   detection, is slow) opens it again. An interrupted trial frees its place, so the breaker never stays half-open
 *   with nobody probing.
 *
 * What counts: a typed failure for which `isFailure` holds (default: every typed failure) and every defect is a
 * failure. A typed failure for which `isFailure` is false is ignored (neither a success nor a failure, as if the
 * call had not happened, except that a trial frees its place). Interruption never counts and is never converted
 * into another error. An outcome only counts in the state in which its call was admitted: a call admitted while
 * closed that completes after the breaker has opened, or after `reset` / `trip`, changes nothing.
 *
 * Cost: O(1) per call (amortized for time-based windows); no polling, one timer per opening.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internal from "./internal/circuitBreaker.js"

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace CircuitBreaker {
  /**
   * The breaker's state.
   *
   * @since 0.1.0
   * @category models
   */
  export type State = "closed" | "open" | "half-open"

  /**
   * One state transition, published on `changes`. `at` is the `Clock` time (epoch milliseconds) at which the
   * transition took effect: the completion of the call that opened or closed the breaker, the instant of
   * `reset` / `trip`, and exactly `openedAt + resetTimeout` for open → half-open.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Change {
    readonly from: State
    readonly to: State
    readonly at: number
  }

  /**
   * A failure-rate policy (Resilience4j's): the breaker opens when, over a sliding window of recent calls, the
   * share of failures, or of slow calls, reaches a threshold. The rates are only evaluated once the window holds
   * at least `minimumCalls` calls, and after every call that completes while closed.
   *
   * ```ts
   * // open when half of the last 20 calls failed (once at least 10 have completed),
   * // or when 80% of them took longer than 2 seconds
   * policy: {
   *   window: { calls: 20 },
   *   minimumCalls: 10,
   *   failureRateThreshold: 0.5,
   *   slowCallDuration: "2 seconds",
   *   slowCallRateThreshold: 0.8
   * }
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  export interface FailureRatePolicy {
    /**
     * Which calls the rates are measured over.
     * - `{ calls: n }`: the last `n` completed calls (count-based; `n` an integer >= 1). Example: `{ calls: 100 }`.
     * - `{ duration: d }`: the calls completed in the last `d` (time-based; a call completed at `t` is in the
     *   window until, not including, `t + d`; `d` > 0). Example: `{ duration: "1 minute" }`.
     *
     * Required.
     */
    readonly window: { readonly calls: number } | { readonly duration: Duration.DurationInput }
    /**
     * How many calls the window must hold before the rates are evaluated; with fewer, the breaker stays closed
     * whatever happens. An integer >= 1, and at most `window.calls` for a count-based window.
     * Default: `min(10, window.calls)` (count-based), `10` (time-based). Example: with `minimumCalls: 5`, four
     * failures in a row never open the breaker; a fifth failed call does.
     */
    readonly minimumCalls?: number | undefined
    /**
     * Failure share in `(0, 1]` at or above which the breaker opens. Default `0.5`. Example: `0.5` opens on 5
     * failures among the last 10 calls.
     */
    readonly failureRateThreshold?: number | undefined
    /**
     * A call that takes strictly longer than this (from admission to completion, by the `Clock`) is slow; slow
     * calls count toward `slowCallRateThreshold` whatever their result, and a slow trial re-opens a half-open
     * breaker. A duration >= 0. Default: none (slow-call detection off). Example: `"2 seconds"`.
     */
    readonly slowCallDuration?: Duration.DurationInput | undefined
    /**
     * Slow-call share in `(0, 1]` at or above which the breaker opens (only with `slowCallDuration`).
     * Default `1` (every call in the window slow). Example: `0.8` opens on 8 slow calls among the last 10.
     */
    readonly slowCallRateThreshold?: number | undefined
  }

  /**
   * Options of {@link make}. Invalid options are defects (`IllegalArgumentException`) with an
   * `Expected X, got Y` message.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options {
    /**
     * The breaker's name, used as `CircuitOpenError.key` and in its message. Default:
     * `"anonymous circuit breaker #N"`. Example: `"payments-api"`.
     */
    readonly name?: string | undefined
    /**
     * Consecutive counted failures that open a closed breaker (consecutive policy only; a success resets the
     * count). An integer >= 1. Default `3`. Example: `maxFailures: 3` opens on the third failure in a row.
     */
    readonly maxFailures?: number | undefined
    /**
     * How long the breaker stays open before it becomes half-open. A finite duration > 0. Default
     * `"30 seconds"`. Example: opened at 12:00:00 with `"30 seconds"`, half-open at exactly 12:00:30.
     */
    readonly resetTimeout?: Duration.DurationInput | undefined
    /**
     * Most trial calls running at once while half-open; more are rejected. An integer >= 1. Default `5`.
     * Example: `1` probes the dependency with a single call at a time.
     */
    readonly halfOpenMaxCalls?: number | undefined
    /**
     * Which typed failures count. A typed failure for which it returns false is ignored (not a success, not a
     * failure). Defects always count; interruption never does. If it throws, the call counts as a failure and
     * dies with the thrown value (added to its cause). Default: every typed failure counts. Example:
     * `(e) => !(e instanceof NotFoundError)` so a 404 does not open the breaker.
     */
    readonly isFailure?: ((error: unknown) => boolean) | undefined
    /**
     * When to open a closed breaker: `"consecutive"` (`maxFailures` failures in a row; asyncutils' rule) or a
     * {@link FailureRatePolicy}. Default `"consecutive"`. `maxFailures` may only be given with `"consecutive"`.
     */
    readonly policy?: "consecutive" | FailureRatePolicy | undefined
  }

  /**
   * Options of `protect` / `protectFn`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface ProtectOptions<E, B, E2, R2> {
    /**
     * The fallback (asyncutils' `default`): called with a counted typed failure of the protected call, its result
     * replaces the failure. Not called for ignored failures, defects (counted, and propagated) or rejections
     * (`CircuitOpenError`). The failure has been counted before the fallback runs.
     */
    readonly orElse: (error: E) => Effect.Effect<B, E2, R2>
  }

  /**
   * The circuit breaker service.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The breaker's name (`CircuitOpenError.key`). */
    readonly name: string
    /**
     * Runs `self` through the breaker: rejected at once with `CircuitOpenError` when open (or half-open with every
     * trial place taken); otherwise `self` runs and its outcome is counted.
     */
    readonly protect: {
      <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError, R>
      <A, E, R, B, E2, R2>(
        self: Effect.Effect<A, E, R>,
        options: ProtectOptions<E, B, E2, R2>
      ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2>
    }
    /**
     * Wraps a function returning an Effect so that every call goes through the breaker (asyncutils' decorator).
     * The function is only called when the call is admitted.
     */
    readonly protectFn: {
      <Args extends ReadonlyArray<any>, A, E, R>(
        f: (...args: Args) => Effect.Effect<A, E, R>
      ): (...args: Args) => Effect.Effect<A, E | CircuitOpenError, R>
      <Args extends ReadonlyArray<any>, A, E, R, B, E2, R2>(
        f: (...args: Args) => Effect.Effect<A, E, R>,
        options: ProtectOptions<E, B, E2, R2>
      ): (...args: Args) => Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2>
    }
    /** The current state (half-open from exactly `openedAt + resetTimeout`). */
    readonly state: Effect.Effect<State>
    /**
     * While closed, the failures the policy counts: consecutive failures (consecutive policy) or failures in the
     * window (failure-rate policy). While open or half-open, the count at which the breaker opened.
     */
    readonly failures: Effect.Effect<number>
    /** Closes the breaker and clears its counts. Calls already running no longer count. */
    readonly reset: Effect.Effect<void>
    /**
     * Opens the breaker now (half-open after `resetTimeout`; an open breaker's timeout restarts). Calls already
     * running no longer count.
     */
    readonly trip: Effect.Effect<void>
    /**
     * Every state transition from the moment of subscription on, in order (a `PubSub`: each subscriber gets every
     * change published while it is subscribed). When the breaker's scope closes, running subscriptions are
     * interrupted.
     */
    readonly changes: Stream.Stream<Change>
  }
}

/**
 * The circuit breaker service tag. Provide it with {@link CircuitBreaker.layer}, or build one with
 * {@link CircuitBreaker.make}; the static accessors (`CircuitBreaker.protect(effect)`, `CircuitBreaker.state`, ...)
 * use the service in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-throttles"
 *
 * const program = Effect.gen(function*() {
 *   const user = yield* CircuitBreaker.protect(fetchUser(42), { orElse: () => Effect.succeed(cachedUser) })
 *   yield* Effect.log(yield* CircuitBreaker.state)
 * }).pipe(Effect.provide(CircuitBreaker.layer({ name: "users-api", maxFailures: 5, resetTimeout: "10 seconds" })))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class CircuitBreaker extends Context.Tag("effect-throttles/CircuitBreaker")<
  CircuitBreaker,
  CircuitBreaker.Service
>() {
  /**
   * Builds a breaker; see {@link make}.
   *
   * @since 0.1.0
   * @category constructors
   */
  static make(options?: CircuitBreaker.Options): Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> {
    return make(options)
  }

  /**
   * A layer providing a breaker; see {@link layer}.
   *
   * @since 0.1.0
   * @category layers
   */
  static layer(options?: CircuitBreaker.Options): Layer.Layer<CircuitBreaker> {
    return layer(options)
  }

  /**
   * `protect` with the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static protect<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError, R | CircuitBreaker>
  static protect<A, E, R, B, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: CircuitBreaker.ProtectOptions<E, B, E2, R2>
  ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2 | CircuitBreaker>
  static protect<A, E, R, B, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>
  ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2 | CircuitBreaker> {
    return Effect.flatMap(
      CircuitBreaker,
      (breaker) => options === undefined ? breaker.protect(self) : breaker.protect(self, options)
    )
  }

  /**
   * The breaker's state, with the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly state: Effect.Effect<CircuitBreaker.State, never, CircuitBreaker> = Effect.flatMap(
    CircuitBreaker,
    (breaker) => breaker.state
  )

  /**
   * The breaker's failure count, with the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly failures: Effect.Effect<number, never, CircuitBreaker> = Effect.flatMap(
    CircuitBreaker,
    (breaker) => breaker.failures
  )

  /**
   * Closes the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, CircuitBreaker> = Effect.flatMap(
    CircuitBreaker,
    (breaker) => breaker.reset
  )

  /**
   * Opens the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly trip: Effect.Effect<void, never, CircuitBreaker> = Effect.flatMap(
    CircuitBreaker,
    (breaker) => breaker.trip
  )

  /**
   * The state transitions of the breaker in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly changes: Stream.Stream<CircuitBreaker.Change, never, CircuitBreaker> = Stream.unwrap(
    Effect.map(CircuitBreaker, (breaker) => breaker.changes)
  )
}

/**
 * A call rejected by an open breaker (or a half-open one with every trial place taken), without running.
 * `key` is the breaker's name, `retryAfter` how long until it may admit calls again (zero when half-open: retry
 * once a trial completes), `state` the state that rejected the call.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  readonly key: string
  readonly retryAfter: Duration.Duration
  readonly state: "open" | "half-open"
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.state === "open"
      ? `Circuit breaker "${this.key}" is open; retry after ${Duration.format(this.retryAfter)}`
      : `Circuit breaker "${this.key}" is half-open and all its trial calls are running; retry once a trial completes`
  }
}

/** How a protected call ended, for the breaker and for `orElse`. */
interface Classified {
  readonly outcome: internal.Outcome
  /** The counted typed failure handed to `orElse` (only when the cause holds no defect). */
  readonly fallback: Option.Option<unknown>
  /** What `isFailure` threw, if it did: the call then counts as a failure and dies with it. */
  readonly thrown: Option.Option<unknown>
}

const classify = (
  exit: Exit.Exit<unknown, unknown>,
  isFailure: ((error: unknown) => boolean) | undefined
): Classified => {
  if (Exit.isSuccess(exit)) return { outcome: "success", fallback: Option.none(), thrown: Option.none() }
  const cause = exit.cause
  const defect = Cause.isDie(cause)
  let sawFailure = false
  for (const error of Cause.failures(cause)) {
    let counted: boolean
    try {
      counted = isFailure === undefined || isFailure(error)
    } catch (thrown) {
      return { outcome: "failure", fallback: Option.none(), thrown: Option.some(thrown) }
    }
    if (counted) {
      return { outcome: "failure", fallback: defect ? Option.none() : Option.some(error), thrown: Option.none() }
    }
    sawFailure = true
  }
  return {
    outcome: defect ? "failure" : sawFailure ? "ignored" : "interrupted",
    fallback: Option.none(),
    thrown: Option.none()
  }
}

/**
 * Builds a circuit breaker. Needs a `Scope`: the timer that publishes the open → half-open transition runs in it,
 * and `changes` ends when it closes.
 *
 * Dies with an `IllegalArgumentException` ("Expected X, got Y") on invalid options.
 *
 * @example
 * ```ts
 * const breaker = yield* CircuitBreaker.make({
 *   name: "search",
 *   resetTimeout: "10 seconds",
 *   halfOpenMaxCalls: 1,
 *   policy: { window: { duration: "1 minute" }, minimumCalls: 20, failureRateThreshold: 0.5 }
 * })
 * const search = breaker.protectFn((query: string) => callSearch(query))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: CircuitBreaker.Options): Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const validated = internal.validate(options)
    if (validated._tag === "Invalid") {
      return yield* Effect.die(new Cause.IllegalArgumentException(validated.message))
    }
    const config = validated.config
    const isFailure = options?.isFailure
    const scope = yield* Effect.scope
    const ref = yield* Ref.make<internal.State>(internal.initial(config))
    const pubsub = yield* PubSub.unbounded<CircuitBreaker.Change>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))

    // Publishes a step's transitions; arms the half-open timer when the step opened the breaker.
    const act = (step: internal.Step<unknown>, previousGeneration: number): Effect.Effect<void> => {
      const publish = step.transitions.length === 0
        ? Effect.void
        : Effect.asVoid(PubSub.publishAll(pubsub, step.transitions))
      const state = step.state
      if (state._tag === "Open" && state.generation !== previousGeneration) {
        // `act` runs uninterruptibly; the timer must not inherit that, or closing the scope would wait for it
        const timer = Effect.interruptible(halfOpenTimer(internal.halfOpenAt(config, state)))
        return Effect.zipRight(publish, Effect.asVoid(Effect.forkIn(timer, scope)))
      }
      return publish
    }

    // Decide atomically (one Ref.modify at the current Clock time), act afterwards, uninterruptibly.
    const run = <A>(f: (state: internal.State, now: number) => internal.Step<A>): Effect.Effect<A> =>
      Effect.uninterruptible(Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(ref, (state) => {
            const step = f(state, now)
            return [[step, state.generation] as const, step.state]
          }),
          ([step, previousGeneration]) => Effect.as(act(step, previousGeneration), step.value)
        )))

    // Sleeps until `at`, then lets the machine observe the time (a no-op if the breaker has moved on).
    const halfOpenTimer = (at: number): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        now >= at
          ? run((state, now) => internal.normalize(config, state, now))
          : Effect.zipRight(Effect.sleep(Duration.millis(at - now)), Effect.suspend(() => halfOpenTimer(at))))

    const protect = <A, E, R, B, E2, R2>(
      self: Effect.Effect<A, E, R>,
      options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>
    ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          run((state, now) => internal.admit(config, state, now)),
          (admission): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2> => {
            if (admission._tag === "Rejected") {
              return Effect.fail(
                new CircuitOpenError({
                  key: config.name,
                  retryAfter: Duration.millis(admission.retryAfterMillis),
                  state: admission.state
                })
              )
            }
            const ticket = admission.ticket
            return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
              const { fallback, outcome, thrown } = classify(exit, isFailure)
              return Effect.zipRight(
                run((state, now) => internal.complete(config, state, ticket, outcome, now)),
                Effect.suspend((): Effect.Effect<A | B, E | E2, R2> => {
                  if (Option.isSome(thrown) && Exit.isFailure(exit)) {
                    return Effect.failCause(Cause.sequential(exit.cause, Cause.die(thrown.value)))
                  }
                  if (Option.isSome(fallback) && options !== undefined) {
                    return restore(options.orElse(fallback.value as E))
                  }
                  return exit
                })
              )
            })
          }
        )
      )

    const protectFn = <Args extends ReadonlyArray<any>, A, E, R, B, E2, R2>(
      f: (...args: Args) => Effect.Effect<A, E, R>,
      options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>
    ) =>
    (...args: Args): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2> =>
      protect(Effect.suspend(() => f(...args)), options)

    const service: CircuitBreaker.Service = {
      name: config.name,
      protect: protect as CircuitBreaker.Service["protect"],
      protectFn: protectFn as CircuitBreaker.Service["protectFn"],
      state: run((state, now) => {
        const step = internal.normalize(config, state, now)
        return { ...step, value: internal.stateName(step.state) }
      }),
      failures: run((state, now) => {
        const step = internal.normalize(config, state, now)
        return { ...step, value: internal.failures(step.state) }
      }),
      reset: run((state, now) => internal.reset(config, state, now)),
      trip: run((state, now) => internal.trip(config, state, now)),
      changes: Stream.fromPubSub(pubsub)
    }
    return service
  })

/**
 * A layer providing a {@link CircuitBreaker} built with {@link make}; the breaker lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: CircuitBreaker.Options): Layer.Layer<CircuitBreaker> =>
  Layer.scoped(CircuitBreaker, make(options))
