/**
 * `KeyedThrottleRedis`: one Redis throttle per key, the same `KeyedThrottle` interface as in memory, shared by
 * every process using the same `key` (e.g. one limit per client address across every replica of a server).
 *
 * Each key is a full Redis throttle (`redisThrottle.ts`) under the Redis key `{prefix:<key>:<user key>}`, made on
 * first use in a scope of its own and kept in an `RcMap`. Unlike in memory, a key may be dropped as soon as this
 * process stops using it: its windows live in Redis, with TTLs, so the next throttle for the key reads them back.
 * So the key's time to live starts when its last holder lets go, which is exactly what `RcMap` does (in memory it
 * must start once the windows are empty, hence the keyed throttle of its own there). Permits granted by `attempt`
 * hold the key until `release` gives them back.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as RcMap from "effect/RcMap"
import * as Scope from "effect/Scope"
import type { KeyedThrottle } from "../KeyedThrottle.js"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import { badRateForKey, rateFunctionThrew, TypeId } from "./keyedThrottle.js"
import * as check from "./options.js"
import type { Redis } from "./redisClient.js"
import * as core from "./redisCore.js"
import * as redis from "./redisThrottle.js"
import * as backend from "./throttleBackend.js"
import { ThrottleReleaseError, type ThrottleTimeoutError } from "./throttleErrors.js"
import * as instrument from "./throttleInstrument.js"

/** The options a user passes (validated here). */
export interface InputOptions extends Omit<redis.InputOptions, "rate" | "onStoreError"> {
  readonly rate: Rate.RatesInput | ((key: string) => Rate.RatesInput)
  readonly onStoreError?: "local" | "allow" | "wait" | undefined
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}

/** A user key inside the Redis key: `%`, `{` and `}` escaped, so any string is a key and stays in its hash tag. */
export const encodeKey = (key: string): string =>
  key.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"))

/** Any valid rate, to check the options with when the rate is a function. */
const CHECK_RATE = "1/s"

/** The permits `attempt` granted and nobody released yet, per key: they hold the key (its scope) until released. */
interface Held {
  n: number
  readonly scope: Scope.CloseableScope
}

/** Builds a keyed Redis throttle; see `KeyedThrottleRedis.make`. */
export const make = (
  options: InputOptions
): Effect.Effect<KeyedThrottle<string, Rate.InvalidRateError>, Rate.InvalidRateError, Redis | Scope.Scope> =>
  Effect.suspend(() => {
    if (typeof options !== "object" || options === null) {
      return check.die(check.expected("KeyedThrottleRedis options to be an object with key and rate", options))
    }
    const ttl = check.duration(options.idleTimeToLive ?? "1 minute", "option idleTimeToLive", {
      allowZero: true,
      allowInfinite: true
    })
    if (typeof ttl === "string") return check.die(ttl)
    const badKey = core.checkKey(options.key, "option key")
    if (badKey !== undefined) return check.die(badKey)
    if (options.onStoreError !== undefined) {
      const invalid = check.oneOf(options.onStoreError, "option onStoreError", ["local", "allow", "wait"])
      if (invalid !== undefined) return check.die(invalid)
    }
    const rateFn = typeof options.rate === "function" ? options.rate : undefined
    // every option is checked once, here (a defect, or InvalidRateError for a constant rate), before any key
    const checked = redis.resolve({
      ...options,
      key: `${String(options.key)}:`,
      rate: rateFn === undefined ? options.rate as Rate.RatesInput : CHECK_RATE
    } as redis.InputOptions)
    return Effect.flatMap(checked, (resolved) => build(options, rateFn, resolved, ttl))
  })

const build = (
  options: InputOptions,
  rateFn: ((key: string) => Rate.RatesInput) | undefined,
  resolved: redis.Resolved,
  ttl: Duration.Duration
): Effect.Effect<KeyedThrottle<string, Rate.InvalidRateError>, never, Redis | Scope.Scope> =>
  Effect.gen(function*() {
    // one instrument for every key (the metrics are per keyed throttle; gauges are sums over the keys)
    const shared = instrument.make(resolved.name, resolved.metrics)
    const totals: instrument.Totals = { waiting: 0, inFlight: 0 }

    /** The key's throttle, in the scope the RcMap gives it (closed when the key is dropped). */
    const lookup = (key: string): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Redis | Scope.Scope> => {
      let rate: Rate.RatesInput = options.rate as Rate.RatesInput
      if (rateFn !== undefined) {
        try {
          rate = rateFn(key)
        } catch (error) {
          return Effect.die(rateFunctionThrew(key, error, "KeyedThrottleRedis"))
        }
      }
      const part = instrument.part(shared, totals, resolved.name)
      return Effect.zipRight(
        Effect.addFinalizer(() => Effect.sync(part.dispose)),
        Effect.mapError(
          redis.make({ ...options, rate, key: `${options.key}:${encodeKey(key)}` } as redis.InputOptions, part),
          badRateForKey(key)
        )
      ) as Effect.Effect<Throttle.Service, Rate.InvalidRateError, Redis | Scope.Scope>
    }
    const map = yield* RcMap.make({ lookup, idleTimeToLive: ttl })

    /**
     * The key's throttle in the current scope. A key whose throttle could not be made (a bad rate from the rate
     * function) is not kept: its next use asks the rate function again.
     */
    const get = (key: string): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Scope.Scope> =>
      Effect.suspend(() => {
        if (typeof key !== "string") return check.die(check.expected("a string key", key))
        return Effect.tapErrorCause(RcMap.get(map, key), () => RcMap.invalidate(map, key))
      })

    /** Runs `f` with the key's throttle, held for as long as `f` runs. */
    const using = <A, E, R>(
      key: string,
      f: (service: Throttle.Service) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Rate.InvalidRateError, R> =>
      Effect.acquireUseRelease(
        Scope.make(),
        (scope) => Effect.flatMap(Scope.extend(get(key), scope), f),
        (scope, exit) => Scope.close(scope, exit)
      )

    const withPermits = (key: string, n: number, options?: Throttle.AcquireOptions) => {
      const maxWait = backend.decodeMaxWait(options)
      return <A, E, R>(
        self: Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | Rate.InvalidRateError | ThrottleTimeoutError, R> => {
        if (typeof maxWait === "string") return check.die(maxWait)
        return using(key, (service) => service.withPermits(n, options ?? {})(self))
      }
    }
    const withPermit = (key: string, options?: Throttle.AcquireOptions) => withPermits(key, 1, options)

    const held = new Map<string, Held>()

    /** Decides now; granted permits hold the key until released (see `release`). */
    const attempt = (key: string, n?: number): Effect.Effect<Throttle.Decision, Rate.InvalidRateError> =>
      Effect.uninterruptible(Effect.gen(function*() {
        const scope = yield* Scope.make()
        const decision = yield* Effect.onError(
          Effect.flatMap(Scope.extend(get(key), scope), (service) => service.attempt(n)),
          (cause) => Scope.close(scope, Exit.failCause(cause))
        )
        const permits = n ?? 1
        const current = held.get(key)
        if (!decision.granted) yield* Scope.close(scope, Exit.void)
        else if (current === undefined) held.set(key, { n: permits, scope })
        else {
          // the key is held already: one scope holds it for every permit in flight
          current.n += permits
          yield* Scope.close(scope, Exit.void)
        }
        return decision
      }))

    const release = (key: string, n: number = 1): Effect.Effect<void, ThrottleReleaseError> =>
      Effect.uninterruptible(Effect.suspend(() => {
        const invalid = check.int(n, "permits", 1)
        if (invalid !== undefined) return check.die(invalid)
        const current = held.get(key)
        if (current === undefined || current.n < n) {
          return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight: current?.n ?? 0 }))
        }
        return Effect.flatMap(
          using(key, (service) => service.release(n)) as Effect.Effect<void, ThrottleReleaseError>,
          () => {
            current.n -= n
            if (current.n > 0) return Effect.void
            held.delete(key)
            return Scope.close(current.scope, Exit.void)
          }
        )
      }))

    const pause = (key: string, duration: Duration.DurationInput) =>
      using(key, (service) => service.pause(duration))

    // the held keys let go when the keyed throttle closes (the RcMap closes every key's scope after this)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const scopes = Array.from(held.values(), (h) => h.scope)
        held.clear()
        return Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void), { discard: true })
      })
    )

    const keyed: KeyedThrottle<string, Rate.InvalidRateError> = {
      [TypeId]: TypeId,
      idleTimeToLive: ttl,
      get,
      withPermit: withPermit as KeyedThrottle<string, Rate.InvalidRateError>["withPermit"],
      withPermits: withPermits as KeyedThrottle<string, Rate.InvalidRateError>["withPermits"],
      attempt,
      release,
      pause,
      size: Effect.map(RcMap.keys(map), (keys) => keys.length)
    }
    return keyed
  })
