/**
 * What a KeyedThrottle tells the outside world: the Throttle metrics, counted once per keyed throttle (every key's
 * engine updates the same instruments, tagged with the options' `name`), and each key's own events through `get`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import * as KeyedThrottle from "../src/KeyedThrottle.js"
import { Event } from "../src/Throttle.js"
import { metricValue, recordEvents, settle } from "./observabilityUtils.js"

describe("KeyedThrottle observability", () => {
  it.scoped("granted_total counts the grants of every key under the keyed throttle's name", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "10/s", options: { name: "keyed-metrics" } })
      yield* Effect.forEach(["a", "b", "a", "c"], (key) => keyed.withPermit(key)(Effect.void), { discard: true })
      yield* keyed.withPermits("b", 3)(Effect.void)
      expect(yield* metricValue("effect_throttles_throttle_granted_total", { name: "keyed-metrics" })).toBe(7)
      // Refused attempts are counted too, with their reason.
      yield* Effect.forEach(Array.from({ length: 7 }), () => keyed.attempt("b"), { discard: true })
      expect(yield* metricValue("effect_throttles_throttle_granted_total", { name: "keyed-metrics" })).toBe(13)
      expect(yield* metricValue("effect_throttles_throttle_rejected_total", { name: "keyed-metrics", reason: "attempt" }))
        .toBe(1)
    }))

  it.scoped("a key's events (from get) are that key's alone, and its grants still count in the shared metrics", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "10/s", options: { name: "keyed-events" } })
      const a = yield* keyed.get("a")
      const log = yield* recordEvents(a.events)
      yield* keyed.withPermit("b")(Effect.void)
      yield* keyed.withPermits("a", 2)(Effect.void)
      yield* keyed.withPermit("b")(Effect.void)
      yield* a.withPermit(Effect.void)
      yield* settle
      const events = yield* Ref.get(log)
      expect(events.map((e) => e._tag)).toEqual(["Granted", "Granted"])
      expect(events.map((e) => Event.$is("Granted")(e) ? e.permits : 0)).toEqual([2, 1])
      expect(yield* metricValue("effect_throttles_throttle_granted_total", { name: "keyed-events" })).toBe(5)
    }))

  it.scoped("the gauges count every key's waiters and permits in flight, not the last key's", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", options: { name: "keyed-gauges" } })
      const gauge = (metric: string) => metricValue(metric, { name: "keyed-gauges" })
      const started = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(keyed.withPermit("a")(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      // "b" is granted and done, and queues a second caller behind its full window
      yield* keyed.withPermit("b")(Effect.void)
      const waiter = yield* Effect.fork(keyed.withPermit("b")(Effect.void))
      yield* settle
      expect(yield* gauge("effect_throttles_throttle_in_flight")).toBe(1)
      expect(yield* gauge("effect_throttles_throttle_waiting")).toBe(1)
      yield* Fiber.interrupt(waiter)
      yield* Fiber.interrupt(holder)
      expect(yield* gauge("effect_throttles_throttle_in_flight")).toBe(0)
      expect(yield* gauge("effect_throttles_throttle_waiting")).toBe(0)
    }))
})
