/**
 * Exact wake-ups on Effect's live clock. Node's timers have whole-millisecond resolution and fire up to ~1.5 ms
 * early or late relative to the high-resolution clock; a primitive whose correctness is measured in exact times
 * (a window that opens exactly one period after the previous starts) sleeps until `lead` ms before its due time
 * and finishes the rest in event-loop turns. On `TestClock` (or any clock other than the live one) nothing of this
 * applies: `sleepUntil` is a plain `Clock.sleep`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * How a waiter finishes its wait on a clock whose timers are coarse: it sleeps until `lead` ms before its due time,
 * then waits out the rest one `turn` at a time (re-checking the clock after each), so that it resumes within one
 * turn of its due time instead of one timer tick (about 1 ms) after it.
 */
export interface Settle {
  /** How many ms before the due time the timer is set; also the most a waiter spends taking turns per wake-up. */
  readonly lead: number
  /**
   * The shortest timer that fires on time, in ms (Node: 1 ms; a shorter one is rounded up to it). A wait for
   * which a timer of `remaining - lead` would be shorter is done in turns from the start.
   */
  readonly minTimer: number
  /** Waits one turn of the event loop (letting I/O and timers run). */
  readonly turn: Effect.Effect<void>
  /**
   * Added to a granted waiter's stamp, in ms (see the Throttle). The stamp is taken a few steps before the task's
   * own first step; starting the slot this much later keeps the window exact at the task's first step.
   */
  readonly guard: number
}

/**
 * Each window of a throttle opens exactly one period after the actual starts of the previous one, so a timer's
 * overshoot would add up window after window (~1 ms per window). Finishing the last millisecond in event-loop turns
 * (`setImmediate`) removes it, at the cost of at most ~2 ms of turns per wake-up (one waiter at a time).
 */
export const LEAD_MILLIS = 1
/**
 * The guard on the live clock: 0.25 ms, enough for the few steps between a stamp and the task's first step and for
 * most young-generation collections that land there, but never more than 0.1% of the period.
 */
export const GUARD_MILLIS = 0.25
/** The most of a period the guard may take. */
export const GUARD_SHARE = 0.001
/** Node's shortest timer: a shorter one is rounded up to it. */
export const MIN_TIMER_MILLIS = 1

/** One turn of the event loop, where `setImmediate` exists (Node, Bun, Deno); elsewhere no settling. */
export const liveTurn: Effect.Effect<void> | undefined = typeof globalThis.setImmediate === "function"
  ? Effect.async<void>((resume) => {
    const handle = globalThis.setImmediate(() => resume(Effect.void))
    return Effect.sync(() => globalThis.clearImmediate(handle))
  })
  : undefined

const liveClockConstructor: unknown = Context.get(DefaultServices.liveServices, Clock.Clock).constructor

/** Whether `clock` is Effect's default clock (real timers), as opposed to `TestClock` or a custom clock. */
export const isLiveClock = (clock: Clock.Clock): boolean => clock.constructor === liveClockConstructor

/**
 * The settling of a primitive with the given period on `clock`: `undefined` unless it is the live clock (and the
 * platform has event-loop turns).
 */
export const settleFor = (clock: Clock.Clock, period: number): Settle | undefined =>
  liveTurn !== undefined && isLiveClock(clock)
    ? { lead: LEAD_MILLIS, minTimer: MIN_TIMER_MILLIS, turn: liveTurn, guard: Math.min(GUARD_MILLIS, period * GUARD_SHARE) }
    : undefined

/**
 * A cap on the time a waiter loop spends taking event-loop turns: at most `share` of every `window` ms. Turns run
 * back to back whenever the next due time is under `lead + minTimer` away, which for a loop with many waiters
 * spaced less than that apart (a Redis throttle at its limit) is most of the time: there they were half a core at
 * 5 000 grants/s. Over the cap, the loop sleeps on a timer instead (`stepTowards`' `coarse`: up to a tick late,
 * never early). Pure: the caller reads its clock and reports what it spent.
 */
export class TurnBudget {
  private windowStart = Number.NEGATIVE_INFINITY
  private spent = 0
  constructor(readonly window: number, readonly share: number) {}
  /** Whether a turn may be taken at `now` (a new window starts when the last one is over). */
  allows(now: number): boolean {
    if (now - this.windowStart >= this.window) {
      this.windowStart = now
      this.spent = 0
    }
    return this.spent < this.window * this.share
  }
  /** Counts `ms` spent in a turn. */
  spend(ms: number): void {
    this.spent += ms
  }
}

/** The platform's monotonic high-resolution clock (`performance.now()`, ms), where there is one. */
const performanceClock: { now(): number } | undefined =
  typeof globalThis.performance === "object" && typeof globalThis.performance?.now === "function"
    ? globalThis.performance
    : undefined

/**
 * Milliseconds with sub-millisecond resolution on `clock`: the high-resolution counter relative to an origin taken
 * now, added to the wall-clock milliseconds of that origin; on TestClock, its instant. On the live
 * clock the counter is read as `performance.now()`, the same monotonic clock as Effect's `process.hrtime.bigint()`
 * but a double: no BigInt is allocated per reading (three were, on every grant and release).
 */
export const preciseNow = (clock: Clock.Clock): () => number => {
  const originMillis = clock.unsafeCurrentTimeMillis()
  if (performanceClock !== undefined && isLiveClock(clock)) {
    const performance = performanceClock
    const originPerformance = performance.now()
    return () => originMillis + (performance.now() - originPerformance)
  }
  // Other clocks: the nanosecond reading, unless the millisecond one has a fraction. `TestClock` keeps its instant
  // in milliseconds, fractions included (a smooth schedule sleeps 316.666… ms), and floors it to whole nanoseconds
  // from a float: 316.666667 ms reads 316 666 666 ns, and a grant stamped there would free its slot a nanosecond
  // before `period` after the instant its task sees. A fractional millisecond reading is that instant itself. A
  // clock whose milliseconds are whole (wall time, as a clock wrapping the live one has) keeps the nanosecond
  // reading, monotonic and finer, as before: its wall-clock jumps never reach the windows.
  const originNanos = clock.unsafeCurrentTimeNanos()
  return () => {
    const millis = clock.unsafeCurrentTimeMillis()
    return Number.isInteger(millis) ? originMillis + Number(clock.unsafeCurrentTimeNanos() - originNanos) / 1e6 : millis
  }
}

const readers = new WeakMap<Clock.Clock, () => number>()

/**
 * `preciseNow(clock)`, one per clock: whatever reads a clock through it shares one origin, so that readings taken
 * in different places (a Redis throttle and its store) compare exactly.
 */
export const preciseNowOf = (clock: Clock.Clock): () => number => {
  let read = readers.get(clock)
  if (read === undefined) {
    read = preciseNow(clock)
    readers.set(clock, read)
  }
  return read
}

/** Times closer than this (ten nanoseconds, in ms) count as equal. */
const EPSILON = 1e-5

/**
 * One step towards `due`: sleeps until `due` (or, when settling, until `lead` before it, or one turn when that is
 * all that is left). The caller re-checks the clock afterwards and calls again while it is early: with `settle`
 * undefined one step always suffices. `coarse` skips the turns (for waits that are allowed a timer's precision).
 */
export const stepTowards = (
  due: number,
  now: () => number,
  sleep: (duration: Duration.Duration) => Effect.Effect<void>,
  settle: Settle | undefined,
  coarse: boolean = false
): Effect.Effect<void> => {
  const remaining = due - now()
  if (settle === undefined || coarse) return remaining <= EPSILON ? Effect.void : sleep(Duration.millis(remaining))
  if (remaining <= EPSILON) return Effect.void
  return remaining - settle.lead >= settle.minTimer ? sleep(Duration.millis(remaining - settle.lead)) : settle.turn
}

/**
 * Sleeps until `due` (ms on the same clock as `now`), exactly: on the live clock the last millisecond is settled in
 * event-loop turns. For primitives that wait for a known instant (a half-open breaker, an adaptive admission).
 */
export const sleepUntil = (due: number): Effect.Effect<void> =>
  Effect.flatMap(Effect.clock, (clock) => {
    const now = preciseNow(clock)
    const settle = settleFor(clock, Number.POSITIVE_INFINITY)
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      now() + EPSILON >= due ? Effect.void : Effect.flatMap(stepTowards(due, now, (d) => clock.sleep(d), settle), () => loop)
    )
    return loop
  })
