/**
 * The pure algorithm behind `Throttle`: exact sliding windows of weighted grants (one or several at once), optional
 * smooth spacing (GCRA), a pause, and a concurrency cap. No Effect, no clock: every function takes `now`
 * (milliseconds) and mutates only the state object it is given, so the whole decision logic is tested with plain
 * tables and properties.
 *
 * Model. Every grant of `n` permits occupies `n` slots in every window. A slot is freed at an *expiry* time:
 * - `measure: "start"`: `grantTime + period` (known at grant time);
 * - `measure: "release"`: `releaseTime + period` (known only at release; until then the slot is "in flight").
 * Expiries are pushed in non-decreasing order (grant times and release times both follow the clock), so each
 * window's pending expiries form a FIFO log of `(expiry, weight)` records, merged when equal, kept in a ring of
 * doubles that grows by doubling (no per-record object, nothing for the garbage collector to trace, and a full
 * window of a fast throttle, hundreds of thousands of records, costs 16 bytes each). Checking "may `n`
 * permits be granted now" pops the records that expired (amortized O(1) per window); computing *when* they may be
 * granted walks at most `n` records per window (every record weighs at least 1). So every operation costs
 * O(number of windows) amortized.
 *
 * Smooth spacing is GCRA (the generic cell rate algorithm) with emission interval `interval` and a `burst`: a
 * grant is due at `tat - (burst - 1) * interval` and moves the theoretical arrival time `tat` to
 * `max(tat, grantTime) + n * interval`. The long-run rate is exactly one permit per interval; at most `burst`
 * permits ever go closer together than the spacing allows.
 *
 * A pause (`pausedUntil`) holds every grant back until it passes.
 *
 * @internal
 */

/**
 * Times closer than this (ten nanoseconds, in milliseconds) count as equal. Effect durations are whole nanoseconds,
 * so a timer set for a fractional due time (`1000 / 3` ms) fires up to half a nanosecond early; without this
 * tolerance the waiter would sleep again for "zero" time, forever.
 */
export const EPSILON = 1e-5

/** One window: at most `limit` permits in any `period` ms. */
export interface Window {
  readonly limit: number
  readonly period: number
}

/** Fixed configuration of one throttle. */
export interface Config {
  /** Every window; a grant needs room in each. Non-empty. */
  readonly windows: ReadonlyArray<Window>
  /** Whether a slot is held from the grant (`"start"`) or until `period` after its release (`"release"`). */
  readonly measure: "start" | "release"
  /** GCRA emission interval in ms (the largest `period / limit`); 0 when not smoothing. */
  readonly interval: number
  /** GCRA burst (>= 1 when smoothing; 0 otherwise). */
  readonly burst: number
  /**
   * GCRA tolerance for timer lateness, in ms (0 on a test clock; {@link LIVE_TOLERANCE} on the live one): a grant
   * is conforming up to `max((burst - 1) * interval, tolerance)` before its theoretical time, so a wake-up late by
   * less than that does not push the schedule back.
   */
  readonly tolerance?: number | undefined
  /** Maximum permits acquired and not released; `Infinity` for no cap. */
  readonly maxConcurrent: number
}

/**
 * The pending expiries of one window: a FIFO of `size` records in a ring, oldest at `head`. Record `k` (0 = oldest)
 * sits at ring index `j = (head + k) & (capacity - 1)`, its expiry at `records[2 * j]` and its weight at
 * `records[2 * j + 1]`; the capacity (`records.length / 2`) is 0 or a power of two. Read it with {@link entries}.
 */
export interface Log {
  records: Float64Array
  head: number
  size: number
  /** Total weight of the pending records. */
  pending: number
}

/** The ring of every log that holds nothing yet: a log allocates its own on its first record. */
export const NO_RECORDS: Float64Array = new Float64Array(0)

/** A log with no record. */
export const makeLog = (): Log => ({ records: NO_RECORDS, head: 0, size: 0, pending: 0 })

/** The pending records of a log, oldest first (for tests and inspection; not on a hot path). */
export const entries = (log: Log): { readonly expiries: Array<number>; readonly weights: Array<number> } => {
  const expiries: Array<number> = []
  const weights: Array<number> = []
  const mask = (log.records.length >> 1) - 1
  for (let k = 0; k < log.size; k++) {
    const j = ((log.head + k) & mask) << 1
    expiries.push(log.records[j]!)
    weights.push(log.records[j + 1]!)
  }
  return { expiries, weights }
}

/** How many records the log's ring holds before it grows. */
export const capacity = (log: Log): number => log.records.length >> 1

/** The expiry of the newest pending record, or `-Infinity` when none is pending. */
export const lastExpiry = (log: Log): number =>
  log.size === 0
    ? Number.NEGATIVE_INFINITY
    : log.records[((log.head + log.size - 1) & ((log.records.length >> 1) - 1)) << 1]!

/** Mutable state of one throttle. Create with {@link makeState}. */
export interface State {
  /** One log per window, in the order of `config.windows`. */
  readonly logs: ReadonlyArray<Log>
  /**
   * Permits granted to a waiter that has not resumed yet (`measure: "start"`). Their slots are occupied in every
   * window but their expiry is only known when the waiter actually starts, so that the window bound holds for the
   * times at which the tasks really start, however long the runtime takes to resume a batch of waiters.
   */
  unstamped: number
  /** Permits granted and not released. */
  inFlight: number
  /** GCRA's theoretical arrival time (`-Infinity` when idle or not smoothing). */
  tat: number
  /** No grant before this time (`-Infinity` when not paused). */
  pausedUntil: number
  /** Permits granted since creation. */
  granted: number
}

/** A fresh state: nothing granted, nothing in flight. */
export const makeState = (config: Config): State => ({
  logs: config.windows.map(makeLog),
  unstamped: 0,
  inFlight: 0,
  tat: Number.NEGATIVE_INFINITY,
  pausedUntil: Number.NEGATIVE_INFINITY,
  granted: 0
})

/** The GCRA emission interval and default burst for windows: the largest `period / limit`, `max(1, ceil(1 / i))`. */
export const smoothInterval = (windows: ReadonlyArray<Window>): number => {
  let interval = 0
  for (const w of windows) interval = Math.max(interval, w.period / w.limit)
  return interval
}

/**
 * The span of time (ms) the default burst covers: 4 ms, a few timer ticks. A wake-up on Node's timers arrives up to
 * a millisecond or two late; a burst that covers less than that loses the lateness of every wake-up for good (at
 * 1 000/s, burst 1 reaches about 65% of the rate, burst 4 about 98%).
 */
export const BURST_SPAN = 4

/**
 * Below this interval (ms) a smooth throttle on the live clock relies on its burst and {@link LIVE_TOLERANCE}
 * rather than on settling each wake-up in event-loop turns (which would turn into a busy loop at high rates); at or
 * above it, a wake-up is settled like a window-mode head's (at most 1 ms of turns per interval, <= 10%).
 */
export const SETTLE_MIN_INTERVAL = 10

/** The GCRA tolerance on the live clock below {@link SETTLE_MIN_INTERVAL}: a wake-up up to 1 ms late keeps its place. */
export const LIVE_TOLERANCE = 1

/** The default GCRA burst: 1 where the interval is at least {@link BURST_SPAN}, else the grants per span. */
export const defaultBurst = (interval: number): number => Math.max(1, Math.ceil(BURST_SPAN / interval - EPSILON))

/** How long before its theoretical arrival time a grant conforms: `max((burst - 1) * interval, tolerance)`. */
const slack = (config: Config): number => Math.max((config.burst - 1) * config.interval, config.tolerance ?? 0)

/** The first capacity of a ring, in records. */
const FIRST_CAPACITY = 4

/**
 * A ring this large (in records) that empties is dropped, so that a burst does not keep its memory for good; a
 * smaller one is kept for the next records.
 */
const KEEP_CAPACITY = 1024

/** Doubles the ring, the records copied oldest first to its start. */
const grow = (log: Log): void => {
  const old = log.records
  const cap = old.length >> 1
  const records = new Float64Array(cap === 0 ? FIRST_CAPACITY * 2 : cap * 4)
  if (cap > 0) {
    const start = log.head << 1
    records.set(old.subarray(start))
    records.set(old.subarray(0, start), old.length - start)
  }
  log.records = records
  log.head = 0
}

const pushRecord = (log: Log, expiry: number, weight: number): void => {
  log.pending += weight
  let records = log.records
  const mask = (records.length >> 1) - 1
  const size = log.size
  if (size > 0) {
    const last = ((log.head + size - 1) & mask) << 1
    if (records[last] === expiry) {
      records[last + 1] = records[last + 1]! + weight
      return
    }
    if (size > mask) {
      grow(log)
      records = log.records
    }
  } else if (records.length === 0) {
    grow(log)
    records = log.records
  }
  const j = ((log.head + size) & ((records.length >> 1) - 1)) << 1
  records[j] = expiry
  records[j + 1] = weight
  log.size = size + 1
}

const pushAll = (config: Config, state: State, at: number, n: number): void => {
  const { windows } = config
  for (let i = 0; i < windows.length; i++) pushRecord(state.logs[i] as Log, at + (windows[i] as Window).period, n)
}

const expireLog = (log: Log, now: number): void => {
  let size = log.size
  if (size === 0) return
  const records = log.records
  const mask = (records.length >> 1) - 1
  let head = log.head
  const limit = now + EPSILON
  while (records[head << 1]! <= limit) {
    log.pending -= records[(head << 1) + 1]!
    head = (head + 1) & mask
    if (--size === 0) break
  }
  log.size = size
  if (size === 0) {
    log.head = 0
    if (mask >= KEEP_CAPACITY) log.records = NO_RECORDS
  } else {
    log.head = head
  }
}

/** Drops the records whose slots are free at `now` (expiry <= now), in every window. Amortized O(1) per window. */
export const expire = (state: State, now: number): void => {
  for (const log of state.logs) expireLog(log, now)
}

/** Slots occupied in a window's log whose expiry is not known yet (unstamped grants, or in flight under "release"). */
const unknownExpiry = (config: Config, state: State): number =>
  config.measure === "start" ? state.unstamped : state.inFlight

/** Slots of a window occupied at `now` (after {@link expire}). */
const occupied = (config: Config, state: State, log: Log): number => log.pending + unknownExpiry(config, state)

/** When GCRA lets the next grant go (`-Infinity` when not smoothing). */
export const smoothDue = (config: Config, state: State): number =>
  config.interval > 0 ? state.tat - slack(config) : Number.NEGATIVE_INFINITY

/** Whether `n` permits may be granted at `now`. Expires old records as a side effect. */
export const canGrant = (config: Config, state: State, now: number, n: number): boolean => {
  if (state.inFlight + n > config.maxConcurrent) return false
  if (now + EPSILON < state.pausedUntil) return false
  if (config.interval > 0 && now + EPSILON < smoothDue(config, state)) return false
  const { windows } = config
  const { logs } = state
  for (let i = 0; i < windows.length; i++) {
    const log = logs[i] as Log
    expireLog(log, now)
    if (occupied(config, state, log) + n > (windows[i] as Window).limit) return false
  }
  return true
}

/** How many single permits GCRA would let go at once at `now` (`Infinity` when not smoothing). */
const smoothAvailable = (config: Config, state: State, now: number): number => {
  if (config.interval <= 0) return Number.POSITIVE_INFINITY
  const room = now + slack(config) - Math.max(state.tat, now)
  return room < -EPSILON ? 0 : Math.floor(room / config.interval + EPSILON) + 1
}

/** How many permits could be granted at once at `now` (0 while paused or while smoothing holds the next back). */
export const available = (config: Config, state: State, now: number): number => {
  if (now + EPSILON < state.pausedUntil) return 0
  let free = Math.min(config.maxConcurrent - state.inFlight, smoothAvailable(config, state, now))
  const { windows } = config
  for (let i = 0; i < windows.length; i++) {
    const log = state.logs[i] as Log
    expireLog(log, now)
    free = Math.min(free, (windows[i] as Window).limit - occupied(config, state, log))
  }
  return Math.max(0, free)
}

/**
 * Records a grant of `n` permits at `now`. The caller has checked {@link canGrant}. With `stamped = false` the
 * slots' start is stamped later by {@link stamp}, when the grantee actually resumes; otherwise they start at
 * `startAt` (`now` unless given: a grant at once whose start is stamped a guard later, in one step).
 */
export const grant = (
  config: Config,
  state: State,
  now: number,
  n: number,
  stamped: boolean = true,
  startAt: number = now
): void => {
  state.inFlight += n
  state.granted += n
  if (config.measure === "start") {
    if (stamped) pushAll(config, state, startAt, n)
    else state.unstamped += n
  }
  if (config.interval > 0) state.tat = Math.max(state.tat, now) + n * config.interval
}

/** Starts the slots of `n` permits granted with `stamped = false`: they now expire at `now + period`. */
export const stamp = (config: Config, state: State, now: number, n: number): void => {
  if (config.measure !== "start") return
  state.unstamped -= n
  pushAll(config, state, now, n)
}

/** Records the release of `n` in-flight permits at `now`. The caller has checked `n <= inFlight`. */
export const release = (config: Config, state: State, now: number, n: number): void => {
  state.inFlight -= n
  if (config.measure === "release") pushAll(config, state, now, n)
}

/** No grant before `until`; a pause never shortens the current one. Returns whether it extended it. */
export const pause = (state: State, until: number): boolean => {
  if (until <= state.pausedUntil) return false
  state.pausedUntil = until
  return true
}

/**
 * The earliest time at which window `i` has room for `n` more permits, assuming nothing else is granted or
 * released: `now` if it has room now; `Infinity` when only a stamp or a release can tell (slots with no expiry
 * yet). With `lowerBound`, slots with no expiry yet are assumed to free at once, so the result is the window's own
 * wait — a lower bound, never `Infinity`.
 */
export const windowDue = (
  config: Config,
  state: State,
  i: number,
  now: number,
  n: number,
  lowerBound: boolean = false
): number => {
  const log = state.logs[i] as Log
  const window = config.windows[i] as Window
  expireLog(log, now)
  let need = occupied(config, state, log) + Math.min(n, window.limit) - window.limit
  if (need <= 0) return now
  if (need > log.pending) {
    if (!lowerBound) return Number.POSITIVE_INFINITY
    need = log.pending
    if (need === 0) return now
  }
  const { records, head, size } = log
  const mask = (records.length >> 1) - 1
  for (let k = 0; k < size; k++) {
    const j = ((head + k) & mask) << 1
    need -= records[j + 1]!
    if (need <= 0) return records[j]!
  }
  return now
}

/**
 * The earliest time at which `n` permits can be granted, assuming nothing else is granted meanwhile and (for the
 * windows) nothing is released: `now` if they can be granted now, `Infinity` if only a release can make room (the
 * concurrency cap, or in-flight slots under `measure: "release"`). With `lowerBound`, the concurrency cap is
 * ignored and slots with no expiry yet count as free: a time before which the permits certainly cannot be granted
 * (the windows, the pause and the smooth schedule alone), never `Infinity`.
 */
export const dueTime = (config: Config, state: State, now: number, n: number, lowerBound: boolean = false): number => {
  if (!lowerBound && state.inFlight + n > config.maxConcurrent) return Number.POSITIVE_INFINITY
  let due = Math.max(now, state.pausedUntil, smoothDue(config, state))
  for (let i = 0; i < config.windows.length; i++) {
    const d = windowDue(config, state, i, now, n, lowerBound)
    if (d > due) due = d
  }
  return due
}

/** What `attempt` reports (durations in ms). */
export interface Decision {
  readonly granted: boolean
  readonly limit: number
  readonly remaining: number
  readonly retryAfter: number
  readonly resetAfter: number
}

/** Time from `now` until window `i` is empty again (a slot with no expiry yet counts as expiring a period on). */
const resetAfter = (config: Config, state: State, i: number, now: number): number => {
  const log = state.logs[i] as Log
  const window = config.windows[i] as Window
  let empty = now
  if (log.size > 0) empty = lastExpiry(log)
  if (unknownExpiry(config, state) > 0) empty = Math.max(empty, now + window.period)
  return Math.max(0, empty - now)
}

/**
 * The numbers of a decision at `now` for `n` permits, after the grant (if `granted`). `queuedDue`, when others are
 * waiting, is the earliest time the caller could be served behind them (it then counts the queue). The deciding
 * window is the one with the fewest permits remaining (the longest reset among equals); `retryAfter` is the
 * longest wait over every constraint.
 */
export const decide = (
  config: Config,
  state: State,
  now: number,
  n: number,
  granted: boolean,
  queuedDue: number | undefined
): Decision => {
  let best = 0
  let bestRemaining = Number.POSITIVE_INFINITY
  let bestReset = 0
  const { windows } = config
  for (let i = 0; i < windows.length; i++) {
    const log = state.logs[i] as Log
    expireLog(log, now)
    const remaining = Math.max(0, (windows[i] as Window).limit - occupied(config, state, log))
    const reset = resetAfter(config, state, i, now)
    if (remaining < bestRemaining || (remaining === bestRemaining && reset > bestReset)) {
      best = i
      bestRemaining = remaining
      bestReset = reset
    }
  }
  let remaining = Math.min(bestRemaining, Math.max(0, config.maxConcurrent - state.inFlight))
  if (now + EPSILON < state.pausedUntil || queuedDue !== undefined) remaining = 0
  else remaining = Math.min(remaining, smoothAvailable(config, state, now))
  let retryAfter = 0
  if (!granted) {
    const due = Math.max(dueTime(config, state, now, n, true), queuedDue ?? now)
    retryAfter = Math.max(0, due - now)
  }
  return { granted, limit: (windows[best] as Window).limit, remaining, retryAfter, resetAfter: bestReset }
}
