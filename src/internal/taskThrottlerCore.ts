/**
 * The TaskThrottler's pure core: the admission state (a sliding window of starts and a pause), the work queue
 * with a front for retries, and the verdict on a throttled task. No Effect import: times are milliseconds given by
 * the shell (`internal/taskThrottler.ts`), which reads the clock.
 *
 * @internal
 */
import * as throttle from "./throttleCore.js"

/**
 * Admission state: the Throttle's own sliding window of starts (`throttleCore.ts`, one window of `perWindow` per
 * `window` ms, measured at the start) with its pause. One algorithm for both primitives.
 */
export interface Admission {
  readonly config: throttle.Config
  readonly state: throttle.State
}

/** A fresh admission state. */
export const makeAdmission = (perWindow: number, window: number): Admission => {
  const config: throttle.Config = {
    windows: [{ limit: perWindow, period: window }],
    measure: "start",
    interval: 0,
    burst: 0,
    maxConcurrent: Number.POSITIVE_INFINITY
  }
  return { config, state: throttle.makeState(config) }
}

/**
 * The earliest time `>= now` at which a task may start: after the pause, and — when `perWindow` starts already
 * fall in the window — when the oldest of them leaves it (a start at `t` frees its slot at exactly `t + window`).
 */
export const admissionDue = (admission: Admission, now: number): number =>
  throttle.dueTime(admission.config, admission.state, now, 1)

/**
 * Records a start at `now`; the caller has checked `admissionDue(state, now) === now`. The concurrency cap is the
 * TaskThrottler's own, so the start holds no in-flight permit.
 */
export const recordStart = (admission: Admission, now: number): void => {
  throttle.grant(admission.config, admission.state, now, 1)
  throttle.release(admission.config, admission.state, now, 1)
}

/** Pauses admissions for `millis` from `now` (an earlier pause ending later is kept). */
export const pause = (admission: Admission, now: number, millis: number): void => {
  throttle.pause(admission.state, now + millis)
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
 * The verdict on a task that failed with `ThrottledError`: retried (pausing for `retryAfter` milliseconds when
 * given, else the window) unless the entry has used its `maxRetries`, in which case it is given up (the pause still
 * applies: the source said "throttled"). Any other typed failure is `Failed`, decided by the shell.
 */
export const classifyThrottled = (
  retryAfter: number | undefined,
  retries: number,
  maxRetries: number,
  window: number
): Verdict => {
  const pauseMillis = retryAfter ?? window
  return retries >= maxRetries ? { _tag: "GaveUp", pause: pauseMillis } : { _tag: "Retry", pause: pauseMillis }
}
