/**
 * The Throttle contract (test/contract/throttleContract.ts) run against a key of a `KeyedThrottle`: once through the
 * key's own service (`get`: the lean engine of `throttleEngine.ts` behind `Throttle.makeWith`), once through the
 * keyed operations themselves (`withPermit(key)`, `withPermits(key, n)`, `attempt(key)`, `pause(key)`: the keyed
 * fast path, one uninterruptible region per call). Every timing exact under `TestClock`, as for the memory backend.
 */
import { Duration, Effect } from "effect"
import * as KeyedThrottle from "../src/KeyedThrottle.js"
import type { RatesInput } from "../src/Rate.js"
import type { Throttle } from "../src/Throttle.js"
import { throttleContract } from "./contract/throttleContract.js"

/** A keyed throttle given the rate by a function (each key configured on creation). */
const keyedOf = (rate: RatesInput, options?: Throttle.Options) =>
  KeyedThrottle.make<"key", RatesInput>({ rate: () => rate, options, idleTimeToLive: Duration.infinity })

// A constant rate: every key shares the configuration prepared by `make`.
throttleContract("KeyedThrottle.get (a key's engine)", (rate, options) =>
  Effect.flatMap(
    KeyedThrottle.make<string, "key">({ rate: rate as string, options, idleTimeToLive: Duration.infinity }),
    (keyed) => keyed.get("key")
  ))

throttleContract("KeyedThrottle operations on one key", (rate, options) =>
  Effect.flatMap(keyedOf(rate, options), (keyed) =>
    Effect.map(keyed.get("key"), (service): Throttle.Service => ({
      ...service,
      withPermit: ((self: Effect.Effect<unknown>, acquire?: Throttle.AcquireOptions) =>
        acquire === undefined ? keyed.withPermit("key")(self) : keyed.withPermit("key", acquire)(self)) as any,
      withPermits: ((n: number, acquire?: Throttle.AcquireOptions) =>
        acquire === undefined ? keyed.withPermits("key", n) : keyed.withPermits("key", n, acquire)) as any,
      attempt: (n) => Effect.orDie(keyed.attempt("key", n)),
      pause: (duration) => Effect.orDie(keyed.pause("key", duration))
    }))))
