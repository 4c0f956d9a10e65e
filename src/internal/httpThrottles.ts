/**
 * Where the throttle of a key comes from, for both sides of `effect-throttles/http`: a given `Throttle` (shared by
 * every key), a given `KeyedThrottle`, or a `KeyedThrottle` made here from a rate (a constant rate is checked at
 * once; a function's rate when its key is first used).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Duration from "effect/Duration"
import * as KeyedThrottle from "../KeyedThrottle.js"
import type * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import { isThrottle } from "./throttleBackend.js"

/** The throttle of a key; scoped (the key's throttle stays alive for the scope). */
export type ThrottleOf = (key: string) => Effect.Effect<Throttle.Service<unknown>, unknown, Scope.Scope>

/** A given throttle: one `Throttle` for all keys, or a `KeyedThrottle`. */
export type Given = Throttle.Service<any> | KeyedThrottle.KeyedThrottle<string, any, any>

/** Whether `u` can be used as `throttle` (a Throttle or a KeyedThrottle, by their brands). */
export const isGiven = (u: unknown): u is Given => isThrottle(u) || KeyedThrottle.isKeyedThrottle(u)

/** The source of a given throttle. */
export const fromGiven = (given: Given): ThrottleOf => {
  if (isThrottle(given)) return () => Effect.succeed(given)
  const keyed = given as KeyedThrottle.KeyedThrottle<string, unknown, unknown>
  return (key) => keyed.get(key)
}

/** A keyed throttle made from a rate (or a rate per key), living in the current scope. */
export const fromRate = (
  rate: Rate.RatesInput | ((key: string) => Rate.RatesInput),
  options: Throttle.Options,
  idleTimeToLive: Duration.DurationInput | undefined
): Effect.Effect<ThrottleOf, Rate.InvalidRateError, Scope.Scope> => {
  // a constant rate is checked here (a bad one fails with InvalidRateError); a function's, per key on first use
  const keyed: Effect.Effect<KeyedThrottle.KeyedThrottle<string, unknown>, Rate.InvalidRateError, Scope.Scope> =
    typeof rate === "function"
      ? KeyedThrottle.make<string, Rate.RatesInput>({ rate, options, idleTimeToLive })
      : KeyedThrottle.make<string, string>({ rate: rate as string, options, idleTimeToLive })
  return Effect.map(keyed, (keyed): ThrottleOf => (key) => keyed.get(key))
}
