/**
 * The in-memory `Throttle` service: the pure core of `throttleCore.ts` behind a thin Effect shell.
 *
 * State lives in one mutable cell that is only touched synchronously inside `Effect.sync` / `Effect.suspend`, so
 * every decision ("grant now, or queue") is taken and applied in one step — the same atomicity `Ref.modify` gives,
 * without copying a queue on every operation. Waiters are parked fibers (`Effect.async`, whose resume callback is
 * kept on the waiter, like a `Deferred` without the extra object) in a doubly linked FIFO list.
 *
 * Timers: only the waiter at the head of the queue ever sleeps, for exactly the time its permits are due; the
 * others stay parked. When the head is granted, the same step grants every following waiter that is
 * already due and wakes the new head so that it sleeps for its own due time. One wake-up per grant, no polling —
 * except that on Effect's live clock the head finishes the last millisecond or two of its wait in event-loop turns
 * (see `Settle`), because Node's timers are only good to about a millisecond.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as backend from "./throttleBackend.js"
import { ThrottleReleaseError } from "./throttleErrors.js"
import * as core from "./throttleCore.js"

const QUEUED = 0
const SLEEPING = 1
const GRANTED = 2
const REMOVED = 3

interface Waiter {
  readonly n: number
  /** The parked fiber's resume callback; `undefined` while the fiber is not parked. */
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  /** A wake-up that arrived while the fiber was not parked (it will not park then). */
  woken: boolean
  phase: number
  /** When SLEEPING: the time its permits are due. */
  due: number
  /** Whether the slot of a granted waiter has been started (see `core.stamp`). */
  stamped: boolean
  /** When SLEEPING: the fiber that sleeps, so that closing the scope can interrupt it. */
  sleeper: Fiber.RuntimeFiber<unknown, unknown> | undefined
  prev: Waiter | undefined
  next: Waiter | undefined
}

const describe = (value: unknown): string => typeof value === "string" ? JSON.stringify(value) : String(value)

const defect = (message: string) => Effect.die(new Cause.IllegalArgumentException(message))

/** Validates the options; returns the resolved configuration or the "Expected X, got Y" message. */
export const resolveConfig = (rate: Rate.Rate, options: Throttle.Options | undefined): core.Config | string => {
  const measure = options?.measure ?? "start"
  if (measure !== "start" && measure !== "release") {
    return `Expected option measure to be "start" or "release", got ${describe(measure)}`
  }
  const smoothOption = options?.smooth ?? false
  const smooth = typeof smoothOption === "object" && smoothOption !== null ? true : smoothOption
  if (typeof smooth !== "boolean") return `Expected option smooth to be a boolean, got ${describe(smooth)}`
  const maxConcurrent = options?.maxConcurrent ?? Number.POSITIVE_INFINITY
  if (!(maxConcurrent === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxConcurrent) && maxConcurrent >= 1))) {
    return `Expected option maxConcurrent to be an integer >= 1, got ${describe(maxConcurrent)}`
  }
  const period = Duration.toMillis(rate.period)
  return {
    limit: rate.limit,
    period,
    measure,
    interval: smooth ? period / rate.limit : 0,
    maxConcurrent
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
  Effect.flatMap(Rate.decodeAll(input), ([rate]) => {
    const config = resolveConfig(rate, options)
    if (typeof config === "string") return defect(config)
    return Effect.flatMap(Effect.clock, (clock) => {
      // Milliseconds with sub-millisecond resolution: the high-resolution counter relative to an origin taken now,
      // added to the wall-clock milliseconds of that origin. Exact on TestClock (whole nanoseconds).
      const originNanos = clock.unsafeCurrentTimeNanos()
      const originMillis = clock.unsafeCurrentTimeMillis()
      const now = () => originMillis + Number(clock.unsafeCurrentTimeNanos() - originNanos) / 1e6
      const settle: Settle | undefined = liveTurn !== undefined && isLiveClock(clock)
        ? {
          lead: LEAD_MILLIS,
          minTimer: MIN_TIMER_MILLIS,
          turn: liveTurn,
          guard: Math.min(GUARD_MILLIS, config.period * GUARD_SHARE)
        }
        : undefined
      const service = makeService(rate, config, now, (d) => clock.sleep(d), settle)
      return Effect.as(Effect.addFinalizer(() => service.shutdown), service.service)
    })
  })

/**
 * How the head waiter finishes its wait on a clock whose timers are coarse: it sleeps until `lead` ms before its
 * due time, then waits out the rest one `turn` at a time (re-checking the clock after each), so that it is granted
 * within one turn of its due time instead of one timer tick (about 1 ms) after it.
 */
export interface Settle {
  /** How many ms before the due time the timer is set; also the most a head spends taking turns per wake-up. */
  readonly lead: number
  /**
   * The shortest timer that fires on time, in ms (Node: 1 ms; a shorter one is rounded up to it). A wait for
   * which a timer of `remaining - lead` would be shorter is done in turns from the start.
   */
  readonly minTimer: number
  /** Waits one turn of the event loop (letting I/O and timers run). */
  readonly turn: Effect.Effect<void>
  /**
   * Added to a granted waiter's stamp, in ms. The stamp is taken a few steps before the task's own first step
   * (tens of µs, more on a loaded event loop or when a collection lands in between); starting the slot this much
   * later keeps the window exact at the task's first step. It delays each window by the same amount.
   */
  readonly guard: number
}

/**
 * Node's timers have whole-millisecond resolution and fire up to ~1.5 ms early or late relative to the
 * high-resolution clock. A timer that fires early leaves a remainder below 1 ms, which a second timer can only
 * cover by overshooting to the next tick. Each window of a throttle opens exactly one period after the actual
 * starts of the previous one, so that overshoot adds up window after window (~1 ms per window). Finishing the last
 * millisecond with event-loop turns (`setImmediate`) removes it, at the cost of at most ~2 ms of busy turns per
 * wake-up of the head waiter (never more than one waiter does this at a time): a wait shorter than lead + 1 ms is
 * all turns, as a timer shorter than 1 ms would be rounded up to 1 ms.
 */
const LEAD_MILLIS = 1
/**
 * The guard on the live clock: 0.25 ms, enough for the few steps between a stamp and the task's first step and for
 * most young-generation collections that land there, but never more than 0.1% of the period (the most it can cost
 * of the rate).
 */
const GUARD_MILLIS = 0.25
const GUARD_SHARE = 0.001

/** Node's shortest timer: a shorter one is rounded up to it. */
const MIN_TIMER_MILLIS = 1

/** One turn of the event loop, where `setImmediate` exists (Node, Bun, Deno); elsewhere no settling. */
const liveTurn: Effect.Effect<void> | undefined = typeof globalThis.setImmediate === "function"
  ? Effect.async<void>((resume) => {
    const handle = globalThis.setImmediate(() => resume(Effect.void))
    return Effect.sync(() => globalThis.clearImmediate(handle))
  })
  : undefined

const liveClockConstructor: unknown = Context.get(DefaultServices.liveServices, Clock.Clock).constructor

/** Whether `clock` is Effect's default clock (real timers), as opposed to `TestClock` or a custom clock. */
export const isLiveClock = (clock: Clock.Clock): boolean => clock.constructor === liveClockConstructor

/**
 * The service over an explicit clock. `now` must be non-decreasing; `sleep` waits for a duration on the same clock.
 * `settle`, if given, sharpens the head waiter's wake-ups on a clock with coarse timers (see {@link Settle}).
 */
export const makeService = (
  rate: Rate.Rate,
  config: core.Config,
  now: () => number,
  sleep: (duration: Duration.Duration) => Effect.Effect<void>,
  settle?: Settle
): { readonly service: Throttle.Service; readonly shutdown: Effect.Effect<void> } => {
  const state = core.makeState()
  const maxPermits = Math.min(config.limit, config.maxConcurrent)
  let first: Waiter | undefined
  let last: Waiter | undefined
  let waiting = 0
  let closed = false

  const checkPermits = (n: number): string | undefined =>
    Number.isSafeInteger(n) && n >= 1 && n <= maxPermits
      ? undefined
      : `Expected permits to be an integer from 1 to ${maxPermits} (the throttle's ` +
        `${config.maxConcurrent < config.limit ? "maxConcurrent" : "limit"}), got ${describe(n)}`

  const unlink = (w: Waiter): void => {
    if (w.prev === undefined) first = w.next
    else w.prev.next = w.next
    if (w.next === undefined) last = w.prev
    else w.next.prev = w.prev
    w.prev = undefined
    w.next = undefined
    waiting--
  }

  /**
   * Grants every waiter at the head of the queue whose permits are free at `at`, then makes sure the new head
   * knows when its permits are due. `floor` anchors the smooth schedule (see `core.grant`).
   */
  const drain = (at: number, floor: number): void => {
    let w = first
    while (w !== undefined) {
      if (core.canGrant(config, state, at, w.n)) {
        // A waiter whose due time has passed is granted on its schedule, whichever event noticed it first: the
        // smooth schedule then continues from that due time, not from a late timer or a late wake-up.
        if (w.phase === SLEEPING && w.due < floor) floor = w.due
        core.grant(config, state, at, w.n, floor, false)
        unlink(w)
        w.phase = GRANTED
        wake(w, Effect.void)
        w = first
        continue
      }
      if (w.phase === QUEUED) schedule(w, at)
      return
    }
  }

  /**
   * Tells a queued head when its permits are due: it wakes to wait for that time (at once if it is now). When only
   * a release can make room it stays queued: `release` drains again.
   */
  const schedule = (w: Waiter, at: number): void => {
    const due = core.dueTime(config, state, at, w.n)
    if (due === Number.POSITIVE_INFINITY) return
    w.due = due
    w.phase = SLEEPING
    wake(w, Effect.void)
  }

  /** When slots that start at `at` are stamped to start: later by the guard when settling (see `Settle`). */
  const stampTime = (at: number): number => settle === undefined ? at : at + settle.guard

  /** A granted waiter resumed (or was interrupted at that point): its slots start now. */
  const stamp = (w: Waiter): void => {
    if (w.stamped) return
    w.stamped = true
    // Under "release" a slot's expiry comes from its release: nothing to stamp, no clock read, no drain.
    if (config.measure !== "start") return
    // Grant whatever became due first (this waiter's slots still count, as unstamped), and read the clock for the
    // stamp only afterwards: the stamp must not precede the task's start by the time that granting (and waking)
    // a batch of waiters takes, or the next window would open that much too early for this task.
    if (first !== undefined) {
      const at = now()
      drain(at, at)
    }
    const at = now()
    core.stamp(config, state, stampTime(at), w.n)
    // A head that could not know its due time while this waiter's slots had no expiry learns it now. It is only
    // told (woken to wait for that time, or at once): granting it, and a batch behind it, here would put that work
    // between this stamp and this task's first step.
    if (first !== undefined && first.phase === QUEUED) schedule(first, at)
  }

  const stamped = (w: Waiter): Effect.Effect<void> => {
    stamp(w)
    return Effect.void
  }

  /** Resumes a parked waiter, or leaves word for it if it is not parked right now. */
  const wake = (w: Waiter, effect: Effect.Effect<void>): void => {
    const resume = w.resume
    if (resume === undefined) {
      w.woken = true
      return
    }
    w.resume = undefined
    resume(effect)
  }

  /**
   * Parks the waiter until `wake`. Interrupted while parked, it cancels (leaves no trace, or gives back a grant it
   * had not seen yet). `enqueue` links the waiter first — inside the registration, so that a fiber interrupted
   * before it parks is never queued.
   */
  const park = (w: Waiter, enqueue: boolean): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (enqueue) link(w)
      if (w.woken) {
        w.woken = false
        resume(Effect.void)
        return
      }
      w.resume = resume
      return Effect.sync(() => {
        w.resume = undefined
        cancel(w)
      })
    })

  /** The waiter's side after a wake-up: granted, or — as the new head — sleep until the permits are due. */
  const afterWake = (w: Waiter): Effect.Effect<void> => {
    if (w.phase === GRANTED) return stamped(w)
    if (closed) return Effect.interrupt
    const sleepUntilDue = Effect.withFiberRuntime<void>((fiber) => {
      w.sleeper = fiber
      const remaining = w.due - now()
      if (settle === undefined) return sleep(Duration.millis(Math.max(0, remaining)))
      if (remaining <= core.EPSILON) return Effect.void
      return remaining - settle.lead >= settle.minTimer
        ? sleep(Duration.millis(remaining - settle.lead))
        : settle.turn
    })
    return Effect.flatMap(Effect.onInterrupt(sleepUntilDue, () => Effect.sync(() => cancel(w))), () => {
      w.sleeper = undefined
      if (w.phase === GRANTED) return stamped(w) // granted meanwhile by another event
      if (closed) return Effect.interrupt
      w.phase = QUEUED
      drain(now(), w.due)
      return Effect.flatMap(park(w, false), () => afterWake(w))
    })
  }

  /** An interrupted waiter leaves no trace; one that was granted in the same instant gives its permits back. */
  const cancel = (w: Waiter): void => {
    const at = now()
    if (w.phase === GRANTED) {
      stamp(w)
      core.release(config, state, at, w.n)
      drain(at, at)
    } else if (w.phase !== REMOVED) {
      const wasHead = w === first
      unlink(w)
      w.phase = REMOVED
      if (wasHead) drain(at, at)
    }
  }

  const link = (w: Waiter): void => {
    w.prev = last
    if (last === undefined) first = w
    else last.next = w
    last = w
    waiting++
    if (w === first) {
      const at = now()
      drain(at, at)
    }
  }

  /** Queues a waiter for `n` permits (the fast path failed) and waits; only the wait is interruptible. */
  const enqueueAndWait = (
    n: number,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ): Effect.Effect<void> => {
    const w: Waiter = {
      n,
      resume: undefined,
      woken: false,
      phase: QUEUED,
      due: 0,
      stamped: false,
      sleeper: undefined,
      prev: undefined,
      next: undefined
    }
    return restore(Effect.flatMap(park(w, true), () => afterWake(w)))
  }

  /** Grants at once when nobody waits and the permits are free: no allocation, no async boundary. */
  const tryFast = (n: number, at: number): boolean => {
    if (first !== undefined || !core.canGrant(config, state, at, n)) return false
    core.grant(config, state, at, n, at, false)
    core.stamp(config, state, stampTime(at), n)
    return true
  }

  const releaseHeld = (n: number): void => {
    if (config.measure === "start") {
      // The window is unaffected: only the in-flight count (the concurrency cap) changes.
      state.inFlight -= n
      if (first !== undefined) {
        const at = now()
        drain(at, at)
      }
      return
    }
    const at = now()
    core.release(config, state, at, n)
    if (first !== undefined) drain(at, at)
  }

  const acquire = (n: number = 1, _maxWait?: Duration.Duration): Effect.Effect<void> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const invalid = checkPermits(n)
        if (invalid !== undefined) return defect(invalid)
        if (closed) return Effect.interrupt
        const at = now()
        return tryFast(n, at) ? Effect.void : enqueueAndWait(n, restore)
      })
    )

  const release = (n: number = 1): Effect.Effect<void, ThrottleReleaseError> =>
    Effect.suspend(() => {
      if (!Number.isSafeInteger(n) || n < 1) return defect(`Expected permits to be an integer >= 1, got ${describe(n)}`)
      if (n > state.inFlight) return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight: state.inFlight }))
      releaseHeld(n)
      return Effect.void
    })

  /**
   * `withPermits(n)(self)`. The release is a `matchCauseEffect` frame pushed while uninterruptible, with `self`
   * restored to the caller's interruptibility: the cheapest construct that still runs the release on every exit
   * (an interrupted fiber skips failure handlers unless they run uninterruptibly). The fast path grants inside the
   * mask and allocates nothing.
   */
  const withPermits = (n: number, _options?: Throttle.AcquireOptions) => {
    const invalid = checkPermits(n)
    const releasing = {
      onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
        releaseHeld(n)
        return Exit.failCause(cause)
      },
      onSuccess: (value: unknown): Effect.Effect<unknown> => {
        releaseHeld(n)
        return Exit.succeed(value)
      }
    }
    return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      invalid !== undefined ? defect(invalid) : Effect.uninterruptibleMask((restore) => {
        if (closed) return Effect.interrupt
        const run = Effect.matchCauseEffect(restore(self), releasing) as Effect.Effect<A, E, R>
        return tryFast(n, now()) ? run : Effect.zipRight(enqueueAndWait(n, restore), run)
      })
  }

  const withPermit = withPermits(1)

  const tryAcquire = (n: number = 1): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      const invalid = checkPermits(n)
      if (invalid !== undefined) return defect(invalid)
      return Effect.succeed(!closed && tryFast(n, now()))
    })

  const locked = Effect.sync(() => closed || first !== undefined || !core.canGrant(config, state, now(), 1))

  const stats = Effect.sync((): Throttle.Stats => ({
    pausedUntil: undefined,
    inFlight: state.inFlight,
    waiting,
    available: first === undefined ? core.available(config, state, now()) : 0,
    granted: state.granted
  }))

  const throttled = <Args extends ReadonlyArray<unknown>, A, E, R>(
    f: (...args: Args) => Effect.Effect<A, E, R>
  ): (...args: Args) => Effect.Effect<A, E, R> =>
  (...args) => withPermit(Effect.suspend(() => f(...args)))

  const shutdown = Effect.suspend(() => {
    closed = true
    const interrupted = Effect.interrupt
    const sleepers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
    while (first !== undefined) {
      const w = first
      unlink(w)
      w.phase = REMOVED
      if (w.sleeper !== undefined) sleepers.push(w.sleeper)
      wake(w, interrupted)
    }
    return Effect.forEach(sleepers, (fiber) => Fiber.interruptAsFork(fiber, FiberId.none), { discard: true })
  })

  const service: Throttle.Service = backend.makeWith<never>({
    name: "default",
    rates: [rate],
    measure: config.measure,
    burst: config.interval > 0 ? 1 : 0,
    maxConcurrent: config.maxConcurrent,
    acquire,
    release,
    withPermit: withPermit as Throttle.Service["withPermit"],
    withPermits: withPermits as Throttle.Service["withPermits"],
    tryAcquire,
    attempt: () => Effect.dieMessage("attempt: not implemented yet"),
    pause: () => Effect.dieMessage("pause: not implemented yet"),
    locked,
    stats,
    throttled
  })
  Object.defineProperty(service, IdleAt, {
    value: (): number | undefined => {
      if (waiting > 0 || state.inFlight > 0 || state.unstamped > 0) return undefined
      const at = now()
      core.expire(state, at)
      const lastExpiry = state.expiries.length > state.head ? state.expiries[state.expiries.length - 1] as number : at
      return Math.max(at, lastExpiry, state.nextSmooth)
    }
  })
  return { service, shutdown }
}
