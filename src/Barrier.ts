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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as internal from "./internal/barrier.js"
import type { BarrierBrokenError, BarrierTimeoutError } from "./internal/barrier.js"

export {
  /**
   * A `wait` failed because the barrier is broken (see {@link BarrierBrokenReason}), or was broken or reset while
   * the fiber was waiting. `key` is the barrier's name.
   *
   * @since 0.1.0
   * @category errors
   */
  BarrierBrokenError,
  /**
   * This fiber's `wait` timed out before the barrier tripped. The barrier is now broken: every other current
   * waiter failed with `BarrierBrokenError` (reason `"timeout"`) and later waits fail until `reset`.
   *
   * @since 0.1.0
   * @category errors
   */
  BarrierTimeoutError
} from "./internal/barrier.js"

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

/**
 * The barrier service. `S` is the type of the states parties bring.
 *
 * The `Barrier` tag holds a `Barrier.Service<unknown>`; for a typed barrier in context, declare your own tag
 * (`class Phases extends Context.Tag("app/Phases")<Phases, Barrier.Service<number>>() {}`) and build it with
 * `Barrier.layerAs(Phases, options)`, or keep the service from `Barrier.make<S>` in a variable.
 *
 * Metrics (unless `metrics: false`; tag `name`): `effect_throttles_barrier_trips_total` counts releases,
 * `effect_throttles_barrier_broken_total` (tag `reason` = `"aborted"` / `"timeout"`) counts breaks. A reset and the
 * end of a one-shot barrier's only generation are not breaks.
 *
 * @since 0.1.0
 * @category tags
 */
export class Barrier extends Context.Tag("effect-throttles/Barrier")<Barrier, Barrier.Service<unknown>>() {
  /**
   * Builds a barrier. Dies with an "Expected ..., got ..." message when `parties` is not an integer >= 1,
   * `maxState` not an integer >= 0, `initialState` not iterable, `name` not a string, or `cyclic` / `metrics` not
   * booleans. Needs no `Scope` (nothing runs in the background).
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: <S = unknown>(options: Barrier.Options<S>) => Effect.Effect<Barrier.Service<S>> = internal.make

  /**
   * A layer providing the `Barrier` tag (states of type `unknown`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: Barrier.Options<unknown>): Layer.Layer<Barrier> =>
    Layer.effect(Barrier, internal.make(options))

  /**
   * A layer providing a barrier under your own tag, so the state type is kept:
   *
   * ```ts
   * import { Context } from "effect"
   * import { Barrier } from "effect-throttles"
   *
   * class Phases extends Context.Tag("app/Phases")<Phases, Barrier.Service<number>>() {}
   * const PhasesLive = Barrier.layerAs(Phases, { parties: 4 })
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerAs = <I, S>(tag: Context.Tag<I, Barrier.Service<S>>, options: Barrier.Options<S>): Layer.Layer<I> =>
    Layer.effect(tag, internal.make(options))

  /**
   * `wait` on the barrier in context: arrives with an optional state (`undefined` is not recorded) and waits for
   * the others. Fails at once with `BarrierBrokenError` when the barrier is broken. Interrupting a waiting fiber
   * withdraws its arrival and its state, as if it had never arrived. With `{ timeout }`: when it elapses before the
   * barrier trips, this fiber fails with `BarrierTimeoutError` and the barrier breaks for everybody.
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
   * `abort` on the barrier in context: breaks the barrier; current waiters fail with `BarrierBrokenError`, later
   * waits too, until `reset`.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly abort: Effect.Effect<void, never, Barrier> = Effect.flatMap(Barrier, (b) => b.abort)

  /**
   * `reset` on the barrier in context: fails the current waiters with `BarrierBrokenError` (reason `"reset"`) and
   * makes the barrier usable.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly reset: Effect.Effect<void, never, Barrier> = Effect.flatMap(Barrier, (b) => b.reset)

  /**
   * `broken` of the barrier in context: `true` after an abort, a timeout, or the release of a one-shot barrier,
   * until `reset`.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly broken: Effect.Effect<boolean, never, Barrier> = Effect.flatMap(Barrier, (b) => b.broken)

  /**
   * `waiting` of the barrier in context: the number of parties waiting now.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly waiting: Effect.Effect<number, never, Barrier> = Effect.flatMap(Barrier, (b) => b.waiting)

  /**
   * `remaining` of the barrier in context: `parties - waiting`, how many more arrivals trip the barrier.
   *
   * @since 0.1.0
   * @category accessors
   */
  static readonly remaining: Effect.Effect<number, never, Barrier> = Effect.flatMap(Barrier, (b) => b.remaining)

  /**
   * `parties` of the barrier in context: the number of parties needed to trip (fixed configuration).
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
    /**
     * The barrier's name: shown in error messages (`key` of the errors) and used as the `name` tag of its metrics.
     * A string; default `"barrier"`. Example: `"phase"`.
     */
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
    /**
     * `false` records nothing in the barrier's metrics (`effect_throttles_barrier_trips_total`,
     * `effect_throttles_barrier_broken_total`). Default `true`.
     */
    readonly metrics?: boolean | undefined
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

/**
 * Builds a barrier (the same as `Barrier.make`): `import { make } from "effect-throttles/Barrier"`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: <S = unknown>(options: Barrier.Options<S>) => Effect.Effect<Barrier.Service<S>> = internal.make

/**
 * A layer providing the `Barrier` tag (the same as `Barrier.layer`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options: Barrier.Options<unknown>) => Layer.Layer<Barrier> = Barrier.layer

/**
 * A layer providing a barrier under your own tag (the same as `Barrier.layerAs`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerAs: <I, S>(tag: Context.Tag<I, Barrier.Service<S>>, options: Barrier.Options<S>) => Layer.Layer<I> =
  Barrier.layerAs

/**
 * `effect_throttles_barrier_trips_total`: generations released (the `parties`-th live arrival tripped the
 * barrier), tagged `name`. Read one barrier's count with
 * `Metric.value(Metric.tagged(Barrier.tripsTotal, "name", "phase"))`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tripsTotal: Metric.Metric.Counter<number> = internal.tripsTotal

/**
 * `effect_throttles_barrier_broken_total`: times a barrier broke, tagged `name` and `reason` (`"aborted"`: `abort`
 * on a usable barrier; `"timeout"`: a waiter's timeout). Resets and a one-shot barrier's release are not counted.
 *
 * @since 0.2.0
 * @category metrics
 */
export const brokenTotal: Metric.Metric.Counter<number> = internal.brokenTotal
