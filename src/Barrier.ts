/**
 * A stateful, cyclic barrier (asyncutils' `StatefulBarrier`): `parties` fibers meet, each may bring a piece of
 * state, and when the last one arrives all are released together, each learning its arrival position and the
 * states everyone brought.
 *
 * Algorithm: arrivals are counted per generation in one `Ref` (decide atomically, act afterwards); each waiter
 * parks on its own `Deferred`. The `parties`-th live arrival trips the barrier and completes every waiter's
 * `Deferred` with the same frozen snapshot of states. No polling, no background fiber; O(1) amortized per call.
 *
 * Guarantee: a generation is released only when `parties` live (not interrupted, not timed out) fibers are
 * waiting in it, and then every one of them gets the same `states`. Nobody ever succeeds with partial state:
 * an abort or a timeout fails every current waiter.
 *
 * When to use which operation:
 * - `wait(state?)` to meet the others (add `{ timeout }` to give up — which breaks the barrier for everybody);
 * - `abort` to give up on behalf of everybody (waiters and later arrivals fail until `reset`);
 * - `reset` to start over after a break (current waiters fail, the barrier is usable again).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "effect-throttles"
 *
 * const program = Effect.gen(function*() {
 *   const barrier = yield* Barrier.make<number>({ parties: 3 })
 *   const results = yield* Effect.all(
 *     [1, 3, 5].map((n) => barrier.wait(n)),
 *     { concurrency: "unbounded" }
 *   )
 *   // results: [{ position: 0, states: [1, 3, 5] }, { position: 1, ... }, { position: 2, ... }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as core from "./internal/barrier.js"

/**
 * Why a barrier is broken, as carried by {@link BarrierBrokenError}:
 * - `"aborted"`: `abort` was called;
 * - `"timeout"`: a waiter's `timeout` elapsed before the barrier tripped;
 * - `"reset"`: `reset` was called while this fiber was waiting (the barrier itself is usable again);
 * - `"tripped"`: a one-shot (`cyclic: false`) barrier has already released its only generation.
 *
 * @since 0.1.0
 * @category models
 */
export type BarrierBrokenReason = "aborted" | "timeout" | "reset" | "tripped"

const describeReason = (reason: BarrierBrokenReason): string => {
  switch (reason) {
    case "aborted":
      return "it was aborted"
    case "timeout":
      return "a waiting party timed out"
    case "reset":
      return "it was reset while this party was waiting"
    case "tripped":
      return "it is one-shot (cyclic: false) and has already tripped"
  }
}

/**
 * A `wait` failed because the barrier is broken (see {@link BarrierBrokenReason}), or was broken or reset while the
 * fiber was waiting. `key` is the barrier's name.
 *
 * @since 0.1.0
 * @category errors
 */
export class BarrierBrokenError extends Data.TaggedError("BarrierBrokenError")<{
  readonly key: string
  readonly reason: BarrierBrokenReason
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Barrier "${this.key}" is broken: ${describeReason(this.reason)}`
  }
}

/**
 * This fiber's `wait` timed out before the barrier tripped. The barrier is now broken: every other current waiter
 * failed with `BarrierBrokenError` (reason `"timeout"`) and later waits fail until `reset`.
 *
 * @since 0.1.0
 * @category errors
 */
export class BarrierTimeoutError extends Data.TaggedError("BarrierTimeoutError")<{
  /** The barrier's name. */
  readonly key: string
  /** The timeout that elapsed. */
  readonly timeout: Duration.Duration
  /** The number of parties needed to trip. */
  readonly parties: number
  /** The live arrivals (including this one) when the timeout elapsed. */
  readonly arrived: number
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Barrier "${this.key}" timed out after ${Duration.format(this.timeout)} with ${this.arrived} of ${this.parties} parties arrived; the barrier is now broken`
  }
}

/**
 * The barrier service. `S` is the type of the states parties bring.
 *
 * The `Barrier` tag holds a `Barrier.Service<unknown>`; for a typed barrier in context, declare your own tag
 * (`class Phases extends Context.Tag("app/Phases")<Phases, Barrier.Service<number>>() {}`) and build it with
 * `Barrier.layerAs(Phases, options)`, or keep the service from `Barrier.make<S>` in a variable.
 *
 * @since 0.1.0
 * @category tags
 */
export class Barrier extends Context.Tag("effect-throttles/Barrier")<Barrier, Barrier.Service<unknown>>() {
  /**
   * Builds a barrier. Dies with an "Expected ..., got ..." message when `parties` is not an integer >= 1 or
   * `maxState` is not an integer >= 0. Needs no `Scope` (nothing runs in the background).
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: <S = unknown>(options: Barrier.Options<S>) => Effect.Effect<Barrier.Service<S>> = (
    options
  ) => make(options)

  /**
   * A layer providing the `Barrier` tag (states of type `unknown`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: (options: Barrier.Options<unknown>) => Layer.Layer<Barrier> = (options) =>
    Layer.effect(Barrier, make(options))

  /**
   * A layer providing a barrier under your own tag, so the state type is kept:
   *
   * ```ts
   * class Phases extends Context.Tag("app/Phases")<Phases, Barrier.Service<number>>() {}
   * const PhasesLive = Barrier.layerAs(Phases, { parties: 4 })
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerAs: <I, S>(
    tag: Context.Tag<I, Barrier.Service<S>>,
    options: Barrier.Options<S>
  ) => Layer.Layer<I> = (tag, options) => Layer.effect(tag, make(options))

  /**
   * Accessor: `wait` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly wait = (
    state?: unknown,
    options?: Barrier.WaitOptions
  ): Effect.Effect<Barrier.Result<unknown>, BarrierBrokenError | BarrierTimeoutError, Barrier> =>
    Effect.flatMap(Barrier, (barrier) => barrier.wait(state, options))

  /**
   * Accessor: `abort` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly abort: Effect.Effect<void, never, Barrier> = Effect.flatMap(Barrier, (b) => b.abort)

  /**
   * Accessor: `reset` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, Barrier> = Effect.flatMap(Barrier, (b) => b.reset)

  /**
   * Accessor: `broken` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly broken: Effect.Effect<boolean, never, Barrier> = Effect.flatMap(Barrier, (b) => b.broken)

  /**
   * Accessor: `waiting` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly waiting: Effect.Effect<number, never, Barrier> = Effect.flatMap(Barrier, (b) => b.waiting)

  /**
   * Accessor: `remaining` on the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly remaining: Effect.Effect<number, never, Barrier> = Effect.flatMap(Barrier, (b) => b.remaining)

  /**
   * Accessor: `parties` of the barrier in context.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly parties: Effect.Effect<number, never, Barrier> = Effect.map(Barrier, (b) => b.parties)
}

/**
 * Types of the barrier: options, results and the service.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Barrier {
  /**
   * Options of `Barrier.make`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options<S> {
    /**
     * How many fibers must be waiting for the barrier to trip. An integer >= 1 (1 = every `wait` returns at once).
     * Required. Example: `3` — the third concurrent `wait` releases all three.
     */
    readonly parties: number
    /** Shown in error messages. Default `"barrier"`. */
    readonly name?: string | undefined
    /**
     * States placed before the parties' states in the first release (only the first: each later generation
     * collects its own). Read once, at `make`. Default: none. Example: `[0]` with parties 2 waiting with 1 and 2
     * gives `[0, 1, 2]`, then `[3, 4]` for the next generation.
     */
    readonly initialState?: Iterable<S> | undefined
    /**
     * Keep only the last `maxState` states of a release (initial states included). An integer >= 0.
     * Default: no limit. Example: `2` with states 1, 3, 5 gives `[3, 5]`.
     */
    readonly maxState?: number | undefined
    /**
     * `true` (default): after a release the barrier starts a new, empty generation. `false`: one-shot — after
     * the release the barrier is broken (`broken` is `true`) and later waits fail with `BarrierBrokenError`
     * until `reset`.
     */
    readonly cyclic?: boolean | undefined
  }

  /**
   * Options of `wait`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface WaitOptions {
    /**
     * Give up after this long. When it elapses before the barrier trips, this fiber fails with
     * `BarrierTimeoutError` and the barrier breaks: every other current waiter fails with `BarrierBrokenError`.
     * Default: wait forever.
     */
    readonly timeout?: Duration.DurationInput | undefined
  }

  /**
   * What every released party gets: its position (0-based arrival index among the parties of the release) and
   * the states of the release — a frozen array shared by all of them.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Result<S> {
    readonly position: number
    readonly states: ReadonlyArray<S>
  }

  /**
   * The barrier service.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service<S> {
    /** The barrier's name (from the options; default `"barrier"`). */
    readonly name: string
    /** The number of parties needed to trip (fixed configuration). */
    readonly parties: number
    /**
     * Arrives with an optional state (`undefined` is not recorded) and waits for the others. Fails at once with
     * `BarrierBrokenError` when the barrier is broken. Interrupting a waiting fiber withdraws its arrival and its
     * state, as if it had never arrived.
     */
    readonly wait: (
      state?: S,
      options?: WaitOptions
    ) => Effect.Effect<Result<S>, BarrierBrokenError | BarrierTimeoutError>
    /** Breaks the barrier: current waiters fail with `BarrierBrokenError`, later waits too, until `reset`. */
    readonly abort: Effect.Effect<void>
    /** Fails the current waiters with `BarrierBrokenError` (reason `"reset"`) and makes the barrier usable. */
    readonly reset: Effect.Effect<void>
    /** `true` after an abort, a timeout, or the release of a one-shot barrier, until `reset`. */
    readonly broken: Effect.Effect<boolean>
    /** The number of parties waiting now. */
    readonly waiting: Effect.Effect<number>
    /** `parties - waiting`: how many more arrivals trip the barrier. */
    readonly remaining: Effect.Effect<number>
  }
}

// -----------------------------------------------------------------------------
// The thin shell: one Ref holding the pure core's state, one Deferred per waiter.
// -----------------------------------------------------------------------------

type Waiter<S> = Deferred.Deferred<Barrier.Result<S>, BarrierBrokenError>

function make<S>(options: Barrier.Options<S>): Effect.Effect<Barrier.Service<S>> {
  return Effect.suspend(() => {
    const config = core.validate<S>(options)
    if (typeof config === "string") return Effect.dieMessage(config)
    const name = options.name ?? "barrier"
    return Effect.map(Ref.make(core.initial<S, Waiter<S>>()), (ref) => service(name, config, ref))
  })
}

function service<S>(
  name: string,
  config: core.Config<S>,
  ref: Ref.Ref<core.State<S, Waiter<S>>>
): Barrier.Service<S> {
  const broken = (reason: BarrierBrokenReason) => new BarrierBrokenError({ key: name, reason })

  const failAll = (waiters: ReadonlyArray<Waiter<S>>, reason: BarrierBrokenReason): Effect.Effect<void> =>
    waiters.length === 0
      ? Effect.void
      : Effect.forEach(waiters, (waiter) => Deferred.fail(waiter, broken(reason)), { discard: true })

  const withdraw = (ticket: number) => Ref.update(ref, (state) => core.withdraw(state, ticket))

  const onTimeout = (
    waiter: Waiter<S>,
    ticket: number,
    timeout: Duration.Duration
  ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
    Effect.flatMap(Ref.modify(ref, (state) => core.timeout(state, ticket)), (
      decision
    ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
      decision._tag === "Settled"
        // Released (or failed) at the same instant: the outcome is already in the Deferred.
        ? Deferred.await(waiter)
        : Effect.zipRight(
          failAll(decision.others, "timeout"),
          Effect.fail(
            new BarrierTimeoutError({ key: name, timeout, parties: config.parties, arrived: decision.arrived })
          )
        ))

  const wait = (
    value?: S,
    options?: Barrier.WaitOptions
  ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> => {
    // Decode the timeout before arriving, so a bad input can never leave a ghost arrival behind.
    const timeoutInput = options?.timeout
    const decoded = timeoutInput === undefined ? Option.none() : Duration.decodeUnknown(timeoutInput)
    if (timeoutInput !== undefined && Option.isNone(decoded)) {
      return Effect.dieMessage(`Expected timeout to be a Duration input, got ${String(timeoutInput)}`)
    }
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Deferred.make<Barrier.Result<S>, BarrierBrokenError>(), (waiter) =>
        Effect.flatMap(Ref.modify(ref, (state) => core.arrive(config, state, value, waiter)), (decision) => {
          switch (decision._tag) {
            case "Rejected":
              return Effect.fail(broken(decision.reason))
            case "Tripped": {
              const { position, states } = decision
              return Effect.as(
                Effect.forEach(
                  decision.released,
                  (released) => Deferred.succeed(released.waiter, { position: released.position, states }),
                  { discard: true }
                ),
                { position, states }
              )
            }
            case "Waiting": {
              const ticket = decision.ticket
              if (Option.isNone(decoded)) {
                return Effect.onInterrupt(restore(Deferred.await(waiter)), () => withdraw(ticket))
              }
              const timeout = decoded.value
              return Effect.flatMap(
                Effect.onInterrupt(
                  restore(Effect.timeoutOption(Deferred.await(waiter), timeout)),
                  () => withdraw(ticket)
                ),
                (result): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
                  Option.isSome(result) ? Effect.succeed(result.value) : onTimeout(waiter, ticket, timeout)
              )
            }
          }
        }))
    )
  }

  const waiting = Effect.map(Ref.get(ref), core.waiting)

  return {
    name,
    parties: config.parties,
    wait,
    abort: Effect.uninterruptible(
      Effect.flatMap(Ref.modify(ref, core.abort), (waiters) => failAll(waiters, "aborted"))
    ),
    reset: Effect.uninterruptible(
      Effect.flatMap(Ref.modify(ref, core.reset), (waiters) => failAll(waiters, "reset"))
    ),
    broken: Effect.map(Ref.get(ref), (state) => state.broken !== undefined),
    waiting,
    remaining: Effect.map(waiting, (n) => config.parties - n)
  }
}
