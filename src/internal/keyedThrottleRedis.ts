/**
 * `KeyedThrottleRedis`: one Redis throttle per key, the same `KeyedThrottle` interface as in memory, shared by
 * every process using the same `key` (e.g. one limit per client address across every replica of a server).
 *
 * Each key is a full Redis throttle (`redisThrottle.ts`) under the Redis key `{prefix:<key>:<user key>}`, made on
 * first use in a scope of its own. Unlike in memory, a key may be dropped as soon as this process stops using it:
 * its windows live in Redis, with TTLs, and the next throttle for the key reads them back. So its time to live
 * starts when its last holder lets go (in memory it must start once the windows are empty). Permits granted by
 * `attempt` hold the key until `release` gives them back. The keys share one wake-up channel (`WakeHub` in
 * `redisStore.ts`): a new key subscribes to nothing in Redis.
 *
 * State: a map from key to entry (its throttle, a hold count), and one timer heap (`keyedThrottleCore.ts`) of the
 * entries nobody holds, by `last let-go + idleTimeToLive`, swept by one fiber. Not `RcMap`: it costs about 33 µs
 * per `get` in a loop here (its finalizer, clock and generator steps), most of a Redis round trip's own CPU; an
 * operation on a live key here is a map lookup, a count, and `acquireUseRelease`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import type { KeyedThrottle } from "../KeyedThrottle.js"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import { badRateForKey, decodeIdleTimeToLive, rateFunctionThrew, TypeId } from "./keyedThrottle.js"
import * as finalizer from "./finalizer.js"
import * as check from "./options.js"
import { Redis } from "./redisClient.js"
import * as core from "./redisCore.js"
import { makeWakeHub } from "./redisStore.js"
import * as redis from "./redisThrottle.js"
import { ThrottleReleaseError, type ThrottleStoreError, type ThrottleTimeoutError } from "./throttleErrors.js"
import { type Timed, TimerHeap } from "./keyedThrottleCore.js"
import * as instrument from "./throttleInstrument.js"

/**
 * A key's throttle. Its effects fail with `ThrottleStoreError` only under `onStoreError: "fail"`; the public
 * overloads (`redis.ts`) say `never` for the other modes.
 */
type KeyService = Throttle.Service<ThrottleStoreError>

/** What `make` builds (see `KeyService`). */
type Keyed = KeyedThrottle<string, Rate.InvalidRateError, ThrottleStoreError>

/** The options a user passes (validated here). */
export interface InputOptions extends Omit<redis.InputOptions, "rate" | "onStoreError"> {
  readonly rate: Rate.RatesInput | ((key: string) => Rate.RatesInput)
  readonly onStoreError?: "local" | "allow" | "wait" | "fail" | undefined
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}

/** A user key inside the Redis key: `%`, `{` and `}` escaped, so any string is a key and stays in its hash tag. */
export const encodeKey = (key: string): string =>
  key.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"))

/** Any valid rate, to check the options with when the rate is a function. */
const CHECK_RATE = "1/s"

/** Builds a keyed Redis throttle; see `KeyedThrottleRedis.make`. */
export const make = (
  options: InputOptions
): Effect.Effect<Keyed, Rate.InvalidRateError, Redis | Scope.Scope> =>
  Effect.suspend(() => {
    if (typeof options !== "object" || options === null) {
      return check.die(check.expected("KeyedThrottleRedis options to be an object with key and rate", options))
    }
    const ttl = decodeIdleTimeToLive(options.idleTimeToLive, "option idleTimeToLive")
    if (typeof ttl === "string") return check.die(ttl)
    const badKey = core.checkKey(options.key, "option key")
    if (badKey !== undefined) return check.die(badKey)
    if (options.onStoreError !== undefined) {
      const invalid = check.oneOf(options.onStoreError, "option onStoreError", ["local", "allow", "wait", "fail"])
      if (invalid !== undefined) return check.die(invalid)
    }
    const rateFn = typeof options.rate === "function" ? options.rate : undefined
    // every option is checked once, here (a defect, or InvalidRateError for a constant rate), before any key
    const checked = redis.resolve({
      ...options,
      rate: rateFn === undefined ? options.rate as Rate.RatesInput : CHECK_RATE
    } as redis.InputOptions)
    return Effect.flatMap(checked, (resolved) => build(options, rateFn, resolved, ttl))
  })

/**
 * A key's throttle and its bookkeeping. Held (`refs > 0`) while an operation uses it, and while permits granted by
 * `attempt` are in flight (`held > 0`); otherwise queued in the timer heap for `lastLetGo + idleTimeToLive`.
 */
class Entry implements Timed {
  refs = 1
  /** Permits granted by `attempt` and not released yet. */
  held = 0
  lastLetGo = 0
  heapIndex = -1
  heapTime = 0
  service: KeyService | undefined = undefined
  /** Set while the throttle is being made: those who come meanwhile wait for it. */
  ready: Deferred.Deferred<KeyService, Rate.InvalidRateError> | undefined = undefined
  constructor(readonly key: string, readonly scope: Scope.CloseableScope) {}
}

const build = (
  options: InputOptions,
  rateFn: ((key: string) => Rate.RatesInput) | undefined,
  resolved: redis.Resolved,
  ttl: Duration.Duration
): Effect.Effect<Keyed, never, Redis | Scope.Scope> =>
  Effect.gen(function*() {
    // the connection only (not the whole context: its Scope would take the keys' finalizers from their own scopes)
    const connection = yield* Redis
    const clock = yield* Effect.clock
    // the keyed throttle's own scope: the fibers that make new keys' throttles run in it
    const outer = yield* Effect.scope
    const ttlMillis = Duration.toMillis(ttl)
    // one wake-up channel for every key (see WakeHub), apart from any plain throttle's (no braces in a key)
    const hub = yield* makeWakeHub(connection, `${redis.wakeChannel(resolved.prefix, resolved.key)}:keys`)
    // one instrument for every key (the metrics are per keyed throttle; gauges are sums over the keys)
    const shared = instrument.make(resolved.name, resolved.metrics)
    const totals: instrument.Totals = { waiting: 0, inFlight: 0 }
    const entries = new Map<string, Entry>()
    const idle = new TimerHeap<Entry>()
    let closed = false
    /** Wakes the sweeper when the earliest queued time changed. */
    let wake = Deferred.unsafeMake<void>(FiberId.none)

    /** The key's throttle, made in the entry's scope. */
    const makeService = (key: string, scope: Scope.Scope): Effect.Effect<KeyService, Rate.InvalidRateError> => {
      let rate: Rate.RatesInput = options.rate as Rate.RatesInput
      if (rateFn !== undefined) {
        try {
          rate = rateFn(key)
        } catch (error) {
          return Effect.die(rateFunctionThrew(key, error, "KeyedThrottleRedis"))
        }
      }
      const part = instrument.part(shared, totals, resolved.name)
      const tag = encodeKey(key)
      const made = Effect.zipRight(
        finalizer.add(Effect.sync(part.dispose)),
        Effect.mapError(
          redis.make({ ...options, rate, key: `${options.key}:${tag}` } as redis.InputOptions, part, { hub, tag }),
          badRateForKey(key)
        )
      )
      return Scope.extend(Effect.provideService(made, Redis, connection), scope) as Effect.Effect<
        KeyService,
        Rate.InvalidRateError
      >
    }

    /** Removes the entry and closes its scope (its waiters are interrupted, its subscription ends). */
    const drop = (entry: Entry): Effect.Effect<void> => {
      if (entries.get(entry.key) === entry) entries.delete(entry.key)
      return Scope.close(entry.scope, Exit.void)
    }

    /**
     * The key's entry, held once (run uninterruptibly; let go with `letGo`). A new key's throttle is made by a fiber
     * of the keyed throttle, not by its first caller: every caller then waits for it interruptibly (`serviceOf`), and
     * one who gives up leaves at once, while the throttle is made all the same (it takes one store call at most:
     * bounded by `storeTimeout`) and dropped once unused. A throttle that could not be made (a bad rate) is not kept:
     * the next use asks again.
     */
    const hold = (key: string): Effect.Effect<Entry> => {
      if (closed) return Effect.interrupt
      if (typeof key !== "string") return check.die(check.expected("a string key", key))
      const existing = entries.get(key)
      if (existing !== undefined) {
        existing.refs++
        return Effect.succeed(existing)
      }
      return Effect.flatMap(Scope.make(), (scope) => {
        const entry = new Entry(key, scope)
        const ready = Deferred.unsafeMake<KeyService, Rate.InvalidRateError>(FiberId.none)
        entry.ready = ready
        entries.set(key, entry)
        const making = Effect.onExit(Effect.interruptible(makeService(key, scope)), (exit) => {
          if (Exit.isFailure(exit)) return Effect.zipRight(drop(entry), Deferred.failCause(ready, exit.cause))
          entry.service = exit.value
          entry.ready = undefined
          // (everyone who came for it may have given up meanwhile)
          return Effect.zipRight(Deferred.succeed(ready, exit.value), unused(entry))
        })
        return Effect.as(Effect.forkIn(making, outer), entry)
      })
    }

    /** The entry's throttle, waited for (interruptibly) while it is being made. */
    const serviceOf = (entry: Entry): Effect.Effect<KeyService, Rate.InvalidRateError> =>
      entry.service !== undefined ? Effect.succeed(entry.service) : Deferred.await(entry.ready!)

    /** Lets go of the entry: nobody holding it, it is queued for `now + idleTimeToLive` (dropped at once for 0). */
    const letGo = (entry: Entry): Effect.Effect<void> => {
      entry.refs--
      // (one still being made is seen to when it is ready)
      return entry.service === undefined ? Effect.void : unused(entry)
    }

    /** An entry that nobody holds is queued for `lastLetGo + idleTimeToLive` (dropped at once for 0). */
    const unused = (entry: Entry): Effect.Effect<void> => {
      if (entry.refs > 0 || entry.held > 0 || closed || entries.get(entry.key) !== entry) return Effect.void
      // dropped at once, here: its finalizers are synchronous (they capture no fiber refs, finalizer.ts, and wait for
      // no UNSUBSCRIBE, the keys sharing one channel)
      if (ttlMillis === 0) return drop(entry)
      entry.lastLetGo = clock.unsafeCurrentTimeMillis()
      if (entry.heapIndex < 0 && Number.isFinite(ttlMillis)) {
        idle.push(entry, entry.lastLetGo + ttlMillis)
        if (idle.peek() === entry) wakeSweeper()
      }
      return Effect.void
    }

    /** Wakes the sweeper (the earliest queued time changed). */
    const wakeSweeper = (): void => {
      const previous = wake
      wake = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(previous, Exit.void)
    }

    // One fiber drops the keys nobody used for idleTimeToLive: asleep until the earliest queued time. A key used
    // meanwhile is queued again for its last let-go plus the time to live (deadlines never move earlier).
    const sweeper: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      const dropped: Array<Entry> = []
      for (let head = idle.peek(); head !== undefined && head.heapTime <= now; head = idle.peek()) {
        idle.pop()
        if (head.refs > 0 || head.held > 0) continue // letGo queues it again
        const due = head.lastLetGo + ttlMillis
        if (due <= now) dropped.push(head)
        else idle.push(head, due)
      }
      const next = idle.peek()
      const woken = Deferred.await(wake)
      const sleep = next === undefined
        ? woken
        : Effect.raceFirst(Effect.sleep(Duration.millis(next.heapTime - now)), woken)
      return dropped.length === 0
        ? sleep
        : Effect.zipRight(Effect.forEach(dropped, drop, { discard: true }), sleep)
    }))
    yield* Effect.forkScoped(Effect.interruptible(sweeper))

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const all = Array.from(entries.values())
        entries.clear()
        idle.clear()
        return Effect.forEach(all, (entry) => Scope.close(entry.scope, Exit.void), { discard: true })
      })
    )

    /** Runs `f` with the key's throttle, held for as long as `f` runs. */
    const using = <A, E, R>(
      key: string,
      f: (entry: Entry) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Rate.InvalidRateError, R> =>
      Effect.acquireUseRelease(
        Effect.suspend(() => hold(key)),
        (entry) => entry.service !== undefined ? f(entry) : Effect.flatMap(serviceOf(entry), () => f(entry)),
        letGo
      )

    // (the key's service checks `n` and `maxWait`, with the same messages as everywhere)
    const withPermits = (key: string, n: number, options?: Throttle.AcquireOptions) =>
    <A, E, R>(
      self: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Rate.InvalidRateError | ThrottleStoreError | ThrottleTimeoutError, R> =>
      using(key, (entry) => entry.service!.withPermits(n, options ?? {})(self))
    const withPermit = (key: string, options?: Throttle.AcquireOptions) => withPermits(key, 1, options)

    const get = (key: string): Effect.Effect<KeyService, Rate.InvalidRateError, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.suspend(() => hold(key)), (entry) =>
          Effect.zipRight(finalizer.add(Effect.suspend(() => letGo(entry))), restore(serviceOf(entry))))
      )

    /** Decides now; granted permits hold the key until released (see `release`). */
    const attempt = (
      key: string,
      n?: number
    ): Effect.Effect<Throttle.Decision, Rate.InvalidRateError | ThrottleStoreError> =>
      using(key, (entry) =>
        Effect.tap(entry.service!.attempt(n), (decision) => {
          if (decision.granted) entry.held += n ?? 1
        }))

    const release = (key: string, n: number = 1): Effect.Effect<void, ThrottleReleaseError | ThrottleStoreError> =>
      Effect.suspend(() => {
        const invalid = check.int(n, "permits", 1)
        if (invalid !== undefined) return check.die(invalid)
        const entry = entries.get(key)
        if (entry === undefined || entry.held < n) {
          return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight: entry?.held ?? 0 }))
        }
        return using(key, (held) =>
          Effect.tap(held.service!.release(n), () => {
            held.held -= n
          })) as Effect.Effect<void, ThrottleReleaseError | ThrottleStoreError>
      })

    const pause = (key: string, duration: Duration.DurationInput) =>
      using(key, (entry) => entry.service!.pause(duration))

    const keyed: Keyed = {
      [TypeId]: TypeId,
      idleTimeToLive: ttl,
      get,
      withPermit: withPermit as Keyed["withPermit"],
      withPermits: withPermits as Keyed["withPermits"],
      attempt,
      release,
      pause,
      size: Effect.sync(() => entries.size)
    }
    return keyed
  })
