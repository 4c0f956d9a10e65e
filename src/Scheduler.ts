/**
 * Scheduler: run many effects concurrently under flow control (aiometer's `run_on_each`, `run_all`, `amap` and
 * `run_any`), Effect-native.
 *
 * Two knobs, usable together:
 * - `maxAtOnce: n` — at most `n` tasks running at any moment (Effect's own `concurrency`).
 * - `maxPerSecond: r` — task starts evenly spaced `1 / r` seconds apart, the first one immediately: `10` starts at
 *   0, 100, 200, … ms; `0.2` one every 5 s. Built on a smooth {@link Throttle} (GCRA), so no window of one
 *   second ever holds more than `ceil(r)` starts. The burst it allows: none up to 250/s (every start waits its
 *   spacing); above that, the starts of 4 ms may go together (`r = 1000`: up to 4 may start closer together than 1 ms), since
 *   Node's timers cannot wake a fiber more often than about once a millisecond. Above 100/s, on the live clock, a start may
 *   also come up to 1 ms early relative to a late predecessor (the schedule keeps its rate instead of drifting).
 *
 * A task first takes its place under `maxAtOnce`, then waits for its start under `maxPerSecond`. With
 * `maxAtOnce: 2, maxPerSecond: 10` and tasks of 350 ms, starts are at 0, 100, 350, 450, 700, 800 ms. Tasks start in
 * input order. To share one rate between several calls (or with other code), pass a `throttle` instead.
 *
 * Which function when:
 * - `runEach(items, f)` — run `f` on every item for its effects; nothing is collected.
 * - `runAll(effects)` — every result, in input order (`Promise.all`); `{ settle: true }` gives every `Exit`
 *   (`Promise.allSettled`).
 * - `amap(items, f)` — a `Stream` of results in completion order; ending it early interrupts what still runs.
 * - `runAny(effects)` — the first success; the others are interrupted (`Promise.any`).
 *
 * Inputs are any `Iterable` or a `Stream`. A stream is pulled as places free up, so a paginated source (say
 * `Stream.paginateEffect` over an API) feeds the scheduler without being read to the end first.
 *
 * Failure: the first failure fails the whole call with that same error (no wrapper) and interrupts the other
 * tasks (except with `settle: true`, and in `runAny`, where failures are collected). Invalid options are defects
 * raised before any task starts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-throttles"
 *
 * const fetchUser = (id: number) => Effect.succeed({ id })
 * // at most 10 requests in flight, at most 5 started per second; results in input order
 * const users = Scheduler.runAll([1, 2, 3].map(fetchUser), { maxAtOnce: 10, maxPerSecond: 5 })
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Metric from "effect/Metric"
import type * as Stream from "effect/Stream"
import type { RunAnyError } from "./internal/scheduler.js"
import * as internal from "./internal/scheduler.js"
import type { Throttle } from "./Throttle.js"

export {
  /**
   * Every task given to `runAny` failed. `errors` holds every error, in input order.
   *
   * @since 0.1.0
   * @category errors
   */
  RunAnyError
} from "./internal/scheduler.js"

/**
 * Flow-control options shared by every run function. All are optional; with none, every task starts at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<RP = never> {
  /**
   * The maximum number of tasks running at once (aiometer's `max_at_once`). An integer >= 1; default: no limit.
   * `maxAtOnce: 5` over 1000 tasks keeps exactly 5 running until the last ones.
   */
  readonly maxAtOnce?: number | undefined
  /**
   * The maximum number of task starts per second (aiometer's `max_per_second`), evenly spaced: one start every
   * `1000 / maxPerSecond` ms, the first one immediately. A finite number > 0, fractional allowed; default: no
   * limit. `maxPerSecond: 4` starts at 0, 250, 500 ms; `maxPerSecond: 0.2` at 0, 5 s, 10 s.
   */
  readonly maxPerSecond?: number | undefined
  /**
   * A shared {@link Throttle} (from `Throttle.make` or the `Throttle` tag): every task runs inside
   * `throttle.withPermit`, so several runs (and any other code using it) share one rate. With
   * `measure: "release"` the whole task counts. Applied after `maxAtOnce` and `maxPerSecond`; default: none.
   * `{ throttle: yield* Throttle }` with `ThrottleLive("100/m")` keeps every run of the program under 100/min.
   */
  readonly throttle?: Throttle.Service | undefined
  /**
   * Watches the run: called with a fresh {@link Progress} snapshot when a task starts (after its place and its
   * permit) and when it completes or fails, on that task's fiber. Keep it quick (print a line, set a `Ref`):
   * the task's place is held while it runs. Default: none (no per-task overhead).
   * `onProgress: (p) => Effect.sync(() => process.stdout.write(`\r${p.completed}/${p.total}`))`.
   */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void, never, RP>) | undefined
  /**
   * The run's name: the `name` tag of its metrics. A string; default `"default"`. Runs under the same name add up
   * in the same series (the running gauge counts the tasks of all of them). `name: "thumbnails"`.
   */
  readonly name?: string | undefined
  /**
   * `false` records nothing in the metrics (`effect_throttles_scheduler_tasks_total`,
   * `effect_throttles_scheduler_running`) and adds nothing per task. Default `true`: a started task costs one
   * continuation (which `runAll` also uses to store the result) and three metric updates.
   */
  readonly metrics?: boolean | undefined
}

/**
 * Options of `runAll`: the flow-control options plus `settle`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunAllOptions<RP = never> extends Options<RP> {
  /**
   * `true`: never fail fast; return every task's `Exit` in input order (aiometer#32, `Promise.allSettled`).
   * Default `false`: the first failure fails the call and interrupts the others.
   */
  readonly settle?: boolean | undefined
}

/**
 * A snapshot of a run, handed to `onProgress`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Tasks started so far (each has had its place and its permit). */
  readonly started: number
  /** Tasks that succeeded. */
  readonly completed: number
  /** Tasks that failed (typed failure or defect; interrupted tasks are not counted). */
  readonly failed: number
  /** Number of inputs: known at once for an iterable; for a stream, `undefined` until the stream ends. */
  readonly total: number | undefined
}

/**
 * The inputs of a run: any iterable, or a stream (pulled as places free up).
 *
 * @since 0.1.0
 * @category models
 */
export type Input<A, E = never, R = never> = Iterable<A> | Stream.Stream<A, E, R>

/**
 * Runs `f` on every item under the options, for its effects (aiometer's `run_on_each`). Tasks start in input
 * order; the first failure fails the call with that error and interrupts the others.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-throttles"
 *
 * // at most 5 queries at once
 * Scheduler.runEach(["q1", "q2", "q3"], (q) => Effect.log(q), { maxAtOnce: 5 })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runEach = <A, B, E, R, E2 = never, R2 = never, RP = never>(
  items: Input<A, E2, R2>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  options?: Options<RP>
): Effect.Effect<void, E | NoInfer<E2>, R | NoInfer<R2> | NoInfer<RP>> => internal.runEach(items, f, options)

/**
 * Runs every effect under the options and returns the results in input order (aiometer's `run_all`); `[]` for no
 * input. The first failure fails the call with that same error and interrupts the others, unless
 * `settle: true`, which returns every `Exit` in input order instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-throttles"
 *
 * Scheduler.runAll([Effect.succeed(1), Effect.fail("boom")], { settle: true }) // [Exit.succeed(1), Exit.fail("boom")]
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runAll: {
  <A = never, E = never, R = never, E2 = never, R2 = never, RP = never>(
    effects: Input<Effect.Effect<A, E, R>, E2, R2>,
    options: RunAllOptions<RP> & { readonly settle: true }
  ): Effect.Effect<Array<Exit.Exit<NoInfer<A>, NoInfer<E>>>, NoInfer<E2>, NoInfer<R | R2 | RP>>
  <A = never, E = never, R = never, E2 = never, R2 = never, RP = never>(
    effects: Input<Effect.Effect<A, E, R>, E2, R2>,
    options?: RunAllOptions<RP> & { readonly settle?: false | undefined }
  ): Effect.Effect<Array<NoInfer<A>>, NoInfer<E | E2>, NoInfer<R | R2 | RP>>
} = internal.runAll as any

/**
 * Runs `f` on every item under the options and streams the results in completion order (aiometer's `amap`).
 * Ending the stream early (`Stream.take`, an interrupted consumer) interrupts the tasks still running; the first
 * failure ends the stream with that error.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Scheduler } from "effect-throttles"
 *
 * // sleep sort: 100, 200, 300
 * Scheduler.amap([300, 100, 200], (ms) => Effect.as(Effect.sleep(ms), ms)).pipe(Stream.runCollect)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const amap = <A, B, E, R, E2 = never, R2 = never, RP = never>(
  items: Input<A, E2, R2>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  options?: Options<RP>
): Stream.Stream<B, E | NoInfer<E2>, R | NoInfer<R2> | NoInfer<RP>> => internal.amap(items, f, options)

/**
 * Runs the effects under the options and returns the first success, interrupting the others (aiometer's
 * `run_any`, `Promise.any`). Fails only when every effect failed, with {@link RunAnyError} holding every error in
 * input order; with no effects at all, with `Cause.NoSuchElementException`. Defects are not collected: a task
 * that dies fails the call with its defect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scheduler } from "effect-throttles"
 *
 * const mirror = (name: string, ms: number) => Effect.as(Effect.sleep(ms), name)
 * // a hedged request: one more mirror every 200 ms until one answers; the first answer wins ("b" at 300 ms)
 * Scheduler.runAny([mirror("a", 1000), mirror("b", 100), mirror("c", 50)], { maxPerSecond: 5 })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runAny = <A = never, E = never, R = never, E2 = never, R2 = never, RP = never>(
  effects: Input<Effect.Effect<A, E, R>, E2, R2>,
  options?: Options<RP>
): Effect.Effect<
  NoInfer<A>,
  RunAnyError<NoInfer<E>> | Cause.NoSuchElementException | NoInfer<E2>,
  NoInfer<R | R2 | RP>
> => internal.runAny(effects, options)

/**
 * `effect_throttles_scheduler_tasks_total`: tasks that started (their `maxAtOnce` place and their permits taken)
 * and ended, tagged `name` (the run's `name`, default `"default"`) and `outcome`: `"success"`, `"failure"` (a
 * typed failure or a defect) or `"interrupted"` (e.g. the siblings a fail-fast run stopped, `runAny`'s losers).
 * Read one run's successes with
 * `Metric.value(Metric.tagged(Metric.tagged(Scheduler.tasksTotal, "name", "thumbnails"), "outcome", "success"))`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tasksTotal: Metric.Metric.Counter<number> = internal.tasksTotal

/**
 * `effect_throttles_scheduler_running`: tasks running now (started and not ended), tagged `name`. A task waiting
 * for its place or its permit is not running. Tasks interrupted by the run's own teardown (a fail-fast failure,
 * `runAny`'s winner, an `amap` stream ended early, an interrupted caller) leave the gauge, and are counted as
 * `"interrupted"`, as the run ends — once every one of them has stopped.
 *
 * @since 0.2.0
 * @category metrics
 */
export const running: Metric.Metric.Gauge<number> = internal.running
