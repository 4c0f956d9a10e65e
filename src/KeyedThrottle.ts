// TEMPORARY LOCAL STUB (not committed): the DESIGN interface of KeyedThrottle, until branch `keyed` lands.
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as Duration from "effect/Duration"
import type { InvalidRateError, RatesInput } from "./Rate.js"
import * as internal from "./internal/throttle.js"
import type { Throttle } from "./Throttle.js"

export interface KeyedThrottle<K> {
  readonly get: (key: K) => Effect.Effect<Throttle.Service, InvalidRateError, Scope.Scope>
  readonly withPermit: (key: K) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidRateError, R>
  readonly withPermits: (key: K, n: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidRateError, R>
  readonly attempt: (key: K, n?: number) => Effect.Effect<Throttle.Decision, InvalidRateError>
  readonly size: Effect.Effect<number>
}

export const make = <K>(options: {
  readonly rate: RatesInput | ((key: K) => RatesInput)
  readonly options?: Throttle.Options | undefined
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}): Effect.Effect<KeyedThrottle<K>, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    const map = new Map<K, Throttle.Service>()
    const get = (key: K): Effect.Effect<Throttle.Service, InvalidRateError, Scope.Scope> =>
      Effect.suspend(() => {
        const found = map.get(key)
        if (found) return Effect.succeed(found)
        const rate = typeof options.rate === "function" ? options.rate(key) : options.rate
        return Effect.tap(Scope.extend(internal.make(rate, options.options), scope), (t) => Effect.sync(() => map.set(key, t)))
      }) as any
    return {
      get,
      withPermit: (key) => (self) => Effect.scoped(Effect.flatMap(get(key), (t) => t.withPermit(self))),
      withPermits: (key, n) => (self) => Effect.scoped(Effect.flatMap(get(key), (t) => t.withPermits(n)(self))),
      attempt: (key, n) => Effect.scoped(Effect.flatMap(get(key), (t) => t.attempt(n))),
      size: Effect.sync(() => map.size)
    }
  })
