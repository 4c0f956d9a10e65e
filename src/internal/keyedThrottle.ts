/**
 * `KeyedThrottle`: one in-memory throttle per key, created on first use and dropped once it has been truly idle
 * for `idleTimeToLive`.
 *
 * State lives in plain mutable structures touched only synchronously inside Effect steps (as in the Throttle): a
 * map from key to entry (a JS `Map` for primitive keys, a `MutableHashMap` — `Equal` + `Hash` — for objects), a
 * reference count per entry (operations of this module in progress), and one timer queue (`TimerHeap`) of the
 * entries nobody holds, by deadline. A single background fiber sleeps until the earliest deadline; an operation on
 * an existing key costs one map lookup, two counter updates and, when its last holder lets go, one probe of the
 * throttle's idle time (`idleAt`); it touches the queue only when the key is not queued yet.
 *
 * Why not `RcMap`: its time to live starts when the last reference is released, but a throttle whose windows still
 * hold grants must outlive that (dropping it would forget the grants and admit too many), and `RcMap` keeps a timer
 * fiber per idle key.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import type * as Cause from "effect/Cause"
import * as Scope from "effect/Scope"
import type { KeyedThrottle } from "../KeyedThrottle.js"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as core from "./keyedThrottleCore.js"
import * as check from "./options.js"
import * as throttle from "./throttle.js"
import { ThrottleReleaseError } from "./throttleErrors.js"

/** The brand of a keyed throttle. */
export const TypeId: unique symbol = Symbol.for("effect-throttles/KeyedThrottle") as never

/** Whether `u` is a keyed throttle. */
export const isKeyedThrottle = (u: unknown): u is KeyedThrottle<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

interface Entry<K> extends core.Timed {
  readonly key: K
  readonly service: Throttle.Service
  readonly scope: Scope.CloseableScope
  /** Operations of this module using the entry right now. */
  refs: number
  /** When the entry may be dropped if nobody holds it by then (see `core.deadline`). */
  deadline: number
  removed: boolean
  /** The `matchCauseEffect` handlers that let go of the entry, allocated once per entry. */
  readonly letGo: {
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
    readonly onSuccess: (value: unknown) => Effect.Effect<unknown>
  }
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
    const ttl = check.duration(options.idleTimeToLive ?? "1 minute", "idleTimeToLive", {
      allowZero: true,
      allowInfinite: true
    })
    if (typeof ttl === "string") return check.die(ttl)
    const rate = options.rate
    // A constant rate is checked once, here; a rate function's result on each key's first use.
    const constant = typeof rate === "function" ? Effect.succeed(undefined) : Rate.decodeAll(rate)
    return Effect.flatMap(constant, (rates) =>
      Effect.flatMap(validateOptions(options.options), () =>
        build<K>(
          typeof rate === "function" ? (rate as (key: K) => Rate.RatesInput) : undefined,
          rates,
          options.options,
          Duration.toMillis(ttl)
        )))
  })

/**
 * Invalid throttle options are a defect of `make`, not of each key's first use: a throwaway throttle is built with
 * them (the throttle owns its option checks).
 */
const validateOptions = (options: Throttle.Options | undefined): Effect.Effect<void> =>
  options === undefined
    ? Effect.void
    : Effect.scoped(Effect.asVoid(Effect.orDie(throttle.make({ limit: 1, period: "1 second" }, options))))

/** The defect of a rate function that threw: it names the key. */
const rateFunctionThrew = (key: unknown, error: unknown): Error => {
  const reason = error instanceof Error ? error.message : check.printValue(error)
  const defect = new Error(`KeyedThrottle: the rate function threw for key ${check.printValue(key)}: ${reason}`)
  ;(defect as { cause?: unknown }).cause = error
  return defect
}

const build = <K>(
  rateFn: ((key: K) => Rate.RatesInput) | undefined,
  rates: Rate.RatesInput | undefined,
  throttleOptions: Throttle.Options | undefined,
  ttl: number
): Effect.Effect<KeyedThrottle<K, Rate.InvalidRateError>, never, Scope.Scope> =>
  Effect.flatMap(Effect.clock, (clock) => {
    // The same time base as the throttles' (see `throttle.make`); on the live clock two such bases may disagree by
    // up to a millisecond (each takes its own wall-clock origin), hence the slack.
    const originNanos = clock.unsafeCurrentTimeNanos()
    const originMillis = clock.unsafeCurrentTimeMillis()
    const now = () => originMillis + Number(clock.unsafeCurrentTimeNanos() - originNanos) / 1e6
    const slack = throttle.isLiveClock(clock) ? 1 : 0

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

    /** Queues an entry nobody holds for its deadline (an infinite time to live never drops anything). */
    const enqueue = (entry: Entry<K>, at: number): void => {
      if (at === Number.POSITIVE_INFINITY) return
      queue.push(entry, at)
      nudge(at)
    }

    /** The last holder let go: the entry's deadline is now known. */
    const settle = (entry: Entry<K>): void => {
      if (entry.removed) return
      const idle = throttle.idleAt(entry.service)
      entry.deadline = core.deadline(idle, idle ?? now(), ttl)
      // Deadlines only move later: a queued entry keeps its earlier time and is queued again when it comes.
      if (entry.heapIndex < 0) enqueue(entry, entry.deadline + slack)
    }

    const letGo = (entry: Entry<K>): void => {
      if (--entry.refs === 0) settle(entry)
    }

    /**
     * Pops every entry whose time has come and forgets those to drop. A dropped throttle's scope is not closed: its
     * finalizer would only interrupt waiters, and a dropped throttle has none (closing 100 000 scopes costs seconds).
     */
    const sweep = (at: number): void => {
      for (;;) {
        const entry = queue.peek()
        if (entry === undefined || entry.heapTime > at) return
        queue.pop()
        const verdict = core.decide(entry.refs, entry.deadline, () => throttle.idleAt(entry.service), at, ttl, slack)
        if (verdict._tag === "Drop") {
          remove(entry)
        } else if (verdict._tag === "Later") {
          entry.deadline = Math.max(entry.deadline, verdict.at - slack)
          queue.push(entry, verdict.at)
        }
      }
    }

    const closeAll = (scopes: ReadonlyArray<Scope.CloseableScope>): Effect.Effect<void> =>
      Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void), { discard: true })

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

    const newEntry = (key: K, service: Throttle.Service, scope: Scope.CloseableScope): Entry<K> => {
      const entry: Entry<K> = {
        key,
        service,
        scope,
        refs: 1,
        deadline: Number.POSITIVE_INFINITY,
        removed: false,
        heapIndex: -1,
        heapTime: 0,
        letGo: {
          onFailure: (cause) => {
            letGo(entry)
            return Exit.failCause(cause)
          },
          onSuccess: (value) => {
            letGo(entry)
            return Exit.succeed(value)
          }
        }
      }
      return entry
    }

    /** The key's rates: the constant ones, or the rate function's answer (a throw is a defect naming the key). */
    const ratesOf = (key: K): Rate.RatesInput | Error => {
      if (rateFn === undefined) return rates as Rate.RatesInput
      try {
        return rateFn(key)
      } catch (error) {
        return rateFunctionThrew(key, error)
      }
    }

    /** A bad rate for one key: the error names the key (the other keys are unaffected). */
    const forKey = (key: K) => (error: Rate.InvalidRateError): Rate.InvalidRateError =>
      new Rate.InvalidRateError({
        input: error.input,
        reason: `returned for key ${check.printValue(key)}${error.reason === undefined ? "" : `; ${error.reason}`}`
      })

    /** Builds the key's throttle (uninterruptible: called inside a mask); the entry comes back held once. */
    const create = (key: K): Effect.Effect<Entry<K>, Rate.InvalidRateError> => {
      const input = ratesOf(key)
      if (input instanceof Error) return Effect.die(input)
      return Effect.flatMap(Scope.make(), (scope) =>
        Effect.matchCauseEffect(Scope.extend(throttle.make(input, throttleOptions), scope), {
          onFailure: (cause) =>
            Effect.zipRight(Scope.close(scope, Exit.void), Effect.failCause(cause)).pipe(Effect.mapError(forKey(key))),
          onSuccess: (service) => {
            if (closed) return Effect.zipRight(Scope.close(scope, Exit.void), Effect.interrupt)
            // Another fiber may have created the key while this one was building (the build can yield).
            const existing = lookup(key)
            if (existing !== undefined) {
              existing.refs++
              return Effect.as(Scope.close(scope, Exit.void), existing)
            }
            const entry = newEntry(key, service, scope)
            insert(entry)
            return Effect.succeed(entry)
          }
        }))
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
      Effect.uninterruptibleMask((restore) => {
        if (closed) return Effect.interrupt
        const entry = lookup(key)
        if (entry !== undefined) {
          entry.refs++
          return Effect.matchCauseEffect(restore(use(entry.service)), entry.letGo) as Effect.Effect<
            A,
            E | Rate.InvalidRateError,
            R
          >
        }
        return Effect.flatMap(
          create(key),
          (entry) => Effect.matchCauseEffect(restore(use(entry.service)), entry.letGo) as Effect.Effect<A, E, R>
        )
      })

    const withPermits = (key: K, n: number, options?: Throttle.AcquireOptions) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) => using(key, (service) => service.withPermits(n, options ?? {})(self))

    // Without options, the throttle's own prebuilt `withPermit` (its cheapest path).
    const withPermit = (key: K, options?: Throttle.AcquireOptions) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      using(key, (service) => options === undefined ? service.withPermit(self) : service.withPermit(self, options))

    const get = (key: K): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Scope.Scope> =>
      Effect.uninterruptible(Effect.flatMap(Effect.suspend(() => hold(key)), (entry) =>
        Effect.as(
          Effect.addFinalizer(() => Effect.sync(() => letGo(entry))),
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
      const scopes: Array<Scope.CloseableScope> = []
      for (const entry of primitives.values()) scopes.push(entry.scope)
      for (const [, entry] of objects) scopes.push(entry.scope)
      primitives.clear()
      MutableHashMap.clear(objects)
      queue.clear()
      return closeAll(scopes)
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
