/**
 * The TaskThrottler's Effect shell, over the pure core in `taskThrottlerCore.ts` (admission, work queue, verdicts).
 *
 * One coordinator fiber owns all the state: it admits tasks (forking each into the run's scope) while the core
 * allows, and otherwise waits for the next event — a task's outcome, posted on an unbounded queue — or, when only
 * time holds the next admission back, for exactly that instant. Successes are handed over, in completion order,
 * to a separate consumer fiber through another unbounded queue, so the consumer never holds up admissions. The
 * coordinator and the consumer run together under `Effect.all(..., { concurrency: 2 })`: a failing consumer stops
 * the coordinator, and closing the run's scope interrupts every task still running.
 *
 * Termination: the coordinator stops when nothing runs and nothing is queued, whatever the last outcomes were
 * (the seed hangs when its last tasks fail).
 *
 * Metrics: `effect_throttles_task_throttler_retries_total` (tag `name`) is counted in the step that queues the
 * replacement, so it always equals the run's `retries` so far.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as TaskThrottler from "../TaskThrottler.js"
import { firstFailure } from "./failure.js"
import * as check from "./options.js"
import * as core from "./taskThrottlerCore.js"

/** See `TaskThrottler.ThrottledError`. */
export class ThrottledError<out A = unknown, out E = unknown, out R = unknown>
  extends Data.TaggedError("ThrottledError")<{
    /** The replacement task to run instead (often the same task again). */
    readonly retry: Effect.Effect<A, E, R>
    /** How long to pause admissions; default: the run's `window`. */
    readonly retryAfter?: Duration.DurationInput | undefined
  }>
{
  override get message(): string {
    return this.retryAfter === undefined
      ? "Task throttled: retry after the window"
      : `Task throttled: retry after ${Duration.format(Duration.decode(this.retryAfter))}`
  }
}

/**
 * Classifies a task's typed failure: a `ThrottledError` by the core's rule (retry, or give up after `maxRetries`,
 * pausing for its `retryAfter` or the window); anything else is a recorded failure.
 */
export const classify = (error: unknown, retries: number, maxRetries: number, window: number): core.Verdict =>
  error instanceof ThrottledError
    ? core.classifyThrottled(
      error.retryAfter === undefined ? undefined : Duration.toMillis(Duration.decode(error.retryAfter)),
      retries,
      maxRetries,
      window
    )
    : { _tag: "Failed" }

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

/** Validated options. */
export interface Config {
  readonly window: number
  readonly perWindow: number
  readonly concurrency: number
  readonly maxRetries: number
  readonly name: string
  readonly metrics: boolean
}

/** Validates the options: the configuration, or the "Expected X, got Y" message of the first bad option. */
export const resolveConfig = (options: {
  readonly window: unknown
  readonly perWindow: unknown
  readonly concurrency: unknown
  readonly maxRetries?: unknown
  readonly tasks: unknown
  readonly consumer: unknown
  readonly name?: unknown
  readonly metrics?: unknown
}): Config | string => {
  const tasks = options.tasks as { [Symbol.iterator]?: unknown } | null | undefined
  if (tasks === null || tasks === undefined || typeof tasks[Symbol.iterator] !== "function") {
    return check.expected("option tasks to be an iterable of effects", options.tasks)
  }
  const window = check.duration(options.window, "option window")
  const maxRetries = options.maxRetries ?? 10
  const invalid = check.fn(options.consumer, "option consumer") ??
    (typeof window === "string" ? check.expected("option window to be a positive finite duration", options.window) : undefined) ??
    check.int(options.perWindow, "option perWindow", 1) ??
    check.int(options.concurrency, "option concurrency", 1) ??
    check.int(maxRetries, "option maxRetries", 0) ??
    (options.name === undefined ? undefined : check.string(options.name, "option name")) ??
    (options.metrics === undefined ? undefined : check.boolean(options.metrics, "option metrics"))
  if (invalid !== undefined) return invalid
  if (typeof window === "string") return window // (already reported above)
  return {
    window: Duration.toMillis(window),
    perWindow: options.perWindow as number,
    concurrency: options.concurrency as number,
    maxRetries: maxRetries as number,
    name: (options.name as string | undefined) ?? "default",
    metrics: (options.metrics as boolean | undefined) ?? true
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------------------

/**
 * `effect_throttles_task_throttler_retries_total` (tag `name`): replacements queued after a `ThrottledError`. No
 * description, so that `Metric.counter(<name>)` in user code reads the same metric.
 */
export const retriesTotal: Metric.Metric.Counter<number> = Metric.counter("effect_throttles_task_throttler_retries_total")

/** No fiber-level tags: the run's metrics carry its own tags only. */
const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

// ---------------------------------------------------------------------------------------------------------------
// Shell
// ---------------------------------------------------------------------------------------------------------------

interface Outcome<A, E, R> {
  readonly entry: core.Entry<Effect.Effect<A, E, R>>
  readonly exit: Exit.Exit<A, E>
}

/** The end of the results, for the consumer. */
const DONE = Symbol("effect-throttles/TaskThrottler/done")

interface Result<A> {
  readonly value: A
  readonly index: number
}

/** `TaskThrottler.run`. */
export const run = <A, E, R, E2, R2>(
  options: TaskThrottler.Options<A, E, R, E2, R2>
): Effect.Effect<TaskThrottler.Summary<Exclude<E, ThrottledError<any, any, any>>>, E2, R | R2> =>
  Effect.suspend(() => {
    const config = resolveConfig(options)
    if (typeof config === "string") return check.die(config)
    type Failure = Exclude<E, ThrottledError<any, any, any>>
    const { concurrency, maxRetries, window } = config
    const admission = core.makeAdmission(config.perWindow, window)
    const work = core.makeWorkQueue(options.tasks)
    const retried = config.metrics ? Metric.taggedWithLabels(retriesTotal, [MetricLabel.make("name", config.name)]) : undefined
    const failed: Array<{ readonly index: number; readonly error: Failure }> = []
    const gaveUp: Array<{ readonly index: number; readonly error: ThrottledError }> = []
    let processed = 0
    let retries = 0
    let running = 0

    return Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const clock = yield* Effect.clock
      const events = yield* Queue.unbounded<Outcome<A, E, R>>()
      const results = yield* Queue.unbounded<Result<A> | typeof DONE>()

      const start = (entry: core.Entry<Effect.Effect<A, E, R>>, now: number) => {
        core.recordStart(admission, now)
        running++
        return Effect.forkIn(
          Effect.flatMap(Effect.exit(entry.effect), (exit) => Queue.offer(events, { entry, exit })),
          scope
        )
      }

      /** Applies one outcome; a defect (or a task interrupting itself) fails the run with its cause. */
      const handle = (outcome: Outcome<A, E, R>): Effect.Effect<void> => {
        running--
        const { entry, exit } = outcome
        if (exit._tag === "Success") {
          processed++
          return Queue.offer(results, { value: exit.value, index: entry.index })
        }
        const failure = Cause.failureOrCause(exit.cause)
        if (Either.isRight(failure)) return Effect.failCause(failure.right)
        const error = failure.left
        const verdict = classify(error, entry.retries, maxRetries, window)
        switch (verdict._tag) {
          case "Failed": {
            failed.push({ index: entry.index, error: error as Failure })
            return Effect.void
          }
          case "Retry": {
            const throttled = error as ThrottledError
            retries++
            retried?.unsafeUpdate(1, NO_TAGS)
            core.pushFront(work, {
              index: entry.index,
              effect: throttled.retry as Effect.Effect<A, E, R>,
              retries: entry.retries + 1
            })
            core.pause(admission, clock.unsafeCurrentTimeMillis(), verdict.pause)
            return Effect.void
          }
          case "GaveUp": {
            gaveUp.push({ index: entry.index, error: error as ThrottledError })
            core.pause(admission, clock.unsafeCurrentTimeMillis(), verdict.pause)
            return Effect.void
          }
        }
      }

      const coordinator = Effect.gen(function*() {
        while (true) {
          // Admit as many as the core allows now.
          let wait: number | undefined = undefined
          while (running < concurrency && core.hasWork(work)) {
            const now = clock.unsafeCurrentTimeMillis()
            const due = core.admissionDue(admission, now)
            if (due > now) {
              wait = due - now
              break
            }
            yield* start(core.takeWork(work), now)
          }
          if (running === 0 && !core.hasWork(work)) break
          // Wait for an outcome, or (when only time holds the next admission back) for its due time.
          const next = wait === undefined
            ? Option.some(yield* Queue.take(events))
            : yield* Effect.timeoutOption(Queue.take(events), Duration.millis(wait))
          if (Option.isSome(next)) {
            yield* handle(next.value)
            // Apply every outcome already posted before admitting again.
            for (const outcome of yield* Queue.takeAll(events)) yield* handle(outcome)
          }
        }
        yield* Queue.offer(results, DONE)
      })

      const consume = Effect.gen(function*() {
        while (true) {
          const item = yield* Queue.take(results)
          if (item === DONE) return
          yield* options.consumer(item.value, item.index)
        }
      })

      // The first failure alone (the consumer's error, or a task's defect), without the interruption of the other.
      yield* Effect.catchAllCause(
        Effect.all([coordinator, consume], { concurrency: 2, discard: true }),
        (cause) => Effect.failCause(firstFailure(cause))
      )
      const byIndex = (a: { readonly index: number }, b: { readonly index: number }) => a.index - b.index
      return {
        processed,
        failed: failed.sort(byIndex),
        gaveUp: gaveUp.sort(byIndex),
        retries
      } satisfies TaskThrottler.Summary<Failure>
    }))
  })
