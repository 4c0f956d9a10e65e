/**
 * `KeyedThrottle`: one in-memory throttle per key, created on first use and dropped once it has been truly idle
 * for `idleTimeToLive`.
 *
 * State lives in plain mutable structures touched only synchronously inside Effect steps (as in the Throttle): a
 * map from key to entry (a JS `Map` for primitive keys, a `MutableHashMap` — `Equal` + `Hash` — for objects), a
 * reference count per entry (operations of this module in progress), and one timer queue (`TimerHeap`) of the
 * entries nobody holds. An entry *is* the key's throttle: a lean engine (`throttleEngine.ts`, the in-memory
 * Throttle's algorithm) sharing this keyed throttle's clock and instrument, with no scope, service or metric
 * lookups of its own, so a new key costs a few allocations.
 *
 * Hot path: `withPermits(key, n)(self)` is one uninterruptible region — look the key up, hold it, grant on the
 * engine's fast path (or queue on it), run `self` restored — and one exit handler that gives the permits back and
 * lets go of the key (the entry is that handler for one permit: nothing allocated per call). Letting go is O(1):
 * the time is noted, and the key is queued for `now + idleTimeToLive` when it is not queued yet. The sweeper, a
 * single background fiber asleep until the earliest queued time, works out the true deadline only then — the later
 * of the last let-go and the end of the windows, plus the time to live — and drops the key or queues it again.
 *
 * Why not `RcMap`: its time to live starts when the last reference is released, but a throttle whose windows still
 * hold grants must outlive that (dropping it would forget the grants and admit too many), and `RcMap` keeps a timer
 * fiber per idle key.
 *
 * @internal
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import type * as Cause from "effect/Cause"
import type * as Scope from "effect/Scope"
import type { KeyedThrottle } from "../KeyedThrottle.js"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as core from "./keyedThrottleCore.js"
import { preciseNow, type Settle } from "./liveTimer.js"
import * as finalizer from "./finalizer.js"
import * as check from "./options.js"
import * as throttle from "./throttle.js"
import * as backend from "./throttleBackend.js"
import type * as throttleCore from "./throttleCore.js"
import * as engine from "./throttleEngine.js"
import { ThrottleReleaseError, type ThrottleTimeoutError } from "./throttleErrors.js"
import * as instrument from "./throttleInstrument.js"

/** The brand of a keyed throttle. */
export const TypeId: unique symbol = Symbol.for("effect-throttles/KeyedThrottle") as never

/** Whether `u` is a keyed throttle. */
export const isKeyedThrottle = (u: unknown): u is KeyedThrottle<unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * A key's throttle and its bookkeeping in one object (one allocation, one cache line less per operation): a lean
 * engine (`throttleEngine.ts`) sharing the keyed throttle's clock and instrument.
 */
class Entry<K> extends engine.ThrottleEngine implements core.Timed, engine.Releasing {
  /** Operations of this module using the entry right now. */
  refs = 1
  /** When the last holder let go (ms); the sweeper reads it, so letting go costs no look at the windows. */
  lastLetGo = Number.NEGATIVE_INFINITY
  heapIndex = -1
  removed = false
  /**
   * The `matchCauseEffect` handlers of a one-permit task (the entry is its own handler object): give the permit
   * back, let go of the entry.
   */
  readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
  readonly onSuccess: (value: unknown) => Effect.Effect<unknown>
  heapTime = 0
  /** When the entry may be dropped if nobody holds it by then (see `core.deadline`), as the sweeper last saw it. */
  deadline = Number.POSITIVE_INFINITY

  constructor(
    readonly key: K,
    rates: readonly [Rate.Rate, ...Array<Rate.Rate>],
    prepared: Prepared,
    shared: engine.Shared,
    letGo: (entry: Entry<K>) => void
  ) {
    super(rates, prepared.config, prepared.settle, shared)
    this.onFailure = (cause) => {
      this.releaseHeld(1)
      letGo(this)
      return Exit.failCause(cause)
    }
    this.onSuccess = (value) => {
      this.releaseHeld(1)
      letGo(this)
      return Exit.succeed(value)
    }
  }
}

/** A key's configuration, ready for its engine. */
interface Prepared {
  readonly config: throttleCore.Config
  readonly settle: Settle | undefined
}

const isPrimitive = (key: unknown): boolean =>
  key === null || (typeof key !== "object" && typeof key !== "function")

/** The options of `make`, as the implementation sees them. */
export interface MakeOptions<K> {
  readonly rate: Rate.RatesInput | ((key: K) => Rate.RatesInput)
  readonly options?: Throttle.Options | undefined
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}

/** Builds a keyed throttle; see `KeyedThrottle.make`. */
export const make = <K>(
  options: MakeOptions<K>
): Effect.Effect<KeyedThrottle<K, Rate.InvalidRateError>, Rate.InvalidRateError, Scope.Scope> =>
  Effect.suspend(() => {
    if (typeof options !== "object" || options === null) {
      return check.die(check.expected("KeyedThrottle options to be an object with a rate", options))
    }
    const ttl = decodeIdleTimeToLive(options.idleTimeToLive, "idleTimeToLive")
    if (typeof ttl === "string") return check.die(ttl)
    const rate = options.rate
    // Invalid throttle options are a defect of `make`, not of each key's first use (checked here with any rate).
    const invalid = throttle.resolveConfig(CHECK_RATE, options.options)
    if (typeof invalid === "string") return check.die(invalid)
    // A constant rate is checked once, here; a rate function's result on each key's first use.
    const constant = typeof rate === "function" ? Effect.succeed(undefined) : Rate.decodeAll(rate)
    return Effect.flatMap(constant, (rates) =>
      build<K>(
        typeof rate === "function" ? (rate as (key: K) => Rate.RatesInput) : undefined,
        rates,
        options.options,
        { name: invalid.name, metrics: invalid.metrics },
        Duration.toMillis(ttl)
      ))
  })

/** Any valid rate, to check the options with. */
const CHECK_RATE: Rate.Rate = { limit: 1, period: Duration.seconds(1) } as Rate.Rate

/**
 * `idleTimeToLive` of a keyed throttle (memory or Redis): default one minute, zero (drop at once) and infinity
 * (never) allowed; the message of a bad value otherwise (`label` names the option as the caller's shape does).
 */
export const decodeIdleTimeToLive = (
  input: Duration.DurationInput | undefined,
  label: string
): Duration.Duration | string =>
  check.duration(input ?? "1 minute", label, { allowZero: true, allowInfinite: true })

/** The defect of a rate function that threw: it names the key (and `what` threw: "KeyedThrottle"). */
export const rateFunctionThrew = (key: unknown, error: unknown, what = "KeyedThrottle"): Error => {
  const reason = error instanceof Error ? error.message : check.printValue(error)
  const defect = new Error(`${what}: the rate function threw for key ${check.printValue(key)}: ${reason}`)
  ;(defect as { cause?: unknown }).cause = error
  return defect
}

/** A bad rate a rate function returned for one key: the error names the key (the other keys are unaffected). */
export const badRateForKey = (key: unknown) => (error: Rate.InvalidRateError): Rate.InvalidRateError =>
  new Rate.InvalidRateError({
    input: error.input,
    reason: `returned for key ${check.printValue(key)}${error.reason === undefined ? "" : `; ${error.reason}`}`
  })

const build = <K>(
  rateFn: ((key: K) => Rate.RatesInput) | undefined,
  constantRates: NonEmptyReadonlyArray<Rate.Rate> | undefined,
  throttleOptions: Throttle.Options | undefined,
  tags: { readonly name: string; readonly metrics: boolean },
  ttl: number
): Effect.Effect<KeyedThrottle<K, Rate.InvalidRateError>, never, Scope.Scope> =>
  Effect.flatMap(Effect.clock, (clock) => {
    // One time base for the keyed throttle and every key's engine: the sweeper compares their times directly.
    const now = preciseNow(clock)
    const shared: engine.Shared = {
      now,
      sleep: (duration) => clock.sleep(duration),
      name: tags.name,
      metrics: tags.metrics,
      // One instrument for every key (the metrics are per keyed throttle); a key gets its own for its events.
      instrument: instrument.make(tags.name, tags.metrics),
      sharedInstrument: true,
      totals: { waiting: 0, inFlight: 0 }
    }

    /** The configuration of a key with `rates` (a bad option was ruled out by `make`). */
    const prepare = (rates: ReadonlyArray<Rate.Rate>): Prepared => {
      const resolved = throttle.resolveConfig(rates as Array<Rate.Rate>, throttleOptions) as throttle.Resolved
      return engine.setup(rates, resolved.core, clock)
    }
    // A constant rate: every key shares one configuration.
    const constant = constantRates === undefined ? undefined : prepare(constantRates)

    const primitives = new Map<unknown, Entry<K>>()
    const objects = MutableHashMap.empty<K, Entry<K>>()
    const queue = new core.TimerHeap<Entry<K>>()
    let closed = false

    const lookup = (key: K): Entry<K> | undefined => {
      if (isPrimitive(key)) return primitives.get(key)
      const found = MutableHashMap.get(objects, key)
      return Option.isSome(found) ? found.value : undefined
    }
    const insert = (entry: Entry<K>): void => {
      if (isPrimitive(entry.key)) primitives.set(entry.key, entry)
      else MutableHashMap.set(objects, entry.key, entry)
    }
    const remove = (entry: Entry<K>): void => {
      entry.removed = true
      if (isPrimitive(entry.key)) primitives.delete(entry.key)
      else MutableHashMap.remove(objects, entry.key)
    }
    const size = (): number => primitives.size + MutableHashMap.size(objects)

    // --- the sweeper: one fiber, asleep until the earliest deadline ----------------------------------------------

    /** The time the sweeper sleeps until; -Infinity while it runs (or has been woken). */
    let target = Number.NEGATIVE_INFINITY
    /** Resumes the sweeper's wait for an earlier deadline, while it waits. */
    let wake: ((effect: Effect.Effect<void>) => void) | undefined

    /** A deadline at `time` was queued: wake the sweeper if it sleeps past it. */
    const nudge = (time: number): void => {
      if (time >= target) return
      target = Number.NEGATIVE_INFINITY
      const resume = wake
      wake = undefined
      resume?.(Effect.void)
    }

    const woken = Effect.async<void>((resume) => {
      if (target === Number.NEGATIVE_INFINITY) return resume(Effect.void)
      wake = resume
      return Effect.sync(() => {
        if (wake === resume) wake = undefined
      })
    })

    /**
     * The last holder let go: O(1), one clock read. The entry is queued (when it is not already) for the earliest
     * time it could be dropped, `idleTimeToLive` from now; the sweeper looks at its windows when that time comes.
     */
    const letGo = (entry: Entry<K>): void => {
      if (--entry.refs !== 0) return
      const at = now()
      entry.lastLetGo = at
      if (entry.heapIndex >= 0 || entry.removed || ttl === Number.POSITIVE_INFINITY) return
      queue.push(entry, at + ttl)
      nudge(at + ttl)
    }

    /**
     * Pops every entry whose time has come and forgets those to drop. The deadline is worked out here, not on every
     * let-go: truly idle from the later of the last let-go and the end of the windows (pause, smooth schedule).
     * Deadlines only move later, so a queued time is never late. A dropped engine has no waiter and nothing in
     * flight: nothing to close.
     */
    const sweep = (at: number): void => {
      for (;;) {
        const entry = queue.peek()
        if (entry === undefined || entry.heapTime > at) return
        queue.pop()
        if (entry.refs > 0) continue // held: the last holder queues it again
        const quiet = entry.quietFrom()
        entry.deadline = core.deadline(quiet === undefined ? undefined : Math.max(entry.lastLetGo, quiet), at, ttl)
        // One time base, no slack: the engine's idle time is `quiet`, read in this same step, against `at` (asking
        // the engine's `idleAt()` would read the clock again, and a live clock has always moved on by then, so the
        // key would never be dropped).
        const verdict = core.decide(
          entry.refs,
          entry.deadline,
          () => quiet === undefined ? undefined : Math.max(at, quiet),
          at,
          ttl,
          0
        )
        if (verdict._tag === "Drop") remove(entry)
        else if (verdict._tag === "Later") queue.push(entry, verdict.at)
      }
    }

    const sweeper: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
      const at = now()
      target = Number.POSITIVE_INFINITY // pushes during the sweep are seen by the `peek` below
      sweep(at)
      const next = queue.peek()
      target = next === undefined ? Number.POSITIVE_INFINITY : next.heapTime
      return next === undefined
        ? woken
        : Effect.raceFirst(Effect.sleep(Duration.millis(Math.max(0, next.heapTime - at))), woken)
    }))

    // --- entries -------------------------------------------------------------------------------------------------

    /** The key's rates: the constant ones, or the rate function's answer (a throw is a defect naming the key). */
    const ratesOf = (key: K): Rate.RatesInput | Error => {
      if (rateFn === undefined) return constantRates as Rate.RatesInput
      try {
        return rateFn(key)
      } catch (error) {
        return rateFunctionThrew(key, error)
      }
    }

    /** A new entry for the key, held once, in the map. */
    const added = (key: K, rates: NonEmptyReadonlyArray<Rate.Rate>, prepared: Prepared): Entry<K> => {
      const entry = new Entry(key, rates as readonly [Rate.Rate, ...Array<Rate.Rate>], prepared, shared, letGo)
      insert(entry)
      return entry
    }

    /** Builds the key's entry (called inside a mask); it comes back held once. */
    const create = (key: K): Effect.Effect<Entry<K>, Rate.InvalidRateError> => {
      if (constant !== undefined) return Effect.succeed(added(key, constantRates!, constant))
      const input = ratesOf(key)
      if (input instanceof Error) return Effect.die(input)
      return Effect.flatMap(Effect.mapError(Rate.decodeAll(input), badRateForKey(key)), (rates) => {
        if (closed) return Effect.interrupt
        // Another fiber may have created the key meanwhile (an Effect step can yield).
        const existing = lookup(key)
        if (existing !== undefined) {
          existing.refs++
          return Effect.succeed(existing)
        }
        return Effect.succeed(added(key, rates, prepare(rates)))
      })
    }

    /** The key's entry, held once; must run uninterruptibly, and be let go of (`letGo`). */
    const hold = (key: K): Effect.Effect<Entry<K>, Rate.InvalidRateError> => {
      if (closed) return Effect.interrupt
      const entry = lookup(key)
      if (entry === undefined) return create(key)
      entry.refs++
      return Effect.succeed(entry)
    }

    /** Runs `use` on the key's throttle, holding the entry meanwhile; only `use` is interruptible. */
    const using = <A, E, R>(key: K, use: (service: Throttle.Service) => Effect.Effect<A, E, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(hold(key), (entry) =>
          Effect.onExit(restore(use(entry.service)), () => Effect.sync(() => letGo(entry))))
      )

    /**
     * `withPermits(key, n)(self)` in one uninterruptible region: hold the entry, grant on the engine's fast path
     * (or queue), run `self` with the caller's interruptibility, and on its exit give the permits back and let go
     * of the entry in the same handler. Like the throttle's, it first makes sure the fiber will not yield between
     * the grant's stamp and the task's first step.
     */
    const permitted = <A, E, R>(
      entry: Entry<K>,
      n: number,
      maxWait: Duration.Duration | undefined,
      restore: engine.Restore,
      self: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | ThrottleTimeoutError, R> => {
      if (n !== 1) {
        const invalid = backend.checkPermits(n, entry.max, entry.config.maxConcurrent)
        if (invalid !== undefined) {
          letGo(entry)
          return check.die(invalid)
        }
      }
      const run = entry.instrument.flushed(
        Effect.matchCauseEffect(restore(self), n === 1 ? entry : releasing(entry, n)) as Effect.Effect<
          A,
          E,
          R
        >
      )
      const at = now()
      if (entry.tryFast(n, at)) return run
      return Effect.matchCauseEffect(entry.enqueueAndWait(n, at, restore, maxWait), {
        onFailure: (cause) => {
          letGo(entry)
          return Effect.failCause(cause)
        },
        onSuccess: () => run
      })
    }

    const releasing = (entry: Entry<K>, n: number): engine.Releasing => ({
      onFailure: (cause) => {
        entry.releaseHeld(n)
        letGo(entry)
        return Exit.failCause(cause)
      },
      onSuccess: (value) => {
        entry.releaseHeld(n)
        letGo(entry)
        return Exit.succeed(value)
      }
    })

    /**
     * `withPermits`' step inside its mask: hold the key (creating it on first use) and grant on its engine. The op
     * budget is checked as the engine's own `withPermits` does (see `engine.budgetLow`), again after a creation,
     * whose steps come between the first check and the grant.
     */
    const holdAndRun = <A, E, R>(
      key: K,
      n: number,
      maxWait: Duration.Duration | undefined,
      restore: engine.Restore,
      self: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Rate.InvalidRateError | ThrottleTimeoutError, R> => {
      if (closed) return Effect.interrupt
      const entry = lookup(key)
      if (entry !== undefined) {
        entry.refs++
        return permitted(entry, n, maxWait, restore, self)
      }
      return Effect.flatMap(create(key), (created) =>
        engine.budgetLow()
          ? Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => permitted(created, n, maxWait, restore, self)))
          : permitted(created, n, maxWait, restore, self))
    }

    const withPermits = (key: K, n: number, options?: Throttle.AcquireOptions) => {
      const maxWait = backend.decodeMaxWait(options)
      return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Rate.InvalidRateError | ThrottleTimeoutError, R> => {
        if (typeof maxWait === "string") return check.die(maxWait)
        return Effect.uninterruptibleMask((restore) =>
          engine.budgetLow()
            ? Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => holdAndRun(key, n, maxWait, restore, self)))
            : holdAndRun(key, n, maxWait, restore, self)
        )
      }
    }

    const withPermit = (key: K, options?: Throttle.AcquireOptions) => withPermits(key, 1, options)

    const get = (key: K): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Scope.Scope> =>
      Effect.uninterruptible(Effect.flatMap(Effect.suspend(() => hold(key)), (entry) =>
        Effect.as(
          finalizer.add(Effect.sync(() => letGo(entry))),
          entry.service
        )))

    const attempt = (key: K, n?: number) => using(key, (service) => service.attempt(n))

    const pause = (key: K, duration: Duration.DurationInput) => using(key, (service) => service.pause(duration))

    const release = (key: K, n: number = 1): Effect.Effect<void, ThrottleReleaseError> =>
      Effect.suspend(() => {
        if (closed) return Effect.interrupt
        if (lookup(key) === undefined) {
          // A key holding permits is never dropped: an unknown key has none in flight.
          const invalid = check.int(n, "permits", 1)
          return invalid !== undefined ? check.die(invalid) : Effect.fail(new ThrottleReleaseError({ requested: n, inFlight: 0 }))
        }
        return using(key, (service) => service.release(n))
      }) as Effect.Effect<void, ThrottleReleaseError>

    const shutdown = Effect.suspend(() => {
      closed = true
      const entries: Array<Entry<K>> = []
      for (const entry of primitives.values()) entries.push(entry)
      for (const [, entry] of objects) entries.push(entry)
      primitives.clear()
      MutableHashMap.clear(objects)
      queue.clear()
      for (const entry of entries) entry.removed = true
      return Effect.forEach(entries, (entry) => entry.shutdown(), { discard: true })
    })

    const keyed: KeyedThrottle<K, Rate.InvalidRateError> = {
      [TypeId]: TypeId,
      idleTimeToLive: Duration.millis(ttl),
      get,
      withPermit: withPermit as KeyedThrottle<K, Rate.InvalidRateError>["withPermit"],
      withPermits: withPermits as KeyedThrottle<K, Rate.InvalidRateError>["withPermits"],
      attempt,
      release,
      pause,
      size: Effect.sync(size)
    }
    return Effect.as(
      Effect.zipRight(Effect.forkScoped(Effect.interruptible(sweeper)), Effect.addFinalizer(() => shutdown)),
      keyed
    )
  })
