/**
 * The TaskThrottler's implementation: a pure admission core (sliding window of starts, pause, work queue with a
 * front for retries) and a thin Effect shell.
 *
 * Shell. One coordinator fiber owns all the state: it admits tasks (forking each into the run's scope) while the
 * core allows, and otherwise waits for the next event — a task's outcome, posted on an unbounded queue — or, when
 * only time holds the next admission back, for exactly that instant. Successes are handed over, in completion order,
 * to a separate consumer fiber through another unbounded queue, so the consumer never holds up admissions. The
 * coordinator and the consumer run together under `Effect.all(..., { concurrency: 2 })`: a failing consumer stops
 * the coordinator, and closing the run's scope interrupts every task still running.
 *
 * Termination: the coordinator stops when nothing runs and nothing is queued, whatever the last outcomes were
 * (the seed hangs when its last tasks fail).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as TaskThrottler from "../TaskThrottler.js"
import { ThrottledError } from "../TaskThrottler.js"

// ---------------------------------------------------------------------------------------------------------------
// Pure core
// ---------------------------------------------------------------------------------------------------------------

/** Admission state: the last `perWindow` start times (a ring) and the end of the current pause. */
export interface Admission {
  readonly perWindow: number
  /** Window length in milliseconds. */
  readonly window: number
  readonly starts: Array<number>
  /** Ring index of the oldest start once the ring is full; the next slot to write. */
  next: number
  count: number
  /** No admission before this time. */
  pausedUntil: number
}

/** A fresh admission state. */
export const makeAdmission = (perWindow: number, window: number): Admission => ({
  perWindow,
  window,
  starts: [],
  next: 0,
  count: 0,
  pausedUntil: Number.NEGATIVE_INFINITY
})

/**
 * The earliest time `>= now` at which a task may start: after the pause, and — when `perWindow` starts already
 * fall in the window — when the oldest of them leaves it (a start at `t` frees its slot at exactly `t + window`).
 */
export const admissionDue = (state: Admission, now: number): number => {
  let due = Math.max(now, state.pausedUntil)
  if (state.count === state.perWindow) due = Math.max(due, (state.starts[state.next] as number) + state.window)
  return due
}

/** Records a start at `now`; the caller has checked `admissionDue(state, now) === now`. */
export const recordStart = (state: Admission, now: number): void => {
  state.starts[state.next] = now
  state.next = state.next + 1 === state.perWindow ? 0 : state.next + 1
  if (state.count < state.perWindow) state.count++
}

/** Pauses admissions for `millis` from `now` (an earlier pause ending later is kept). */
export const pause = (state: Admission, now: number, millis: number): void => {
  state.pausedUntil = Math.max(state.pausedUntil, now + millis)
}

/** One unit of work: the effect to run for input `index`, and how many retries it has had. */
export interface Entry<T> {
  readonly index: number
  readonly effect: T
  readonly retries: number
}

/**
 * The work queue: retries at the front (the latest first, like the seed's LIFO), then the inputs, pulled lazily
 * from their iterator in order.
 */
export interface WorkQueue<T> {
  readonly front: Array<Entry<T>>
  readonly iterator: Iterator<T>
  /** The next input, pulled ahead to know whether there is one. */
  peeked: IteratorResult<T> | undefined
  nextIndex: number
}

/** A work queue over the inputs. */
export const makeWorkQueue = <T>(inputs: Iterable<T>): WorkQueue<T> => ({
  front: [],
  iterator: inputs[Symbol.iterator](),
  peeked: undefined,
  nextIndex: 0
})

/** Whether there is work left to admit. */
export const hasWork = <T>(queue: WorkQueue<T>): boolean => {
  if (queue.front.length > 0) return true
  if (queue.peeked === undefined) queue.peeked = queue.iterator.next()
  return queue.peeked.done !== true
}

/** Takes the next unit of work; the caller has checked {@link hasWork}. */
export const takeWork = <T>(queue: WorkQueue<T>): Entry<T> => {
  const retry = queue.front.pop()
  if (retry !== undefined) return retry
  const result = queue.peeked ?? queue.iterator.next()
  queue.peeked = undefined
  if (result.done === true) throw new Error("BUG: takeWork on an empty queue")
  return { index: queue.nextIndex++, effect: result.value, retries: 0 }
}

/** Puts a replacement back at the front of the queue. */
export const pushFront = <T>(queue: WorkQueue<T>, entry: Entry<T>): void => {
  queue.front.push(entry)
}

/** What to do with a task's typed failure. */
export type Verdict =
  | { readonly _tag: "Failed" }
  | { readonly _tag: "Retry"; readonly pause: number }
  | { readonly _tag: "GaveUp"; readonly pause: number }

/**
 * Classifies a typed failure: a `ThrottledError` is retried (pausing for `retryAfter`, else the window) unless the
 * entry has used its `maxRetries`, in which case it is given up (the pause still applies: the source said
 * "throttled"); anything else is a recorded failure.
 */
export const classify = (error: unknown, retries: number, maxRetries: number, window: number): Verdict => {
  if (!(error instanceof ThrottledError)) return { _tag: "Failed" }
  const pauseMillis = error.retryAfter === undefined ? window : Duration.toMillis(Duration.decode(error.retryAfter))
  return retries >= maxRetries ? { _tag: "GaveUp", pause: pauseMillis } : { _tag: "Retry", pause: pauseMillis }
}

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

/** Validated options. */
export interface Config {
  readonly window: number
  readonly perWindow: number
  readonly concurrency: number
  readonly maxRetries: number
}

const describe = (value: unknown): string => typeof value === "string" ? JSON.stringify(value) : String(value)

const isIntegerAtLeast = (value: unknown, min: number): boolean =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min

/** Validates the options: the configuration, or the "Expected X, got Y" message of the first bad option. */
export const resolveConfig = (options: {
  readonly window: unknown
  readonly perWindow: unknown
  readonly concurrency: unknown
  readonly maxRetries?: unknown
  readonly tasks: unknown
  readonly consumer: unknown
}): Config | string => {
  const tasks = options.tasks as { [Symbol.iterator]?: unknown } | null | undefined
  if (tasks === null || tasks === undefined || typeof tasks[Symbol.iterator] !== "function") {
    return `Expected option tasks to be an iterable of effects, got ${describe(options.tasks)}`
  }
  if (typeof options.consumer !== "function") {
    return `Expected option consumer to be a function, got ${describe(options.consumer)}`
  }
  const window = Duration.decodeUnknown(options.window)
  const windowMillis = Option.isSome(window) ? Duration.toMillis(window.value) : Number.NaN
  if (!(windowMillis > 0 && Number.isFinite(windowMillis))) {
    return `Expected option window to be a positive finite duration, got ${describe(options.window)}`
  }
  if (!isIntegerAtLeast(options.perWindow, 1)) {
    return `Expected option perWindow to be an integer >= 1, got ${describe(options.perWindow)}`
  }
  if (!isIntegerAtLeast(options.concurrency, 1)) {
    return `Expected option concurrency to be an integer >= 1, got ${describe(options.concurrency)}`
  }
  const maxRetries = options.maxRetries ?? 10
  if (!isIntegerAtLeast(maxRetries, 0)) {
    return `Expected option maxRetries to be an integer >= 0, got ${describe(options.maxRetries)}`
  }
  return {
    window: windowMillis,
    perWindow: options.perWindow as number,
    concurrency: options.concurrency as number,
    maxRetries: maxRetries as number
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shell
// ---------------------------------------------------------------------------------------------------------------

interface Outcome<A, E, R> {
  readonly entry: Entry<Effect.Effect<A, E, R>>
  readonly exit: Exit.Exit<A, E>
}

/** The end of the results, for the consumer. */
const DONE = Symbol("effect-throttles/TaskThrottler/done")

interface Result<A> {
  readonly value: A
  readonly index: number
}

/** The first typed error alone, else the defects, else the cause as it is. */
const firstFailure = <E>(cause: Cause.Cause<E>): Cause.Cause<E> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return Cause.fail(failure.value)
  const defects = Cause.keepDefects(cause)
  return Option.isSome(defects) ? defects.value : cause
}

/** `TaskThrottler.run`. */
export const run = <A, E, R, E2, R2>(
  options: TaskThrottler.Options<A, E, R, E2, R2>
): Effect.Effect<TaskThrottler.Summary<Exclude<E, ThrottledError<any, any, any>>>, E2, R | R2> =>
  Effect.suspend(() => {
    const config = resolveConfig(options)
    if (typeof config === "string") return Effect.die(new Cause.IllegalArgumentException(config))
    type Failure = Exclude<E, ThrottledError<any, any, any>>
    const { concurrency, maxRetries, window } = config
    const admission = makeAdmission(config.perWindow, window)
    const work = makeWorkQueue(options.tasks)
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

      const start = (entry: Entry<Effect.Effect<A, E, R>>, now: number) => {
        recordStart(admission, now)
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
            pushFront(work, {
              index: entry.index,
              effect: throttled.retry as Effect.Effect<A, E, R>,
              retries: entry.retries + 1
            })
            pause(admission, clock.unsafeCurrentTimeMillis(), verdict.pause)
            return Effect.void
          }
          case "GaveUp": {
            gaveUp.push({ index: entry.index, error: error as ThrottledError })
            pause(admission, clock.unsafeCurrentTimeMillis(), verdict.pause)
            return Effect.void
          }
        }
      }

      const coordinator = Effect.gen(function*() {
        while (true) {
          // Admit as many as the core allows now.
          let wait: number | undefined = undefined
          while (running < concurrency && hasWork(work)) {
            const now = clock.unsafeCurrentTimeMillis()
            const due = admissionDue(admission, now)
            if (due > now) {
              wait = due - now
              break
            }
            yield* start(takeWork(work), now)
          }
          if (running === 0 && !hasWork(work)) break
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
