/**
 * The in-memory throttle itself: the pure core of `throttleCore.ts`, the FIFO of `waiterQueue.ts`, one timer for
 * the head and the live-clock settling of `liveTimer.ts`, in a class whose operations are prototype methods, so
 * that creating one allocates its state and little else. `throttle.ts` builds one per `Throttle` (its module doc
 * has the timers, the stamping and the settling); `KeyedThrottle` keeps one per key. The clock, the sleep, the
 * settling and the instrument are given by the owner and may be shared by many engines: a `KeyedThrottle` has one
 * instrument (metrics are per keyed throttle) and one time base for all its keys, and runs its hot path on the
 * engine's internal operations (`tryFast`, `enqueueAndWait`, `releaseHeld`) inside its own single uninterruptible
 * region. The `Throttle.Service` of an engine is built only when asked for (`service`).
 *
 * Every decision is taken and applied in one synchronous step; `waiterQueue.ts` has the lifecycle of a waiter.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Stream from "effect/Stream"
import type * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as live from "./liveTimer.js"
import { runningFiber } from "./runningFiber.js"
import * as check from "./options.js"
import * as backend from "./throttleBackend.js"
import * as core from "./throttleCore.js"
import { ThrottleReleaseError, ThrottleTimeoutError } from "./throttleErrors.js"
import * as instrument from "./throttleInstrument.js"
import { makeWaiter, type Waiter, WaiterQueue, wake } from "./waiterQueue.js"

/** Ops a fast-path grant needs before the task's first step; with fewer left in the budget, yield first. */
export const FAST_PATH_OPS = 16

/**
 * Whether the running fiber would yield (its op budget runs out) within the next `FAST_PATH_OPS` steps. Called
 * synchronously inside an `uninterruptibleMask` body, so the check costs no Effect step of its own.
 */
export const budgetLow = (): boolean => {
  const fiber = runningFiber() as (Fiber.RuntimeFiber<unknown, unknown> & { readonly currentOpCount: number }) | undefined
  return fiber !== undefined &&
    fiber.currentOpCount + FAST_PATH_OPS >= fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
}

/** Restores the caller's interruptibility inside an uninterruptible mask. */
export type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** What engines may share: the time base, the sleep, the name, and the instrument. */
export interface Shared {
  /** Milliseconds, non-decreasing, with sub-millisecond resolution on the live clock. */
  readonly now: () => number
  readonly sleep: (duration: Duration.Duration) => Effect.Effect<void>
  /** The `name` tag of the metrics and events. */
  readonly name: string
  readonly metrics: boolean
  /** The instrument of the engine (of every engine that has not been given its own, when shared). */
  readonly instrument: instrument.Instrument
  /**
   * Whether `instrument` serves several engines: then an engine's events (`events`) come from an instrument of its
   * own, made on its first subscription, so that they are that engine's alone.
   */
  readonly sharedInstrument: boolean
  /**
   * With a shared instrument, the gauges' values: the sums over its engines (each engine adds what changed since
   * its last report), so that one key's step does not overwrite the others' waiters and permits in flight.
   */
  readonly totals?: instrument.Totals
}

/** The `matchCauseEffect` handlers that give back permits when a task exits. */
export interface Releasing {
  readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
  readonly onSuccess: (value: unknown) => Effect.Effect<unknown>
}

/**
 * The core configuration and the settling of an engine for `rates` on `clock`, as `Throttle.make` sets up its
 * in-memory service: on the live clock a smooth schedule below `SETTLE_MIN_INTERVAL` tolerates a timer's lateness.
 */
export const setup = (
  rates: ReadonlyArray<Rate.Rate>,
  resolved: core.Config,
  clock: Clock.Clock
): { readonly config: core.Config; readonly settle: live.Settle | undefined } => {
  let shortest = Number.POSITIVE_INFINITY
  for (const rate of rates) shortest = Math.min(shortest, Duration.toMillis(rate.period))
  const settle = live.settleFor(clock, shortest)
  const { interval } = resolved
  const config = settle === undefined || interval === 0 || interval >= core.SETTLE_MIN_INTERVAL
    ? resolved
    : { ...resolved, tolerance: core.LIVE_TOLERANCE }
  return { config, settle }
}

/**
 * The queue of every engine that never had a waiter: always empty, never linked to (`enqueue` gives the engine a
 * queue of its own first), so that an engine nobody waited for allocates no queue and one object less is read.
 */
const NO_WAITERS: WaiterQueue = new WaiterQueue()

/**
 * One in-memory throttle; see the module doc. Its own fields are the core's state (`state` is the engine itself)
 * and its first window's log: two objects less to allocate, and to read on every operation (with thousands of
 * engines, as in a `KeyedThrottle`, each object read is likely a cache miss).
 */
export class ThrottleEngine implements core.State, core.Log {
  // The fields every grant and release reads come first (they share the object's first cache lines).
  readonly state: core.State
  readonly logs: ReadonlyArray<core.Log>
  // The first window's log (`logs[0]` is the engine too).
  records: Float64Array = core.NO_RECORDS
  head = 0
  size = 0
  pending = 0
  unstamped: number
  inFlight: number
  tat: number
  pausedUntil: number
  granted: number
  queue: WaiterQueue = NO_WAITERS
  /** Set by `shutdown`: nothing more is granted, queued waiters are interrupted. */
  closed = false
  /** The shared instrument, or this engine's own once its events are asked for. */
  instrument: instrument.Instrument
  readonly config: core.Config
  /** The live-clock settling for these windows (`undefined` on other clocks); see `setup`. */
  readonly settle: live.Settle | undefined
  readonly shared: Shared
  // Colder fields last.
  readonly rates: readonly [Rate.Rate, ...Array<Rate.Rate>]
  /** The largest `n` one acquisition may ask for. */
  readonly max: number
  /**
   * A lower bound of the tail waiter's grant time (for `maxWait`'s fail-fast projection), or `-Infinity` when
   * unknown (after a waiter in the middle left, until the queue empties): a stale bound may only err toward waiting.
   */
  tailDue = Number.NEGATIVE_INFINITY
  private ownInstrument = false
  /** What this engine last added to `shared.totals`. */
  private reportedWaiting = 0
  private reportedInFlight = 0
  private builtService: Throttle.Service | undefined = undefined

  constructor(
    rates: readonly [Rate.Rate, ...Array<Rate.Rate>],
    config: core.Config,
    settle: live.Settle | undefined,
    shared: Shared
  ) {
    this.config = config
    this.settle = settle
    this.shared = shared
    this.rates = rates
    const fresh = core.makeState(config)
    const logs = fresh.logs.slice()
    logs[0] = this
    this.logs = logs
    this.unstamped = fresh.unstamped
    this.inFlight = fresh.inFlight
    this.tat = fresh.tat
    this.pausedUntil = fresh.pausedUntil
    this.granted = fresh.granted
    this.state = this
    this.now = shared.now
    this.max = backend.maxPermits(rates, config.maxConcurrent)
    this.instrument = shared.instrument
  }

  /** The shared time base (ms). */
  readonly now: () => number

  /** Publishes the gauges after a synchronous step that changed the queue or the in-flight count. */
  gauges(): void {
    const totals = this.shared.totals
    if (totals === undefined) return this.instrument.gauges(this.queue.size, this.state.inFlight)
    const waiting = this.queue.size
    const inFlight = this.state.inFlight
    totals.waiting += waiting - this.reportedWaiting
    totals.inFlight += inFlight - this.reportedInFlight
    this.reportedWaiting = waiting
    this.reportedInFlight = inFlight
    this.shared.instrument.gauges(totals.waiting, totals.inFlight)
  }

  /**
   * Grants every waiter at the head of the queue whose permits are free at `at`, then makes sure the new head
   * knows when its permits are due.
   */
  drain(at: number): void {
    const { config, state, queue } = this
    let w = queue.first
    while (w !== undefined) {
      if (core.canGrant(config, state, at, w.n)) {
        core.grant(config, state, at, w.n, false)
        queue.unlink(w)
        if (queue.size === 0) this.tailDue = Number.NEGATIVE_INFINITY
        w.phase = "Granted"
        this.instrument.granted(w.n, at - w.arrived)
        wake(w, Effect.void)
        w = queue.first
        continue
      }
      if (w.phase === "Queued") this.schedule(w, at)
      break
    }
    this.gauges()
  }

  /** Tells a queued head when its permits are due (a release drains again when only a release can make room). */
  schedule(w: Waiter, at: number): void {
    const due = core.dueTime(this.config, this.state, at, w.n)
    if (due === Number.POSITIVE_INFINITY) return
    w.due = due
    w.phase = "Sleeping"
    wake(w, Effect.void)
  }

  /** When slots that start at `at` are stamped to start: later by the guard when settling. */
  stampTime(at: number): number {
    const settle = this.settle
    return settle === undefined ? at : at + settle.guard
  }

  /** A granted waiter resumed (or was interrupted at that point): its slots start now. */
  stamp(w: Waiter): void {
    if (w.stamped) return
    w.stamped = true
    const { config, state, queue } = this
    // Under "release" a slot's expiry comes from its release: nothing to stamp, no clock read, no drain.
    if (config.measure !== "start") return
    // Grant whatever became due first (this waiter's slots still count, as unstamped), and read the clock for the
    // stamp only afterwards: the stamp must not precede the task's start by the time that granting (and waking)
    // a batch of waiters takes, or the next window would open that much too early for this task.
    if (queue.first !== undefined) this.drain(this.now())
    const at = this.now()
    core.stamp(config, state, this.stampTime(at), w.n)
    // A head that could not know its due time while this waiter's slots had no expiry learns it now. It is only
    // told (woken to wait for that time, or at once): granting it, and a batch behind it, here would put that work
    // between this stamp and this task's first step.
    const first = queue.first
    if (first !== undefined && first.phase === "Queued") this.schedule(first, at)
  }

  stamped(w: Waiter): Effect.Effect<void> {
    this.stamp(w)
    return Effect.void
  }

  /** Parks the waiter until `wake`; interrupted while parked, it cancels. `enqueue` links it inside the registration. */
  park(w: Waiter, enqueue: boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (enqueue) this.enqueue(w)
      if (w.woken) {
        w.woken = false
        resume(Effect.void)
        return
      }
      w.resume = resume
      return Effect.sync(() => {
        w.resume = undefined
        this.cancel(w)
      })
    })
  }

  /** The waiter's side after a wake-up: granted, or — as the new head — sleep until the permits are due. */
  afterWake(w: Waiter): Effect.Effect<void> {
    if (w.phase === "Granted") return this.stamped(w)
    if (this.closed || w.phase === "Removed") return Effect.interrupt
    const sleepUntilDue = Effect.withFiberRuntime<void>((fiber) => {
      w.sleeper = fiber
      const { interval } = this.config
      const coarse = interval > 0 && interval < core.SETTLE_MIN_INTERVAL
      return live.stepTowards(w.due, this.shared.now, this.shared.sleep, this.settle, coarse)
    })
    return Effect.flatMap(Effect.onInterrupt(sleepUntilDue, () => Effect.sync(() => this.cancel(w))), () => {
      w.sleeper = undefined
      if (w.phase === "Granted") return this.stamped(w)
      if (this.closed || w.phase === "Removed") return Effect.interrupt
      w.phase = "Queued"
      this.drain(this.now())
      return Effect.flatMap(this.park(w, false), () => this.afterWake(w))
    })
  }

  /** An interrupted (or timed-out) waiter leaves no trace; one granted in the same instant gives its permits back. */
  cancel(w: Waiter): void {
    const at = this.now()
    if (w.phase === "Granted") {
      this.stamp(w)
      w.phase = "Removed"
      core.release(this.config, this.state, at, w.n)
      this.drain(at)
    } else if (w.phase !== "Removed") {
      const { queue } = this
      const wasHead = w === queue.first
      if (w !== queue.last) this.tailDue = Number.NEGATIVE_INFINITY
      queue.unlink(w)
      if (queue.size === 0) this.tailDue = Number.NEGATIVE_INFINITY
      w.phase = "Removed"
      if (wasHead) this.drain(at)
      else this.gauges()
    }
  }

  /** Links a waiter at the tail; the head is told its due time at once. */
  enqueue(w: Waiter): void {
    if (this.queue === NO_WAITERS) this.queue = new WaiterQueue()
    this.tailDue = w.projected
    this.queue.link(w)
    if (w === this.queue.first) this.drain(this.now())
    else this.gauges()
  }

  /** A lower bound of the grant time of `n` permits asked for at `at` behind the current queue. O(windows + n). */
  projectedDue(n: number, at: number): number {
    const { config, state, queue } = this
    let due = core.dueTime(config, state, at, n, true)
    const tail = queue.last
    if (tail !== undefined && this.tailDue > Number.NEGATIVE_INFINITY) {
      const tailDue = this.tailDue
      due = Math.max(due, tailDue)
      if (config.measure === "start") {
        for (const w of config.windows) if (tail.n + n > w.limit) due = Math.max(due, tailDue + w.period)
      }
      if (config.interval > 0) due = Math.max(due, tailDue + (tail.n - config.burst + 1) * config.interval)
    }
    return due
  }

  /** Queues a waiter for `n` permits (the fast path failed) and waits; only the wait is interruptible. */
  enqueueAndWait(
    n: number,
    at: number,
    restore: Restore,
    maxWait: Duration.Duration | undefined
  ): Effect.Effect<void, ThrottleTimeoutError> {
    const projected = this.projectedDue(n, at)
    if (maxWait !== undefined && projected - at > Duration.toMillis(maxWait) + core.EPSILON) {
      return Effect.fail(this.timedOut(n, maxWait, 0, projected - at))
    }
    const w = makeWaiter(n, at, projected)
    const waitForGrant = restore(Effect.flatMap(this.park(w, true), () => this.afterWake(w)))
    const traced = this.instrument.traced(waitForGrant, n, w.arrived, this.shared.now)
    if (maxWait === undefined) return traced
    const deadline = Effect.flatMap(this.shared.sleep(maxWait), () =>
      Effect.suspend((): Effect.Effect<never, ThrottleTimeoutError> => {
        if (w.phase === "Queued" || w.phase === "Sleeping") this.drain(this.now())
        if (w.phase === "Granted") return Effect.never
        this.cancel(w)
        const t = this.now()
        return Effect.fail(this.timedOut(n, maxWait, t - at, this.projectedDue(n, t) - t))
      }))
    return Effect.raceFirst(traced, restore(deadline))
  }

  timedOut(n: number, maxWait: Duration.Duration, waited: number, retryAfter: number): ThrottleTimeoutError {
    this.instrument.timedOut(n, waited, Math.max(0, retryAfter))
    return new ThrottleTimeoutError({
      key: this.shared.name,
      permits: n,
      maxWait,
      waited: Duration.millis(waited),
      retryAfter: Duration.millis(Math.max(0, retryAfter))
    })
  }

  /** Grants at once when nobody waits and the permits are free: no allocation, no async boundary. */
  tryFast(n: number, at: number): boolean {
    const { config, state } = this
    if (this.queue.first !== undefined || !core.canGrant(config, state, at, n)) return false
    core.grant(config, state, at, n, true, this.stampTime(at))
    this.instrument.granted(n, 0)
    this.gauges()
    return true
  }

  releaseHeld(n: number): void {
    const { config, state } = this
    if (config.measure === "start") {
      state.inFlight -= n
      if (this.queue.first !== undefined) this.drain(this.now())
      else this.gauges()
      return
    }
    const at = this.now()
    core.release(config, state, at, n)
    if (this.queue.first !== undefined) this.drain(at)
    else this.gauges()
  }

  /** The handlers that release `n` permits when the task exits. */
  releasing(n: number): Releasing {
    return {
      onFailure: (cause) => {
        this.releaseHeld(n)
        return Exit.failCause(cause)
      },
      onSuccess: (value) => {
        this.releaseHeld(n)
        return Exit.succeed(value)
      }
    }
  }

  acquire(n: number, maxWait: Duration.Duration | undefined): Effect.Effect<void, ThrottleTimeoutError> {
    // the mask's body runs when the effect runs: no `suspend` needed inside it
    return Effect.uninterruptibleMask((restore) => {
      if (this.closed) return Effect.interrupt
      const at = this.now()
      return this.tryFast(n, at) ? this.instrument.flushed(Effect.void) : this.enqueueAndWait(n, at, restore, maxWait)
    })
  }

  release(n: number): Effect.Effect<void, ThrottleReleaseError> {
    return Effect.suspend(() => {
      const inFlight = this.state.inFlight
      if (n > inFlight) return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight }))
      this.releaseHeld(n)
      return Effect.void
    })
  }

  /**
   * `withPermits(n, options)(self)`. The release is a `matchCauseEffect` frame pushed while uninterruptible, with
   * `self` restored to the caller's interruptibility: the cheapest construct that still runs the release on every
   * exit. The fast path grants inside the mask and allocates nothing; it first makes sure the fiber will not yield
   * (its op budget running out) between the stamp and the task's first step, which would let other fibers run
   * while the slot already counts and open the next window early.
   */
  withPermits(n: number, options?: Throttle.AcquireOptions) {
    const invalid = backend.checkPermits(n, this.max, this.config.maxConcurrent)
    const maxWait = backend.decodeMaxWait(options)
    const releasing = this.releasing(n)
    return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | ThrottleTimeoutError, R> => {
      if (invalid !== undefined) return check.die(invalid)
      if (typeof maxWait === "string") return check.die(maxWait)
      return Effect.uninterruptibleMask((restore) =>
        budgetLow()
          ? Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => this.grantAndRun(n, restore, self, releasing, maxWait)))
          : this.grantAndRun(n, restore, self, releasing, maxWait)
      )
    }
  }

  /** `withPermits`' step inside its mask: grants at once, or queues; then runs `self` with the release frame. */
  grantAndRun<A, E, R>(
    n: number,
    restore: Restore,
    self: Effect.Effect<A, E, R>,
    releasing: Releasing,
    maxWait: Duration.Duration | undefined
  ): Effect.Effect<A, E | ThrottleTimeoutError, R> {
    if (this.closed) return Effect.interrupt
    const run = this.instrument.flushed(Effect.matchCauseEffect(restore(self), releasing) as Effect.Effect<A, E, R>)
    const at = this.now()
    return this.tryFast(n, at) ? run : Effect.zipRight(this.enqueueAndWait(n, at, restore, maxWait), run)
  }

  tryAcquire(n: number): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      if (!this.closed && this.tryFast(n, this.now())) return this.instrument.flushed(Effect.succeed(true))
      const at = this.now()
      this.instrument.rejected(n, "tryAcquire", Math.max(0, this.projectedDue(n, at) - at))
      return this.instrument.flushed(Effect.succeed(false))
    })
  }

  attempt(n: number): Effect.Effect<Throttle.Decision> {
    return Effect.suspend(() => this.instrument.flushed(Effect.sync(() => this.decide(n))))
  }

  decide(n: number): Throttle.Decision {
    const at = this.now()
    const granted = !this.closed && this.tryFast(n, at)
    const queued = this.queue.first === undefined ? undefined : this.projectedDue(n, at)
    const d = core.decide(this.config, this.state, at, n, granted, queued)
    if (!granted) this.instrument.rejected(n, "attempt", d.retryAfter)
    return {
      granted,
      limit: d.limit,
      remaining: d.remaining,
      retryAfter: Duration.millis(d.retryAfter),
      resetAfter: Duration.millis(d.resetAfter)
    }
  }

  pause(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => this.instrument.flushed(Effect.sync(() => this.pauseNow(duration))))
  }

  pauseNow(duration: Duration.Duration): void {
    const until = this.now() + Duration.toMillis(duration)
    if (!core.pause(this.state, until)) return
    this.instrument.paused(until)
    const first = this.queue.first
    if (first !== undefined && first.phase === "Queued") this.schedule(first, this.now())
  }

  locked(): boolean {
    return this.closed || this.queue.first !== undefined || !core.canGrant(this.config, this.state, this.now(), 1)
  }

  stats(): Throttle.Stats {
    const at = this.now()
    const { state, queue } = this
    return {
      inFlight: state.inFlight,
      waiting: queue.size,
      available: queue.first === undefined ? core.available(this.config, state, at) : 0,
      granted: state.granted,
      pausedUntil: state.pausedUntil > at ? state.pausedUntil : undefined
    }
  }

  /** Whether something waits or is in flight (granted and not released, or not started yet). */
  busy(): boolean {
    const { state } = this
    return this.queue.size > 0 || state.inFlight > 0 || state.unstamped > 0
  }

  /**
   * The time from which the throttle is quiet — every window empty, no pause, the smooth schedule caught up — as
   * far as its state tells, without reading the clock or expiring anything (so it may be in the past), or
   * `undefined` while it is busy. `-Infinity` when nothing was ever granted.
   */
  quietFrom(): number | undefined {
    if (this.busy()) return undefined
    const { state } = this
    let quiet = Math.max(state.pausedUntil, state.tat)
    for (const log of state.logs) quiet = Math.max(quiet, core.lastExpiry(log))
    return quiet
  }

  /** The clock time from which the throttle is truly idle (at the earliest now), or `undefined` while busy. */
  idleAt(): number | undefined {
    const quiet = this.quietFrom()
    return quiet === undefined ? undefined : Math.max(this.now(), quiet)
  }

  /** The events of this engine alone: with a shared instrument, from its first subscription on it has its own. */
  events(): Stream.Stream<Throttle.Event> {
    if (this.shared.sharedInstrument && !this.ownInstrument) {
      this.ownInstrument = true
      this.instrument = instrument.make(this.shared.name, this.shared.metrics)
    }
    return this.instrument.events as Stream.Stream<Throttle.Event>
  }

  /** The `Throttle.Service` over this engine, built on first use. */
  get service(): Throttle.Service {
    return this.builtService ??= this.buildService()
  }

  private buildService(): Throttle.Service {
    const config = this.config
    const withOnePermit = this.withPermits(1)
    return backend.makeWith<never>({
      name: this.shared.name,
      rates: this.rates,
      measure: config.measure,
      burst: config.burst,
      maxConcurrent: config.maxConcurrent,
      acquire: (n, maxWait) => this.acquire(n, maxWait),
      release: (n) => this.release(n),
      tryAcquire: (n) => this.tryAcquire(n),
      attempt: (n) => this.attempt(n),
      pause: (duration) => this.pause(duration),
      stats: Effect.sync(() => this.stats()),
      events: Stream.suspend(() => this.events()),
      withPermits: ((n: number, options?: Throttle.AcquireOptions) =>
        this.withPermits(n, options)) as Throttle.Service["withPermits"],
      withPermit: ((self: Effect.Effect<unknown, unknown, unknown>, options?: Throttle.AcquireOptions) =>
        options === undefined || options.maxWait === undefined
          ? withOnePermit(self)
          : this.withPermits(1, options)(self)) as Throttle.Service["withPermit"],
      locked: Effect.sync(() => this.locked())
    })
  }

  /** Closes the engine: nothing more is granted, queued waiters (and the sleeping head) are interrupted. */
  shutdown(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      const sleepers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      const { queue } = this
      while (queue.first !== undefined) {
        const w = queue.first
        queue.unlink(w)
        w.phase = "Removed"
        if (w.sleeper !== undefined) sleepers.push(w.sleeper)
        wake(w, Effect.interrupt)
      }
      this.tailDue = Number.NEGATIVE_INFINITY
      this.gauges()
      return Effect.forEach(sleepers, (fiber) => Fiber.interruptAsFork(fiber, FiberId.none), { discard: true })
    })
  }
}
