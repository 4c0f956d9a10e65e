/**
 * The in-memory `Throttle` service: the pure core of `throttleCore.ts` behind a thin Effect shell.
 *
 * State lives in one mutable object (`MemoryThrottle`) that is only touched synchronously inside `Effect.sync` /
 * `Effect.suspend`, so every decision ("grant now, or queue") is taken and applied in one step — the same atomicity
 * `Ref.modify` gives, without copying a queue on every operation. Waiters are parked fibers (`Effect.async`, whose
 * resume callback is kept on the waiter, like a `Deferred` without the extra object) in the FIFO list of
 * `waiterQueue.ts`, whose module doc has the lifecycle of a waiter as a table.
 *
 * Timers: only the waiter at the head of the queue ever sleeps, for exactly the time its permits are due; the
 * others stay parked. When the head is granted, the same step grants every following waiter that is already due
 * and wakes the new head so that it sleeps for its own due time. One wake-up per grant, no polling — except that on
 * Effect's live clock the head of a window-mode throttle finishes the last millisecond of its wait in event-loop
 * turns (`liveTimer.ts`), because Node's timers are only good to about a millisecond. A smooth throttle relies on
 * its GCRA burst instead (never a loop of turns). A caller with `maxWait` also has its own deadline timer.
 *
 * Metrics, spans and events are updated in the same synchronous step as the state they describe
 * (`throttleInstrument.ts`); with `metrics: false` only events remain.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as live from "./liveTimer.js"
import { runningFiber } from "./runningFiber.js"
import * as check from "./options.js"
import * as optionsConfig from "./optionsConfig.js"
import * as backend from "./throttleBackend.js"
import * as core from "./throttleCore.js"
import { ThrottleReleaseError, ThrottleTimeoutError } from "./throttleErrors.js"
import * as instrument from "./throttleInstrument.js"
import { makeWaiter, type Waiter, WaiterQueue, wake } from "./waiterQueue.js"

export type { Settle } from "./liveTimer.js"
export { isLiveClock } from "./liveTimer.js"

/** The options of a throttle, resolved and validated. */
export interface Resolved {
  readonly core: core.Config
  readonly name: string
  readonly metrics: boolean
}

/** Validates the options; returns the resolved configuration or the "Expected X, got Y" message. */
export const resolveConfig = (
  rates: Rate.Rate | ReadonlyArray<Rate.Rate>,
  options: Throttle.Options | undefined
): Resolved | string => {
  const list: ReadonlyArray<Rate.Rate> = Array.isArray(rates) ? rates : [rates as Rate.Rate]
  const measure = options?.measure ?? "start"
  const smooth = options?.smooth ?? false
  const maxConcurrent = options?.maxConcurrent ?? Number.POSITIVE_INFINITY
  const name = options?.name ?? "default"
  const metrics = options?.metrics ?? true
  const invalid = check.oneOf(measure, "option measure", ["start", "release"]) ??
    (typeof smooth === "boolean" || (typeof smooth === "object" && smooth !== null)
      ? undefined
      : check.expected("option smooth to be a boolean or { burst }", smooth)) ??
    (typeof smooth === "object" && smooth !== null ? check.int(smooth.burst, "option smooth.burst", 1) : undefined) ??
    (maxConcurrent === Number.POSITIVE_INFINITY ? undefined : check.int(maxConcurrent, "option maxConcurrent", 1)) ??
    check.string(name, "option name") ??
    check.boolean(metrics, "option metrics")
  if (invalid !== undefined) return invalid
  const windows = list.map((rate) => ({ limit: rate.limit, period: Duration.toMillis(rate.period) }))
  const interval = smooth === false ? 0 : core.smoothInterval(windows)
  const burst = smooth === false ? 0 : smooth === true ? core.defaultBurst(interval) : smooth.burst
  return {
    core: { windows, measure: measure as "start" | "release", interval, burst, maxConcurrent },
    name,
    metrics
  }
}

/**
 * The in-memory service's idleness probe (for `KeyedThrottle`): the clock time (ms) from which the throttle is
 * truly idle — nobody waiting, nothing in flight, every window empty, no pause or smooth schedule pending — or
 * `undefined` while it is busy. Dropping a throttle before that time would forget grants and over-admit.
 */
export const IdleAt: unique symbol = Symbol.for("effect-throttles/Throttle/IdleAt") as never

/** Reads the idleness probe of an in-memory service; `undefined` for other backends. */
export const idleAt = (service: Throttle.Service<unknown>): number | undefined => {
  const probe = (service as unknown as { readonly [IdleAt]?: () => number | undefined })[IdleAt]
  return probe === undefined ? undefined : probe()
}

/** Builds the in-memory service. */
export const make = (
  input: Rate.RatesInput,
  options?: Throttle.Options
): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Scope.Scope> =>
  Effect.flatMap(Rate.decodeAll(input), (rates) => {
    const resolved = resolveConfig(rates, options)
    if (typeof resolved === "string") return check.die(resolved)
    return Effect.flatMap(Effect.clock, (clock) => {
      const now = live.preciseNow(clock)
      const shortest = Math.min(...resolved.core.windows.map((w) => w.period))
      const settle = live.settleFor(clock, shortest)
      // On the live clock a smooth schedule tolerates a timer's lateness (see core.LIVE_TOLERANCE).
      const { interval } = resolved.core
      const tuned: Resolved = settle === undefined || interval === 0 || interval >= core.SETTLE_MIN_INTERVAL
        ? resolved
        : { ...resolved, core: { ...resolved.core, tolerance: core.LIVE_TOLERANCE } }
      const throttle = new MemoryThrottle(rates, tuned, now, (d) => clock.sleep(d), settle)
      return Effect.as(Effect.addFinalizer(() => throttle.shutdown), throttle.service)
    })
  })

/** The option checks that apply to a value read from config (the rate has its own validation). */
const configChecks: optionsConfig.FieldChecks = {
  measure: (u) => check.oneOf(u, "a value for option measure", ["start", "release"]),
  smooth: (u) => check.boolean(u, "a value for option smooth"),
  burst: (u) => check.int(u, "a value for option burst", 1),
  maxConcurrent: (u) => check.int(u, "a value for option maxConcurrent", 1),
  name: (u) => check.string(u, "a value for option name"),
  metrics: (u) => check.boolean(u, "a value for option metrics")
}

/**
 * `layerConfig`'s effect: a `Config` of the rate, or a `Config.Wrap` of the whole options object whose every value
 * is checked inside its own config (so a `ConfigError` names the key).
 */
export const makeFromConfig = (
  config: Config.Config<Rate.RatesInput> | Config.Config.Wrap<Throttle.ConfigOptions>,
  options: Throttle.Options | undefined
): Effect.Effect<Throttle.Service, Rate.InvalidRateError | ConfigError.ConfigError, Scope.Scope> => {
  if (Config.isConfig(config)) {
    return Effect.flatMap(config as Config.Config<Rate.RatesInput>, (input) => make(input, options))
  }
  const read = optionsConfig.fromConfig(
    config as Config.Config.Wrap<Throttle.ConfigOptions>,
    configChecks,
    (o: Throttle.ConfigOptions) => ({ _tag: "Valid", config: o })
  )
  return Effect.flatMap(read, ({ burst, rate, smooth, ...rest }) =>
    make(rate, {
      ...options,
      ...rest,
      ...(smooth === undefined ? {} : { smooth: smooth && burst !== undefined ? { burst } : smooth })
    }))
}

/**
 * The service over an explicit clock (for tests of the live-clock settling). `now` must be non-decreasing; `sleep`
 * waits for a duration on the same clock.
 */
export const makeService = (
  rate: Rate.Rate | ReadonlyArray<Rate.Rate>,
  resolved: Resolved | core.Config,
  now: () => number,
  sleep: (duration: Duration.Duration) => Effect.Effect<void>,
  settle?: live.Settle
): { readonly service: Throttle.Service; readonly shutdown: Effect.Effect<void> } => {
  const rates = (Array.isArray(rate) ? rate : [rate]) as unknown as readonly [Rate.Rate, ...Array<Rate.Rate>]
  const full: Resolved = "core" in resolved ? resolved : { core: resolved, name: "default", metrics: false }
  const throttle = new MemoryThrottle(rates, full, now, sleep, settle)
  return { service: throttle.service, shutdown: throttle.shutdown }
}

/** Ops a fast-path grant needs before the task's first step; with fewer left in the budget, yield first. */
const FAST_PATH_OPS = 16

/**
 * Whether the running fiber would yield (its op budget runs out) within the next `FAST_PATH_OPS` steps. Called
 * synchronously inside the `uninterruptibleMask` body, so the check costs no Effect step of its own.
 */
const budgetLow = (): boolean => {
  const fiber = runningFiber()
  return fiber !== undefined &&
    (fiber as unknown as { readonly currentOpCount: number }).currentOpCount + FAST_PATH_OPS >=
      fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
}

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** The in-memory throttle: every field of its state at the top, every operation an arrow property. */
class MemoryThrottle {
  readonly state: core.State
  readonly queue = new WaiterQueue()
  /** The largest `n` one acquisition may ask for. */
  readonly max: number
  /** Set by `shutdown`: nothing more is granted, queued waiters are interrupted. */
  closed = false
  /**
   * A lower bound of the tail waiter's grant time (for `maxWait`'s fail-fast projection), or `-Infinity` when
   * unknown (after a waiter in the middle left, until the queue empties): a stale bound may only err toward waiting.
   */
  tailDue = Number.NEGATIVE_INFINITY
  readonly instrument: instrument.Instrument
  readonly service: Throttle.Service

  constructor(
    readonly rates: readonly [Rate.Rate, ...Array<Rate.Rate>],
    readonly resolved: Resolved,
    readonly now: () => number,
    readonly sleep: (duration: Duration.Duration) => Effect.Effect<void>,
    readonly settle: live.Settle | undefined
  ) {
    const config = resolved.core
    this.state = core.makeState(config)
    this.max = backend.maxPermits(rates, config.maxConcurrent)
    this.instrument = instrument.make(resolved.name, resolved.metrics)
    const withPermits = this.withPermits as Throttle.Service["withPermits"]
    // The common case, built once: one permit, no deadline.
    const withOnePermit = this.withPermits(1)
    this.service = backend.makeWith<never>({
      name: resolved.name,
      rates,
      measure: config.measure,
      burst: config.burst,
      maxConcurrent: config.maxConcurrent,
      acquire: this.acquire,
      release: this.release,
      tryAcquire: this.tryAcquire,
      attempt: this.attempt,
      pause: this.pause,
      stats: this.stats,
      events: this.instrument.events as Stream.Stream<Throttle.Event>,
      withPermits,
      withPermit: ((self: Effect.Effect<unknown, unknown, unknown>, options?: Throttle.AcquireOptions) =>
        options === undefined || options.maxWait === undefined
          ? withOnePermit(self)
          : this.withPermits(1, options)(self)) as Throttle.Service["withPermit"],
      locked: this.locked
    })
    Object.defineProperty(this.service, IdleAt, { value: this.idleAt })
  }

  get config(): core.Config {
    return this.resolved.core
  }

  /** Publishes the gauges after a synchronous step that changed the queue or the in-flight count. */
  readonly gauges = (): void => {
    this.instrument.gauges(this.queue.size, this.state.inFlight)
  }

  /**
   * Grants every waiter at the head of the queue whose permits are free at `at`, then makes sure the new head
   * knows when its permits are due.
   */
  readonly drain = (at: number): void => {
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

  /**
   * Tells a queued head when its permits are due: it wakes to wait for that time (at once if it is now). When only
   * a release can make room it stays queued: `release` drains again.
   */
  readonly schedule = (w: Waiter, at: number): void => {
    const due = core.dueTime(this.config, this.state, at, w.n)
    if (due === Number.POSITIVE_INFINITY) return
    w.due = due
    w.phase = "Sleeping"
    wake(w, Effect.void)
  }

  /** When slots that start at `at` are stamped to start: later by the guard when settling. */
  readonly stampTime = (at: number): number => this.settle === undefined ? at : at + this.settle.guard

  /** A granted waiter resumed (or was interrupted at that point): its slots start now. */
  readonly stamp = (w: Waiter): void => {
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

  readonly stamped = (w: Waiter): Effect.Effect<void> => {
    this.stamp(w)
    return Effect.void
  }

  /**
   * Parks the waiter until `wake`. Interrupted while parked, it cancels (leaves no trace, or gives back a grant it
   * had not seen yet). `enqueue` links the waiter first — inside the registration, so that a fiber interrupted
   * before it parks is never queued.
   */
  readonly park = (w: Waiter, enqueue: boolean): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
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

  /** The waiter's side after a wake-up: granted, or — as the new head — sleep until the permits are due. */
  readonly afterWake = (w: Waiter): Effect.Effect<void> => {
    if (w.phase === "Granted") return this.stamped(w)
    if (this.closed || w.phase === "Removed") return Effect.interrupt
    const sleepUntilDue = Effect.withFiberRuntime<void>((fiber) => {
      w.sleeper = fiber
      // A fast smooth throttle's wake-ups rely on its GCRA burst, never on a loop of event-loop turns.
      const { interval } = this.config
      const coarse = interval > 0 && interval < core.SETTLE_MIN_INTERVAL
      return live.stepTowards(w.due, this.now, this.sleep, this.settle, coarse)
    })
    return Effect.flatMap(Effect.onInterrupt(sleepUntilDue, () => Effect.sync(() => this.cancel(w))), () => {
      w.sleeper = undefined
      if (w.phase === "Granted") return this.stamped(w) // granted meanwhile by another event
      if (this.closed || w.phase === "Removed") return Effect.interrupt
      w.phase = "Queued"
      this.drain(this.now())
      return Effect.flatMap(this.park(w, false), () => this.afterWake(w))
    })
  }

  /**
   * An interrupted (or timed-out) waiter leaves no trace; one that was granted in the same instant gives its
   * permits back. Idempotent.
   */
  readonly cancel = (w: Waiter): void => {
    const at = this.now()
    if (w.phase === "Granted") {
      this.stamp(w)
      w.phase = "Removed"
      core.release(this.config, this.state, at, w.n)
      this.drain(at)
    } else if (w.phase !== "Removed") {
      const { queue } = this
      const wasHead = w === queue.first
      if (w !== queue.last) this.tailDue = Number.NEGATIVE_INFINITY // a stale bound may only err toward waiting
      queue.unlink(w)
      if (queue.size === 0) this.tailDue = Number.NEGATIVE_INFINITY
      w.phase = "Removed"
      if (wasHead) this.drain(at)
      else this.gauges()
    }
  }

  /** Links a waiter at the tail; the head is told its due time at once. */
  readonly enqueue = (w: Waiter): void => {
    // The new tail's bound (it already includes the previous tail's, when that one was still valid).
    this.tailDue = w.projected
    this.queue.link(w)
    if (w === this.queue.first) this.drain(this.now())
    else this.gauges()
  }

  /**
   * A lower bound of the grant time of `n` permits asked for at `at` behind the current queue: the windows, the
   * pause and the smooth schedule alone (no release assumed), and the tail's own bound. O(windows + n).
   */
  readonly projectedDue = (n: number, at: number): number => {
    const { config, state, queue } = this
    let due = core.dueTime(config, state, at, n, true)
    const tail = queue.last
    if (tail !== undefined && this.tailDue > Number.NEGATIVE_INFINITY) {
      const tailDue = this.tailDue
      due = Math.max(due, tailDue)
      // Granted after the tail: where both cannot fit in one window, the tail's slots must expire first.
      if (config.measure === "start") {
        for (const w of config.windows) if (tail.n + n > w.limit) due = Math.max(due, tailDue + w.period)
      }
      if (config.interval > 0) due = Math.max(due, tailDue + (tail.n - config.burst + 1) * config.interval)
    }
    return due
  }

  /** Queues a waiter for `n` permits (the fast path failed) and waits; only the wait is interruptible. */
  readonly enqueueAndWait = (
    n: number,
    at: number,
    restore: Restore,
    maxWait: Duration.Duration | undefined
  ): Effect.Effect<void, ThrottleTimeoutError> => {
    const projected = this.projectedDue(n, at)
    if (maxWait !== undefined && projected - at > Duration.toMillis(maxWait) + core.EPSILON) {
      // The windows alone prove the wait is longer: fail at once, without queueing (nobody behind is delayed).
      return Effect.fail(this.timedOut(n, maxWait, 0, projected - at))
    }
    const w = makeWaiter(n, at, projected)
    const waitForGrant = restore(Effect.flatMap(this.park(w, true), () => this.afterWake(w)))
    const traced = this.instrument.traced(waitForGrant, n, () => this.now() - w.arrived)
    if (maxWait === undefined) return traced
    // The deadline: at `maxWait`, whoever is due now is granted first (a grant due exactly at the deadline is
    // within it); a waiter still not granted leaves the queue without a trace and fails.
    const deadline = Effect.flatMap(this.sleep(maxWait), () =>
      Effect.suspend((): Effect.Effect<never, ThrottleTimeoutError> => {
        if (w.phase === "Queued" || w.phase === "Sleeping") this.drain(this.now())
        if (w.phase === "Granted") return Effect.never
        this.cancel(w)
        const t = this.now()
        return Effect.fail(this.timedOut(n, maxWait, t - at, this.projectedDue(n, t) - t))
      }))
    return Effect.raceFirst(traced, restore(deadline))
  }

  readonly timedOut = (
    n: number,
    maxWait: Duration.Duration,
    waited: number,
    retryAfter: number
  ): ThrottleTimeoutError => {
    this.instrument.timedOut(n, waited, Math.max(0, retryAfter))
    return new ThrottleTimeoutError({
      key: this.resolved.name,
      permits: n,
      maxWait,
      waited: Duration.millis(waited),
      retryAfter: Duration.millis(Math.max(0, retryAfter))
    })
  }

  /** Grants at once when nobody waits and the permits are free: no allocation, no async boundary. */
  readonly tryFast = (n: number, at: number): boolean => {
    const { config, state } = this
    if (this.queue.first !== undefined || !core.canGrant(config, state, at, n)) return false
    core.grant(config, state, at, n, false)
    core.stamp(config, state, this.stampTime(at), n)
    this.instrument.granted(n, 0)
    this.gauges()
    return true
  }

  readonly releaseHeld = (n: number): void => {
    const { config, state } = this
    if (config.measure === "start") {
      // The windows are unaffected: only the in-flight count (the concurrency cap) changes.
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

  readonly acquire = (n: number, maxWait: Duration.Duration | undefined): Effect.Effect<void, ThrottleTimeoutError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        if (this.closed) return Effect.interrupt
        const at = this.now()
        return this.tryFast(n, at) ? this.instrument.flushed(Effect.void) : this.enqueueAndWait(n, at, restore, maxWait)
      })
    )

  readonly release = (n: number): Effect.Effect<void, ThrottleReleaseError> =>
    Effect.suspend(() => {
      const inFlight = this.state.inFlight
      if (n > inFlight) return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight }))
      this.releaseHeld(n)
      return Effect.void
    })

  /**
   * `withPermits(n, options)(self)`. The release is a `matchCauseEffect` frame pushed while uninterruptible, with
   * `self` restored to the caller's interruptibility: the cheapest construct that still runs the release on every
   * exit. The fast path grants inside the mask and allocates nothing; it first makes sure the fiber will not yield
   * (its op budget running out) between the stamp and the task's first step, which would let other fibers run
   * while the slot already counts and open the next window early.
   */
  readonly withPermits = (n: number, options?: Throttle.AcquireOptions) => {
    const invalid = backend.checkPermits(n, this.max, this.config.maxConcurrent)
    const maxWait = backend.decodeMaxWait(options)
    const releasing = {
      onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
        this.releaseHeld(n)
        return Exit.failCause(cause)
      },
      onSuccess: (value: unknown): Effect.Effect<unknown> => {
        this.releaseHeld(n)
        return Exit.succeed(value)
      }
    }
    return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | ThrottleTimeoutError, R> => {
      if (invalid !== undefined) return check.die(invalid)
      if (typeof maxWait === "string") return check.die(maxWait)
      return Effect.uninterruptibleMask((restore) => {
        if (budgetLow()) {
          return Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => this.grantAndRun(n, restore, self, releasing, maxWait)))
        }
        return this.grantAndRun(n, restore, self, releasing, maxWait)
      })
    }
  }

  /** `withPermits`' step inside its mask: grants at once, or queues; then runs `self` with the release frame. */
  readonly grantAndRun = <A, E, R>(
    n: number,
    restore: Restore,
    self: Effect.Effect<A, E, R>,
    releasing: {
      readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
      readonly onSuccess: (value: unknown) => Effect.Effect<unknown>
    },
    maxWait: Duration.Duration | undefined
  ): Effect.Effect<A, E | ThrottleTimeoutError, R> => {
    if (this.closed) return Effect.interrupt
    const run = this.instrument.flushed(Effect.matchCauseEffect(restore(self), releasing) as Effect.Effect<A, E, R>)
    const at = this.now()
    return this.tryFast(n, at) ? run : Effect.zipRight(this.enqueueAndWait(n, at, restore, maxWait), run)
  }

  readonly tryAcquire = (n: number): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      if (!this.closed && this.tryFast(n, this.now())) return this.instrument.flushed(Effect.succeed(true))
      const at = this.now()
      this.instrument.rejected(n, "tryAcquire", Math.max(0, this.projectedDue(n, at) - at))
      return this.instrument.flushed(Effect.succeed(false))
    })

  readonly attempt = (n: number): Effect.Effect<Throttle.Decision> =>
    Effect.suspend(() => this.instrument.flushed(this.decide(n)))

  readonly decide = (n: number): Effect.Effect<Throttle.Decision> =>
    Effect.sync(() => {
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
    })

  readonly pause = (duration: Duration.Duration): Effect.Effect<void> =>
    Effect.suspend(() => this.instrument.flushed(this.pauseNow(duration)))

  readonly pauseNow = (duration: Duration.Duration): Effect.Effect<void> =>
    Effect.sync(() => {
      const until = this.now() + Duration.toMillis(duration)
      if (!core.pause(this.state, until)) return
      this.instrument.paused(until)
      // A head sleeping towards an earlier due time re-checks when it wakes (its grant is refused until the pause
      // ends, and it is scheduled again); a queued head is told the new time now.
      const first = this.queue.first
      if (first !== undefined && first.phase === "Queued") this.schedule(first, this.now())
    })

  readonly locked: Effect.Effect<boolean> = Effect.sync(() =>
    this.closed || this.queue.first !== undefined || !core.canGrant(this.config, this.state, this.now(), 1)
  )

  readonly stats: Effect.Effect<Throttle.Stats> = Effect.sync(() => {
    const at = this.now()
    const { state, queue } = this
    return {
      inFlight: state.inFlight,
      waiting: queue.size,
      available: queue.first === undefined ? core.available(this.config, state, at) : 0,
      granted: state.granted,
      pausedUntil: state.pausedUntil > at ? state.pausedUntil : undefined
    }
  })

  readonly idleAt = (): number | undefined => {
    const { state } = this
    if (this.queue.size > 0 || state.inFlight > 0 || state.unstamped > 0) return undefined
    const at = this.now()
    core.expire(state, at)
    let idle = Math.max(at, state.pausedUntil, state.tat)
    for (const log of state.logs) {
      if (log.expiries.length > log.head) idle = Math.max(idle, log.expiries[log.expiries.length - 1] as number)
    }
    return idle
  }

  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const interrupted = Effect.interrupt
    const sleepers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
    const { queue } = this
    while (queue.first !== undefined) {
      const w = queue.first
      queue.unlink(w)
      w.phase = "Removed"
      if (w.sleeper !== undefined) sleepers.push(w.sleeper)
      wake(w, interrupted)
    }
    this.tailDue = Number.NEGATIVE_INFINITY
    this.gauges()
    return Effect.forEach(sleepers, (fiber) => Fiber.interruptAsFork(fiber, FiberId.none), { discard: true })
  })
}
