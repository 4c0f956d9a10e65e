/**
 * The circuit breaker's pure core: a state machine of `(config, state, now, event) -> (next state, decision,
 * transitions)`. No Effect, no clock, no randomness: the shell in `circuitBreaker.ts` reads the `Clock`, applies
 * these functions in one synchronous step (together with the metrics and events that describe the step) and
 * performs the returned actions (arm the half-open timer, span events) afterwards. Options are validated by the
 * shell; a `Config` here is always valid.
 *
 * Generations. Every state change (closed -> open -> half-open -> closed, `reset`, `trip`) starts a new
 * generation. An admitted call carries the generation it was admitted in (its `Ticket`); its outcome only counts
 * when the breaker is still in that generation. So a slow call admitted while closed that fails after the breaker
 * has already opened, half-opened and closed again cannot re-open it, and a trial that outlives its half-open
 * period cannot decide the next one.
 *
 * Failure-rate windows are the one mutable part: each closed generation owns an `OutcomeWindow` (a ring buffer for
 * count-based windows, a FIFO queue for time-based ones) that is updated in place, O(1) amortized per call. It is
 * only ever touched from inside the shell's synchronous steps, and a new one is allocated for every closed
 * generation, so a state that has been left behind is never observed again.
 *
 * @internal
 */

// -----------------------------------------------------------------------------------------------------------------
// Configuration
// -----------------------------------------------------------------------------------------------------------------

/** A window of recent calls over which rates are measured. */
export type WindowConfig =
  | { readonly _tag: "Count"; readonly calls: number }
  | { readonly _tag: "Time"; readonly millis: number }

/** The opening policy, validated and with every default filled in. */
export type PolicyConfig =
  | { readonly _tag: "Consecutive"; readonly maxFailures: number }
  | {
    readonly _tag: "FailureRate"
    readonly window: WindowConfig
    readonly minimumCalls: number
    readonly failureRateThreshold: number
    /** Calls that take strictly longer than this many milliseconds are slow; `undefined`: detection is off. */
    readonly slowCallMillis: number | undefined
    readonly slowCallRateThreshold: number
  }

/** A validated breaker configuration (times in milliseconds). */
export interface Config {
  readonly name: string
  readonly resetTimeoutMillis: number
  readonly halfOpenMaxCalls: number
  readonly policy: PolicyConfig
}

// -----------------------------------------------------------------------------------------------------------------
// Sliding windows (the mutable part, see the module doc)
// -----------------------------------------------------------------------------------------------------------------

const FAILED = 1
const SLOW = 2

/** Running totals over the calls currently in a window. */
export interface OutcomeWindow {
  /** Drops calls that have left the window at `now` (time-based windows; a no-op for count-based ones). */
  evict(now: number): void
  /** Adds one completed call. */
  add(now: number, failed: boolean, slow: boolean): void
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
}

/** The last `size` calls, in a ring buffer. */
class CountWindow implements OutcomeWindow {
  private readonly flags: Uint8Array
  private next = 0
  calls = 0
  failures = 0
  slowCalls = 0
  constructor(readonly size: number) {
    this.flags = new Uint8Array(size)
  }
  evict(): void {}
  add(_now: number, failed: boolean, slow: boolean): void {
    if (this.calls === this.size) {
      const old = this.flags[this.next]!
      if (old & FAILED) this.failures--
      if (old & SLOW) this.slowCalls--
    } else {
      this.calls++
    }
    this.flags[this.next] = (failed ? FAILED : 0) | (slow ? SLOW : 0)
    if (failed) this.failures++
    if (slow) this.slowCalls++
    this.next = (this.next + 1) % this.size
  }
}

/**
 * The calls completed in the last `millis`: a call completed at `t` is in the window at `now` while
 * `t > now - millis`. A FIFO queue; each call is pushed and evicted once, so O(1) amortized.
 */
class TimeWindow implements OutcomeWindow {
  private times: Array<number> = []
  private flags: Array<number> = []
  private head = 0
  calls = 0
  failures = 0
  slowCalls = 0
  constructor(readonly millis: number) {}
  evict(now: number): void {
    const horizon = now - this.millis
    while (this.head < this.times.length && this.times[this.head]! <= horizon) {
      const old = this.flags[this.head]!
      if (old & FAILED) this.failures--
      if (old & SLOW) this.slowCalls--
      this.calls--
      this.head++
    }
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head)
      this.flags = this.flags.slice(this.head)
      this.head = 0
    }
  }
  add(now: number, failed: boolean, slow: boolean): void {
    this.evict(now)
    this.times.push(now)
    this.flags.push((failed ? FAILED : 0) | (slow ? SLOW : 0))
    this.calls++
    if (failed) this.failures++
    if (slow) this.slowCalls++
  }
}

const makeWindow = (policy: PolicyConfig): OutcomeWindow | undefined => {
  if (policy._tag === "Consecutive") return undefined
  return policy.window._tag === "Count" ? new CountWindow(policy.window.calls) : new TimeWindow(policy.window.millis)
}

// -----------------------------------------------------------------------------------------------------------------
// States and events
// -----------------------------------------------------------------------------------------------------------------

/** The public name of a state. */
export type StateName = "closed" | "open" | "half-open"

/** Calls run; the policy counts their outcomes. */
export interface Closed {
  readonly _tag: "Closed"
  readonly generation: number
  /** Consecutive counted failures (consecutive policy). */
  readonly consecutive: number
  /** Recent outcomes (failure-rate policy). */
  readonly window: OutcomeWindow | undefined
}

/** Calls are rejected until `openedAt + resetTimeout`. */
export interface Open {
  readonly _tag: "Open"
  readonly generation: number
  readonly openedAt: number
  /** The failure count at the moment the breaker opened (reported by `failures`). */
  readonly failures: number
}

/** Up to `halfOpenMaxCalls` trial calls run at once; the first decisive trial closes or re-opens the breaker. */
export interface HalfOpen {
  readonly _tag: "HalfOpen"
  readonly generation: number
  readonly inFlight: number
  readonly failures: number
}

/** The breaker's state. */
export type State = Closed | Open | HalfOpen

/** A state change, stamped with the (virtual) time at which it took effect. */
export interface Transition {
  readonly from: StateName
  readonly to: StateName
  readonly at: number
}

/** Proof of admission, handed back when the call completes. */
export interface Ticket {
  readonly generation: number
  readonly trial: boolean
  readonly startedAt: number
}

/** What a call's exit means to the breaker. */
export type Outcome = "success" | "failure" | "ignored" | "interrupted"

/** The decision for a call that asks to run. */
export type Admission =
  | { readonly _tag: "Admitted"; readonly ticket: Ticket }
  | {
    readonly _tag: "Rejected"
    readonly state: "open" | "half-open"
    /** Milliseconds until the breaker may admit calls again (0 when half-open with every trial slot taken). */
    readonly retryAfterMillis: number
  }

/** The result of one step of the machine. */
export interface Step<A> {
  readonly value: A
  readonly state: State
  readonly transitions: ReadonlyArray<Transition>
}

export const stateName = (state: State): StateName =>
  state._tag === "Closed" ? "closed" : state._tag === "Open" ? "open" : "half-open"

/** The state a new breaker starts in. */
export const initial = (config: Config): State => closed(config, 0)

const closed = (config: Config, generation: number): Closed => ({
  _tag: "Closed",
  generation,
  consecutive: 0,
  window: makeWindow(config.policy)
})

/** The instant an open breaker becomes half-open. */
export const halfOpenAt = (config: Config, state: Open): number => state.openedAt + config.resetTimeoutMillis

/** The count reported by `failures` in the closed state. */
const closedFailures = (state: Closed): number =>
  state.window === undefined ? state.consecutive : state.window.failures

/**
 * Applies the one time-driven transition: an open breaker is half-open from exactly `openedAt + resetTimeout`.
 * The transition is stamped with that instant, whenever it is observed.
 */
export const normalize = (config: Config, state: State, now: number): Step<void> => {
  if (state._tag === "Open") {
    const at = halfOpenAt(config, state)
    if (now >= at) {
      return {
        value: undefined,
        state: { _tag: "HalfOpen", generation: state.generation + 1, inFlight: 0, failures: state.failures },
        transitions: [{ from: "open", to: "half-open", at }]
      }
    }
  } else if (state._tag === "Closed" && state.window !== undefined) {
    state.window.evict(now)
  }
  return { value: undefined, state, transitions: [] }
}

const withTransitions = <A>(
  step: Step<A>,
  before: ReadonlyArray<Transition>
): Step<A> => before.length === 0 ? step : { ...step, transitions: [...before, ...step.transitions] }

/** Decides whether a call may run now. */
export const admit = (config: Config, state0: State, now: number): Step<Admission> => {
  const { state, transitions } = normalize(config, state0, now)
  switch (state._tag) {
    case "Closed":
      return {
        value: { _tag: "Admitted", ticket: { generation: state.generation, trial: false, startedAt: now } },
        state,
        transitions
      }
    case "Open":
      return {
        value: { _tag: "Rejected", state: "open", retryAfterMillis: halfOpenAt(config, state) - now },
        state,
        transitions
      }
    case "HalfOpen":
      if (state.inFlight < config.halfOpenMaxCalls) {
        return {
          value: { _tag: "Admitted", ticket: { generation: state.generation, trial: true, startedAt: now } },
          state: { ...state, inFlight: state.inFlight + 1 },
          transitions
        }
      }
      return { value: { _tag: "Rejected", state: "half-open", retryAfterMillis: 0 }, state, transitions }
  }
}

const open = (state: State, now: number, failures: number): Step<void> => ({
  value: undefined,
  state: { _tag: "Open", generation: state.generation + 1, openedAt: now, failures },
  transitions: [{ from: stateName(state), to: "open", at: now }]
})

/** Whether a call of this duration is slow under the policy. */
export const isSlow = (config: Config, durationMillis: number): boolean =>
  config.policy._tag === "FailureRate" && config.policy.slowCallMillis !== undefined &&
  durationMillis > config.policy.slowCallMillis

/** Records the outcome of an admitted call that has completed at `now`. */
export const complete = (
  config: Config,
  state0: State,
  ticket: Ticket,
  outcome: Outcome,
  now: number
): Step<void> => {
  const normalized = normalize(config, state0, now)
  const state = normalized.state
  if (state.generation !== ticket.generation) return normalized // a stale call: its generation is over
  const slow = isSlow(config, now - ticket.startedAt)
  switch (state._tag) {
    case "Closed": {
      if (outcome === "interrupted" || outcome === "ignored") return normalized
      const failed = outcome === "failure"
      const policy = config.policy
      if (policy._tag === "Consecutive") {
        if (!failed) {
          return state.consecutive === 0 ? normalized : { ...normalized, state: { ...state, consecutive: 0 } }
        }
        const consecutive = state.consecutive + 1
        if (consecutive >= policy.maxFailures) return withTransitions(open(state, now, consecutive), normalized.transitions)
        return { ...normalized, state: { ...state, consecutive } }
      }
      const window = state.window!
      window.add(now, failed, slow)
      if (
        window.calls >= policy.minimumCalls &&
        (window.failures / window.calls >= policy.failureRateThreshold ||
          (policy.slowCallMillis !== undefined && window.slowCalls / window.calls >= policy.slowCallRateThreshold))
      ) {
        return withTransitions(open(state, now, window.failures), normalized.transitions)
      }
      return normalized
    }
    case "HalfOpen": {
      // Only trials are admitted in a half-open generation.
      const freed: HalfOpen = { ...state, inFlight: state.inFlight - 1 }
      if (outcome === "failure" || (outcome === "success" && slow)) {
        return withTransitions(open(freed, now, state.failures), normalized.transitions)
      }
      if (outcome === "success") {
        return {
          value: undefined,
          state: closed(config, state.generation + 1),
          transitions: [...normalized.transitions, { from: "half-open", to: "closed", at: now }]
        }
      }
      return { ...normalized, state: freed }
    }
    case "Open":
      // Unreachable: no call is admitted in an open generation.
      return normalized
  }
}

/** Closes the breaker and clears its counts; calls admitted before the reset no longer count. */
export const reset = (config: Config, state0: State, now: number): Step<void> => {
  const { state, transitions } = normalize(config, state0, now)
  const next = closed(config, state.generation + 1)
  return {
    value: undefined,
    state: next,
    transitions: state._tag === "Closed" ? transitions : [...transitions, { from: stateName(state), to: "closed", at: now }]
  }
}

/** Opens the breaker now (an open breaker's timeout restarts); calls admitted before no longer count. */
export const trip = (config: Config, state0: State, now: number): Step<void> => {
  const { state, transitions } = normalize(config, state0, now)
  const failures = state._tag === "Closed" ? closedFailures(state) : state.failures
  const next: Open = { _tag: "Open", generation: state.generation + 1, openedAt: now, failures }
  return {
    value: undefined,
    state: next,
    transitions: state._tag === "Open" ? transitions : [...transitions, { from: stateName(state), to: "open", at: now }]
  }
}

/** The count reported by `failures`: what the policy counts while closed, frozen at its opening value otherwise. */
export const failures = (state: State): number => state._tag === "Closed" ? closedFailures(state) : state.failures
