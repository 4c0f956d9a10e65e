/**
 * The pure algorithm behind `Throttle`: an exact sliding window of weighted grants, with optional smooth spacing
 * and a concurrency cap. No Effect, no clock: every function takes `now` (milliseconds) and mutates only the state
 * object it is given, so the whole decision logic is tested with plain tables and properties.
 *
 * Model. Every grant of `n` permits occupies `n` slots of the window. A slot is freed at an *expiry* time:
 * - `measure: "start"`: `grantTime + period` (known at grant time);
 * - `measure: "release"`: `releaseTime + period` (known only at release; until then the slot is "in flight").
 * Expiries are pushed in non-decreasing order (grant times and release times both follow the clock), so the
 * pending expiries form a FIFO queue of `(expiry, weight)` records, merged when equal. Checking "may `n` permits be
 * granted now" pops the records that expired (amortized O(1)); computing *when* they may be granted walks the
 * records that must expire first, and those are exactly the records that will have been popped by then.
 *
 * Smooth spacing keeps a schedule: a grant of `n` at base time `b` makes the next grant due at `b + n * interval`.
 * The base is the grant time itself, except when the grant is made by a timer that was set for the scheduled time
 * `d` and fired late: then the base is `d`, so timer lateness on a real clock does not push the whole schedule
 * back (the window bound, measured on actual grant times, holds regardless).
 *
 * @internal
 */

/**
 * Times closer than this (ten nanoseconds, in milliseconds) count as equal. Effect durations are whole nanoseconds,
 * so a timer set for a fractional due time (`1000 / 3` ms) fires up to half a nanosecond early; without this
 * tolerance the waiter would sleep again for "zero" time, forever.
 */
export const EPSILON = 1e-5

/** Fixed configuration of one throttle. */
export interface Config {
  /** Permits per window. */
  readonly limit: number
  /** Window length in milliseconds. */
  readonly period: number
  /** Whether a slot is held from the grant (`"start"`) or until `period` after its release (`"release"`). */
  readonly measure: "start" | "release"
  /** Minimum spacing between grants per permit, in milliseconds; 0 when not smoothing. */
  readonly interval: number
  /** Maximum permits acquired and not released; `Infinity` for no cap. */
  readonly maxConcurrent: number
}

/** Mutable state of one throttle. Create with {@link makeState}. */
export interface State {
  /** Expiry times of the records, a FIFO from `head` to `expiries.length`. */
  expiries: Array<number>
  /** Weights of the records, parallel to `expiries`. */
  weights: Array<number>
  /** Index of the oldest record. */
  head: number
  /** Total weight of the pending records. */
  pending: number
  /**
   * Permits granted to a waiter that has not resumed yet (`measure: "start"`). Their slots are occupied but their
   * expiry is only known when the waiter actually starts, so that the window bound holds for the times at which
   * the tasks really start, however long the runtime takes to resume a batch of waiters.
   */
  unstamped: number
  /** Permits granted and not released. */
  inFlight: number
  /** Earliest time of the next grant under smooth spacing (`-Infinity` when not smoothing or idle). */
  nextSmooth: number
  /** Permits granted since creation. */
  granted: number
}

/** A fresh state: nothing granted, nothing in flight. */
export const makeState = (): State => ({
  expiries: [],
  weights: [],
  head: 0,
  pending: 0,
  unstamped: 0,
  inFlight: 0,
  nextSmooth: Number.NEGATIVE_INFINITY,
  granted: 0
})

const pushRecord = (state: State, expiry: number, weight: number): void => {
  const last = state.expiries.length - 1
  if (last >= state.head && state.expiries[last] === expiry) {
    state.weights[last] = (state.weights[last] ?? 0) + weight
  } else {
    state.expiries.push(expiry)
    state.weights.push(weight)
  }
  state.pending += weight
}

/** Drops the records whose slots are free at `now` (expiry <= now). Amortized O(1). */
export const expire = (state: State, now: number): void => {
  const { expiries, weights } = state
  let head = state.head
  while (head < expiries.length && (expiries[head] as number) <= now + EPSILON) {
    state.pending -= weights[head] as number
    head++
  }
  if (head === expiries.length) {
    expiries.length = 0
    weights.length = 0
    head = 0
  } else if (head > 1024 && head * 2 > expiries.length) {
    expiries.splice(0, head)
    weights.splice(0, head)
    head = 0
  }
  state.head = head
}

/** Slots of the window occupied at `now` (after {@link expire}). */
const occupied = (config: Config, state: State): number =>
  config.measure === "start" ? state.pending + state.unstamped : state.pending + state.inFlight

/** Whether `n` permits may be granted at `now`. Expires old records as a side effect. */
export const canGrant = (config: Config, state: State, now: number, n: number): boolean => {
  if (state.inFlight + n > config.maxConcurrent) return false
  if (now + EPSILON < state.nextSmooth) return false
  expire(state, now)
  return occupied(config, state) + n <= config.limit
}

/** How many permits could be granted at once at `now` (0 when smoothing holds the next grant back). */
export const available = (config: Config, state: State, now: number): number => {
  if (now + EPSILON < state.nextSmooth) return 0
  expire(state, now)
  return Math.max(0, Math.min(config.limit - occupied(config, state), config.maxConcurrent - state.inFlight))
}

/**
 * Records a grant of `n` permits at `now`. The caller has checked {@link canGrant}. `floor <= now` anchors the
 * smooth schedule: `now` for an immediate grant, the scheduled time for a grant made by a (possibly late) timer.
 * With `stamped = false` the slot's start is stamped later by {@link stamp}, when the grantee actually resumes.
 */
export const grant = (
  config: Config,
  state: State,
  now: number,
  n: number,
  floor: number = now,
  stamped: boolean = true
): void => {
  state.inFlight += n
  state.granted += n
  if (config.measure === "start") {
    if (stamped) pushRecord(state, now + config.period, n)
    else state.unstamped += n
  }
  if (config.interval > 0) state.nextSmooth = Math.max(state.nextSmooth, floor) + n * config.interval
}

/** Starts the slots of `n` permits granted with `stamped = false`: they now expire at `now + period`. */
export const stamp = (config: Config, state: State, now: number, n: number): void => {
  if (config.measure !== "start") return
  state.unstamped -= n
  pushRecord(state, now + config.period, n)
}

/** Records the release of `n` in-flight permits at `now`. The caller has checked `n <= inFlight`. */
export const release = (config: Config, state: State, now: number, n: number): void => {
  state.inFlight -= n
  if (config.measure === "release") pushRecord(state, now + config.period, n)
}

/**
 * The earliest time at which `n` permits can be granted, assuming nothing else is granted meanwhile and (for the
 * window) nothing is released: `now` if they can be granted now, `Infinity` if only a release can make room (the
 * concurrency cap, or in-flight slots under `measure: "release"`). Call after `canGrant` returned false.
 */
export const dueTime = (config: Config, state: State, now: number, n: number): number => {
  if (state.inFlight + n > config.maxConcurrent) return Number.POSITIVE_INFINITY
  expire(state, now)
  let need = occupied(config, state) + n - config.limit
  let due = now
  if (need > 0) {
    // Walk the records that must expire first. In-flight slots under "release", and granted slots whose waiter has
    // not resumed yet, have no expiry yet: only a release or a stamp can tell.
    if (need > state.pending) return Number.POSITIVE_INFINITY
    const { expiries, weights } = state
    for (let i = state.head; i < expiries.length; i++) {
      need -= weights[i] as number
      if (need <= 0) {
        due = expiries[i] as number
        break
      }
    }
  }
  return Math.max(due, state.nextSmooth)
}
