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
 * Watching it: metrics `effect_throttles_circuit_breaker_state` (gauge: 0 closed, 1 half-open, 2 open),
 * `effect_throttles_circuit_breaker_transitions_total` (tags `from`, `to`) and
 * `effect_throttles_circuit_breaker_calls_total` (tag `outcome`: success, failure, rejected, slow), all tagged
 * with the breaker's `name` and updated in the same step as the state they describe; transitions and rejections
 * as span events on the caller's span; `changes` and `events` streams. `metrics: false` turns off metrics and
 * span events.
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
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internal from "./internal/circuitBreaker.js"
import type { CircuitOpenError } from "./internal/circuitBreaker.js"

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
   * import { CircuitBreaker } from "effect-throttles"
   *
   * // open when half of the last 20 calls failed (once at least 10 have completed),
   * // or when 80% of them took longer than 2 seconds
   * const policy: CircuitBreaker.FailureRatePolicy = {
   *   window: { calls: 20 },
   *   minimumCalls: 10,
   *   failureRateThreshold: 0.5,
   *   slowCallDuration: "2 seconds",
   *   slowCallRateThreshold: 0.8
   * }
   * const BreakerLive = CircuitBreaker.layer({ name: "search", policy })
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
     * The breaker's name, used as `CircuitOpenError.key`, in its message, and as the `name` tag of its metrics and
     * span events. Default: `"anonymous circuit breaker #N"` (N counts the anonymous breakers of the process).
     * Give breakers distinct names: two breakers with the same name share their metrics. Example:
     * `"payments-api"`.
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
    /**
     * `false` turns off the breaker's metrics and span events (`changes` and `events` still reach their
     * subscribers). Default `true`.
     */
    readonly metrics?: boolean | undefined
  }

  /**
   * What happened in a breaker, on its `events` stream (times are `Clock` epoch milliseconds). Transitions are
   * the same as on `changes`; `events` adds the rejections, and is a sliding buffer per subscriber (1024 events:
   * a subscriber that falls further behind loses the oldest).
   *
   * - `Opened`: the breaker opened at `at` (a counted failure, a failed or slow trial, or `trip`); it is half-open
   *   from `halfOpenAt`.
   * - `HalfOpened`: at exactly `openedAt + resetTimeout`.
   * - `Closed`: a trial succeeded, or `reset`.
   * - `Rejected`: a call was rejected with `CircuitOpenError` without running, in `state`; `retryAfter` as in the
   *   error.
   *
   * @since 0.2.0
   * @category models
   */
  export type Event = Data.TaggedEnum<{
    Opened: { readonly from: "closed" | "half-open"; readonly at: number; readonly halfOpenAt: number }
    HalfOpened: { readonly at: number }
    Closed: { readonly from: "open" | "half-open"; readonly at: number }
    Rejected: { readonly state: "open" | "half-open"; readonly at: number; readonly retryAfter: Duration.Duration }
  }>

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
    /**
     * What happens, as it happens: transitions and rejections (see {@link Event}), from the moment of subscription
     * on, in order. A sliding buffer per subscriber: a slow subscriber never slows the breaker (it loses its
     * oldest events instead). With no subscriber, nothing is built.
     */
    readonly events: Stream.Stream<Event>
  }
}

/**
 * The circuit breaker service tag. Provide it with {@link layer} (or {@link layerConfig}), or build one with
 * {@link make}; the static accessors (`CircuitBreaker.protect(effect)`, `CircuitBreaker.state`, ...) use the
 * service in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-throttles"
 *
 * declare const fetchUser: (id: number) => Effect.Effect<{ readonly id: number }, Error>
 * declare const cachedUser: { readonly id: number }
 *
 * const program = Effect.gen(function*() {
 *   const user = yield* CircuitBreaker.protect(fetchUser(42), { orElse: () => Effect.succeed(cachedUser) })
 *   yield* Effect.log(yield* CircuitBreaker.state)
 *   return user
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
   * Builds a breaker (the same as the module's {@link make}). Needs a `Scope`: the timer that publishes the
   * open → half-open transition runs in it, and `changes` / `events` end when it closes. Dies with an
   * `IllegalArgumentException` ("Expected X, got Y") on invalid options.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: (options?: CircuitBreaker.Options) => Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> =
    internal.make

  /**
   * A layer providing a breaker built with {@link make} (the same as the module's {@link layer}); the breaker
   * lives as long as the layer.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options?: CircuitBreaker.Options): Layer.Layer<CircuitBreaker> =>
    Layer.scoped(CircuitBreaker, internal.make(options))

  /**
   * A layer whose options are read from `Config` (the same as the module's {@link layerConfig}): the whole options
   * object as one `Config`, or an object whose fields are `Config`s. A bad value fails the layer with a
   * `ConfigError` naming the key.
   *
   * @since 0.2.0
   * @category layers
   */
  static readonly layerConfig = (
    options: Config.Config.Wrap<CircuitBreaker.Options>
  ): Layer.Layer<CircuitBreaker, ConfigError.ConfigError> =>
    Layer.scoped(CircuitBreaker, internal.makeConfig(options))

  /**
   * Runs `self` through the breaker in context: rejected at once with `CircuitOpenError` when open (or half-open
   * with every trial place taken); otherwise `self` runs and its outcome is counted. With `orElse` (asyncutils'
   * `default`), a counted typed failure is replaced by the fallback's result; ignored failures, defects (counted,
   * and propagated) and rejections are not given to it.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly protect: {
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpenError, R | CircuitBreaker>
    <A, E, R, B, E2, R2>(
      self: Effect.Effect<A, E, R>,
      options: CircuitBreaker.ProtectOptions<E, B, E2, R2>
    ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2 | CircuitBreaker>
  } = <A, E, R, B, E2, R2>(self: Effect.Effect<A, E, R>, options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>) =>
    Effect.flatMap(CircuitBreaker, (b) => b.protect(self, options!))

  /**
   * Wraps a function returning an Effect so that every call goes through the breaker in context (asyncutils'
   * decorator). The function is only called when the call is admitted.
   *
   * @since 0.2.0
   * @category accessors
   */
  static readonly protectFn = <Args extends ReadonlyArray<any>, A, E, R>(
    f: (...args: Args) => Effect.Effect<A, E, R>
  ): (...args: Args) => Effect.Effect<A, E | CircuitOpenError, R | CircuitBreaker> =>
  (...args) => Effect.flatMap(CircuitBreaker, (b) => b.protectFn(f)(...args))

  /**
   * The state of the breaker in context (half-open from exactly `openedAt + resetTimeout`).
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly state: Effect.Effect<CircuitBreaker.State, never, CircuitBreaker> = Effect.flatMap(CircuitBreaker, (b) => b.state)

  /**
   * The failure count of the breaker in context. While closed, the failures the policy counts: consecutive
   * failures (consecutive policy) or failures in the window (failure-rate policy). While open or half-open, the
   * count at which the breaker opened.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly failures: Effect.Effect<number, never, CircuitBreaker> = Effect.flatMap(CircuitBreaker, (b) => b.failures)

  /**
   * Closes the breaker in context and clears its counts. Calls already running no longer count.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, CircuitBreaker> = Effect.flatMap(CircuitBreaker, (b) => b.reset)

  /**
   * Opens the breaker in context now (half-open after `resetTimeout`; an open breaker's timeout restarts). Calls
   * already running no longer count.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly trip: Effect.Effect<void, never, CircuitBreaker> = Effect.flatMap(CircuitBreaker, (b) => b.trip)

  /**
   * Every state transition of the breaker in context from the moment of subscription on, in order (a `PubSub`:
   * each subscriber gets every change published while it is subscribed). When the breaker's scope closes, running
   * subscriptions are interrupted.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly changes: Stream.Stream<CircuitBreaker.Change, never, CircuitBreaker> =
    Stream.unwrap(Effect.map(CircuitBreaker, (b) => b.changes))

  /**
   * What happens in the breaker in context, as it happens: transitions and rejections (see
   * {@link CircuitBreaker.Event}), from the moment of subscription on, in order. A sliding buffer per subscriber:
   * a slow subscriber never slows the breaker (it loses its oldest events instead).
   *
   * @since 0.2.0
   * @category accessors
   */
  static readonly events: Stream.Stream<CircuitBreaker.Event, never, CircuitBreaker> =
    Stream.unwrap(Effect.map(CircuitBreaker, (b) => b.events))
}

export {
  /**
   * A call rejected by an open breaker (or a half-open one with every trial place taken), without running.
   * `key` is the breaker's name, `retryAfter` how long until it may admit calls again (zero when half-open: retry
   * once a trial completes), `state` the state that rejected the call.
   *
   * @since 0.1.0
   * @category errors
   */
  CircuitOpenError
} from "./internal/circuitBreaker.js"

/**
 * Builds a circuit breaker. Needs a `Scope`: the timer that publishes the open → half-open transition runs in it,
 * and `changes` / `events` end when it closes.
 *
 * Dies with an `IllegalArgumentException` ("Expected X, got Y") on invalid options.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-throttles"
 *
 * declare const callSearch: (query: string) => Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "search",
 *     resetTimeout: "10 seconds",
 *     halfOpenMaxCalls: 1,
 *     policy: { window: { duration: "1 minute" }, minimumCalls: 20, failureRateThreshold: 0.5 }
 *   })
 *   const search = breaker.protectFn((query: string) => callSearch(query))
 *   return yield* search("effect")
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: CircuitBreaker.Options) => Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> =
  CircuitBreaker.make

/**
 * A layer providing a {@link CircuitBreaker} built with {@link make}; the breaker lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: CircuitBreaker.Options) => Layer.Layer<CircuitBreaker> = CircuitBreaker.layer

/**
 * A layer whose options are read from `Config`: the whole options object as one `Config`, or an object whose
 * fields are `Config`s (every option may come from config; give `isFailure` as `Config.succeed(f)`). A bad value
 * fails the layer with a `ConfigError` naming the key: the config key for a field read on its own, the option
 * otherwise.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { CircuitBreaker } from "effect-throttles"
 *
 * const BreakerLive = CircuitBreaker.layerConfig({
 *   name: Config.succeed("payments"),
 *   maxFailures: Config.integer("PAYMENTS_MAX_FAILURES").pipe(Config.withDefault(3)),
 *   resetTimeout: Config.duration("PAYMENTS_RESET_TIMEOUT").pipe(Config.withDefault("30 seconds"))
 * })
 * // PAYMENTS_MAX_FAILURES=0 fails the layer with
 * // (Invalid data at PAYMENTS_MAX_FAILURES: "Expected maxFailures to be an integer >= 1, got 0")
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig: (
  options: Config.Config.Wrap<CircuitBreaker.Options>
) => Layer.Layer<CircuitBreaker, ConfigError.ConfigError> = CircuitBreaker.layerConfig
