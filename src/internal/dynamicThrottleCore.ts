/**
 * The adaptive throttle's pure core: reservations (`reserve`, `cancel`), the AIMD-style adaptation after every
 * `window` outcomes (`record`), and the "server said slow down" pause (`reportThrottled`). Functions of
 * `(config, state, now, ...)`; times are `Clock` milliseconds (fractional under `TestClock` is fine). No Effect, no
 * clock, no randomness: the shell (`dynamicThrottle.ts`) reads the `Clock` and `Random` and applies these functions
 * in synchronous steps.
 *
 * Reservations. The state remembers the instant of the latest reserved admission (`last`). A new caller at `now`
 * is admitted at `max(now, holdUntil, last + gap)`, `gap = 1000 / rate * (1 + u)` (to the nanosecond) with the rate at the moment of
 * the reservation and `u` the caller's jitter draw; the first admission is immediate. Each caller knows its own
 * slot at once, so concurrent callers get successive slots (no sleep race), and nothing polls.
 *
 * Cancellation (an interrupted waiter). If the cancelled slot is still the latest one reserved, `last` goes back
 * to what it was before that reservation, as if the caller had never come (this cascades: cancelling the last two
 * in reverse order restores both). A slot in the middle of the queue is NOT given to the callers behind it: their
 * slots stay exactly where they were (they are sleeping until them; moving them would mean waking and rescheduling
 * every one, O(n)), and the cancelled slot remains a gap. So cancellation never makes anyone wait longer, never
 * admits faster than the rate, and stays O(1) — golang.org/x/time/rate's `Reservation.Cancel` makes the same
 * choice.
 *
 * Pauses. `reportThrottled(retryAfter)` pauses the schedule: no admission happens before `now + retryAfter`, and
 * every admission not yet made moves later by the length of the pause (keeping its order and spacing). The state
 * accumulates the total pause length in `shift`; a waiter that wakes and finds `shift` grown since it reserved
 * sleeps the difference (once per pause, not a polling loop).
 *
 * @internal
 */

/** Validated options with defaults filled in (validated by the shell, `dynamicThrottle.ts`). */
export interface Config {
  readonly initialRate: number
  readonly minRate: number
  readonly maxRate: number
  readonly window: number
  readonly upperBound: number
  readonly lowerBound: number
  readonly increaseFactor: number
  readonly decreaseFactor: number
  readonly jitter: number
}

/** The throttle's state. */
export interface State {
  /** Current rate, calls per second, always within `[minRate, maxRate]`. */
  readonly rate: number
  /** Outcomes recorded since the last adaptation (or `reset`). */
  readonly successes: number
  readonly failures: number
  /** Instant of the latest reserved admission; `undefined` before the first. */
  readonly last: number | undefined
  /** Number of live reservations made so far; identifies the latest one. */
  readonly seq: number
  /** No admission before this instant (`reportThrottled`). */
  readonly holdUntil: number
  /** Total pause length applied so far by `reportThrottled`, in milliseconds. */
  readonly shift: number
}

/** A reserved admission. */
export interface Ticket {
  /** The instant of the admission (before any later pause). */
  readonly at: number
  /** Milliseconds from the reservation to the admission. */
  readonly delay: number
  readonly seq: number
  /** `last` before this reservation (restored by `cancel`). */
  readonly previousLast: number | undefined
  /** `shift` at the time of the reservation. */
  readonly shift: number
}

/** The state of a new throttle. */
export const initial = (config: Config): State => ({
  rate: config.initialRate,
  successes: 0,
  failures: 0,
  last: undefined,
  seq: 0,
  holdUntil: Number.NEGATIVE_INFINITY,
  shift: 0
})

/** Clamps a rate to `[minRate, maxRate]`. */
export const clamp = (config: Config, rate: number): number => Math.min(config.maxRate, Math.max(config.minRate, rate))

/**
 * The spacing before an admission at `rate` with jitter draw `u` (in `[-jitter, jitter]`), in milliseconds,
 * rounded to the nanosecond (the resolution of `Duration`, so the sleeps land exactly on the slots).
 */
export const gap = (rate: number, u: number): number => Math.round(((1000 / rate) * (1 + u)) * 1e6) / 1e6

/** Reserves the next admission for a caller arriving at `now` with jitter draw `u`. */
export const reserve = (state: State, now: number, u: number): readonly [Ticket, State] => {
  const earliest = state.last === undefined ? now : state.last + gap(state.rate, u)
  const at = Math.max(now, state.holdUntil, earliest)
  const seq = state.seq + 1
  return [
    { at, delay: at - now, seq, previousLast: state.last, shift: state.shift },
    { ...state, last: at, seq }
  ]
}

/**
 * Gives back a reservation whose caller was interrupted before its admission: fully if it is still the latest
 * reservation and no pause has moved the schedule since; otherwise its slot stays a gap (see the module doc).
 */
export const cancel = (state: State, ticket: Ticket): State =>
  state.seq === ticket.seq && state.shift === ticket.shift
    ? { ...state, last: ticket.previousLast, seq: ticket.seq - 1 }
    : state

/** Records one outcome; after every `window` outcomes, adapts the rate and starts counting afresh. */
export const record = (config: Config, state: State, success: boolean): State => {
  const successes = state.successes + (success ? 1 : 0)
  const failures = state.failures + (success ? 0 : 1)
  if (successes + failures < config.window) return { ...state, successes, failures }
  const ratio = successes / (successes + failures)
  const rate = ratio > config.upperBound
    ? clamp(config, state.rate * config.increaseFactor)
    : ratio < config.lowerBound
    ? clamp(config, state.rate * config.decreaseFactor)
    : state.rate
  return { ...state, rate, successes: 0, failures: 0 }
}

/** Sets the rate, clamped to the bounds. */
export const setRate = (config: Config, state: State, rate: number): State => ({ ...state, rate: clamp(config, rate) })

/** Clears the outcome counts (the rate and the schedule are kept). */
export const resetCounts = (state: State): State => ({ ...state, successes: 0, failures: 0 })

/**
 * The server said "slow down": cut the rate by `decreaseFactor` at once and, with `retryMillis`, pause the
 * schedule until `now + retryMillis` (overlapping pauses merge).
 */
export const reportThrottled = (
  config: Config,
  state: State,
  now: number,
  retryMillis: number | undefined
): State => {
  const rate = clamp(config, state.rate * config.decreaseFactor)
  if (retryMillis === undefined || retryMillis <= 0) return { ...state, rate }
  const pauseStart = Math.max(now, state.holdUntil)
  const holdUntil = Math.max(state.holdUntil, now + retryMillis)
  const extra = holdUntil - pauseStart
  if (extra <= 0) return { ...state, rate }
  const pending = state.last !== undefined && state.last >= now
  return {
    ...state,
    rate,
    holdUntil,
    shift: state.shift + extra,
    last: pending ? state.last! + extra : state.last
  }
}
