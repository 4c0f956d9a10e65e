/**
 * TaskThrottler: a throttled work queue with retry-on-throttled, a consumer, and a full account of every task
 * (asyncio_throttler's `Throttler(todo, consumer, ...)`, without its hang).
 *
 * `run({ tasks, consumer, window, perWindow, concurrency, maxRetries })` runs the tasks in input
 * order under two limits:
 * - at most `perWindow` starts in any sliding window of length `window` (a start at `t` frees its slot at exactly
 *   `t + window`; every attempt, retries included, counts);
 * - at most `concurrency` tasks running at once.
 *
 * Each success is handed to `consumer` as it completes (completion order), one at a time, on its own fiber: a slow
 * consumer never holds up admissions. A task that fails with {@link ThrottledError} ("the server said slow down;
 * run this replacement later") has its replacement put at the FRONT of the queue, and admissions pause for
 * `window` (or the error's `retryAfter`) — tasks already running go on, and so does the consumer. After
 * `maxRetries` retries of one input it is given up. Any other typed failure is recorded with its input index.
 *
 * The run always completes — also when the last tasks fail — with a {@link Summary} in which every
 * input appears exactly once (processed, failed or gave up). A failing consumer fails the run (and interrupts the
 * tasks still running); so does a task's defect. Time comes from Effect's `Clock`: no polling, one timer at a time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskThrottler, ThrottledError } from "effect-throttles"
 *
 * const fetchPage = (n: number): Effect.Effect<string, ThrottledError> =>
 *   n === 3 ? Effect.fail(new ThrottledError({ retry: Effect.succeed("page 3, later") })) : Effect.succeed(`page ${n}`)
 *
 * const program = TaskThrottler.run({
 *   tasks: [1, 2, 3, 4].map(fetchPage),
 *   consumer: (page) => Effect.log(page),
 *   window: "10 seconds",
 *   perWindow: 20,
 *   concurrency: 5
 * }) // { processed: 4, failed: [], gaveUp: [], retries: 1 }
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type { ThrottledError } from "./internal/taskThrottler.js"
import * as internal from "./internal/taskThrottler.js"

export {
  /**
   * A task's way of saying "throttled: run `retry` (the replacement task) later". The replacement goes to the
   * front of the queue and admissions pause for `retryAfter` if given, else for the run's `window`.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { ThrottledError } from "effect-throttles"
   *
   * const call: Effect.Effect<string, ThrottledError> = Effect.suspend(() =>
   *   Math.random() < 0.5 ? Effect.succeed("ok") : Effect.fail(new ThrottledError({ retry: call, retryAfter: "2 seconds" }))
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ThrottledError
} from "./internal/taskThrottler.js"

/**
 * The options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, E = never, R = never, E2 = never, R2 = never> {
  /**
   * The tasks, run in this order (any iterable, pulled lazily; may be empty). A task fails with
   * {@link ThrottledError} to be retried later.
   */
  readonly tasks: Iterable<Effect.Effect<A, E, R>>
  /**
   * Receives each success with its input index, in completion order, one at a time, on its own fiber. A failure
   * fails the run. `(user, i) => Effect.log(`#${i}: ${user.name}`)`.
   */
  readonly consumer: (value: A, index: number) => Effect.Effect<unknown, E2, R2>
  /**
   * The length of the sliding window, and the default pause after a `ThrottledError`. A positive duration.
   * `window: "10 seconds"` with `perWindow: 20`: at most 20 starts in any 10 s.
   */
  readonly window: Duration.DurationInput
  /** The maximum number of starts (attempts, retries included) in any window. An integer >= 1. */
  readonly perWindow: number
  /** The maximum number of tasks running at once. An integer >= 1. `concurrency: 5`. */
  readonly concurrency: number
  /**
   * How many times one input may be retried after its first attempt (an integer >= 0; default 10).
   * `maxRetries: 2` allows at most 3 attempts; then the input is recorded in `gaveUp`.
   */
  readonly maxRetries?: number | undefined
  /**
   * The run's name: the `name` tag of its metrics. A string; default `"default"`. Runs with the same name add up
   * in the same series. `name: "crawler"`.
   */
  readonly name?: string | undefined
  /**
   * `false` records nothing in the metrics (`effect_throttles_task_throttler_retries_total`). Default `true`.
   */
  readonly metrics?: boolean | undefined
}

/**
 * The account of a run: every input appears exactly once, so
 * `processed + failed.length + gaveUp.length` is the number of inputs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary<E> {
  /** Inputs whose task (or a replacement) succeeded; each was handed to the consumer. */
  readonly processed: number
  /** Inputs whose task failed with another error than `ThrottledError`, by input index (ascending). */
  readonly failed: ReadonlyArray<{ readonly index: number; readonly error: E }>
  /** Inputs still throttled after `maxRetries` retries, with the last `ThrottledError`, by input index. */
  readonly gaveUp: ReadonlyArray<{ readonly index: number; readonly error: ThrottledError }>
  /** Replacements run in total (retries, not counting first attempts). */
  readonly retries: number
}

/**
 * Runs the tasks under the window and concurrency limits, feeding successes to the consumer, and returns the
 * {@link Summary}. Invalid options (`perWindow` / `concurrency` not integers >= 1, `window` not a
 * positive duration, `maxRetries` not an integer >= 0, `name` not a string, `metrics` not a boolean) are defects
 * raised before any task starts. Each retry is counted in `effect_throttles_task_throttler_retries_total` (tag
 * `name`) unless `metrics: false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskThrottler } from "effect-throttles"
 *
 * // 2 starts per second, 2 at once: starts at 0, 0, 1000, 1000, 2000 ms
 * TaskThrottler.run({
 *   tasks: [1, 2, 3, 4, 5].map((n) => Effect.succeed(n * n)),
 *   consumer: (square) => Effect.log(square),
 *   window: "1 second",
 *   perWindow: 2,
 *   concurrency: 2
 * })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A = never, E = never, R = never, E2 = never, R2 = never>(
  options: Options<A, E, R, E2, R2>
): Effect.Effect<
  Summary<NoInfer<Exclude<E, ThrottledError<any, any, any>>>>,
  NoInfer<E2>,
  NoInfer<R | R2>
> => internal.run(options)

/**
 * `effect_throttles_task_throttler_retries_total`: replacement tasks queued after a `ThrottledError` (the
 * `retries` of the summaries), tagged `name` (the run's `name`, default `"default"`). Read one run's count with
 * `Metric.value(Metric.tagged(TaskThrottler.retriesTotal, "name", "crawler"))`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const retriesTotal: Metric.Metric.Counter<number> = internal.retriesTotal
