import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Clock, Config, ConfigProvider, Effect, Fiber, Layer, TestClock } from "effect"
import * as Rate from "../src/Rate.js"
import { Throttle, ThrottleLive } from "../src/Throttle.js"
import { throttleContract } from "./contract/throttleContract.js"

// The contract, against the in-memory backend as users build it.
const now = Clock.currentTimeMillis

throttleContract("memory", (rate, options) => Throttle.make(rate as string, options))

// The same contract against the members `Throttle.makeWith` derives (withPermit, withPermits, throttled, locked)
// from a backend's acquire / release / tryAcquire / attempt / pause / stats: proves the seam a Redis backend uses.
throttleContract("makeWith (derived members)", (rate, options) =>
  Effect.map(Throttle.make(rate as string, options), (memory) =>
    Throttle.makeWith({
      name: memory.name,
      rates: memory.rates,
      measure: memory.measure,
      burst: memory.burst,
      maxConcurrent: memory.maxConcurrent,
      acquire: (n, maxWait) => maxWait === undefined ? memory.acquire(n) : memory.acquire(n, { maxWait }),
      release: memory.release,
      tryAcquire: memory.tryAcquire,
      attempt: memory.attempt,
      pause: memory.pause,
      stats: memory.stats,
      events: memory.events
    })))

describe("Throttle as a service", () => {
  it.effect("Effect.provide(ThrottleLive(\"3/s\")) with static accessors", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const times = yield* Effect.forEach(
          [1, 2, 3, 4],
          () => Throttle.withPermit(now),
          { concurrency: "unbounded" }
        )
        const stats = yield* Throttle.stats
        return { times, stats }
      })
      const fiber = yield* Effect.fork(Effect.provide(program, ThrottleLive("3/s")))
      yield* TestClock.adjust("2 seconds")
      const { stats, times } = yield* Fiber.join(fiber)
      expect(times).toEqual([0, 0, 0, 1000])
      expect(stats.granted).toBe(4)
    }))

  it.effect("accessors acquire / release / tryAcquire / locked / withPermits", () =>
    Effect.gen(function*() {
      const result = yield* Effect.provide(
        Effect.gen(function*() {
          yield* Throttle.acquire(2)
          const locked = yield* Throttle.locked
          yield* Throttle.release(2)
          const tried = yield* Throttle.tryAcquire()
          const error = yield* Effect.flip(Throttle.release(5))
          return { locked, tried, error: error._tag }
        }),
        Throttle.layer("2/s")
      )
      expect(result).toEqual({ locked: true, tried: false, error: "ThrottleReleaseError" })
    }))

  it.effect("a string rate that is not valid fails the layer with InvalidRateError", () =>
    Effect.gen(function*() {
      const rate: string = "3/fortnight"
      const error = yield* Effect.flip(Effect.provide(Throttle.locked, ThrottleLive(rate)))
      expect(error._tag).toBe("InvalidRateError")
      expect(error.message).toContain(`"3/fortnight"`)
    }))

  it.effect("layerConfig reads the rate from Config", () =>
    Effect.gen(function*() {
      const layer = Throttle.layerConfig(Config.string("API_RATE")).pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["API_RATE", "1/3s"]]))))
      )
      const rate = yield* Effect.provide(Effect.map(Throttle, (t) => Rate.format(t.rate)), layer)
      expect(rate).toBe("1/3s")
    }))

  it.effect("layerConfig reads every option from Config; a bad value names its key", () =>
    Effect.gen(function*() {
      const layer = (entries: ReadonlyArray<[string, string]>) =>
        Throttle.layerConfig({
          rate: Rate.config("API_RATE"),
          maxConcurrent: Config.integer("API_CONCURRENCY"),
          name: Config.string("API_NAME").pipe(Config.withDefault("api"))
        }).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))))
      const service = yield* Effect.provide(Throttle, layer([["API_RATE", "4/s, 60/min"], ["API_CONCURRENCY", "2"]]))
      expect([Rate.format(service.rates), service.maxConcurrent, service.name]).toEqual(["4/s, 60/m", 2, "api"])
      const badCap = yield* Effect.flip(Effect.provide(Throttle, layer([["API_RATE", "4/s"], ["API_CONCURRENCY", "0"]])))
      expect(String(badCap)).toContain("API_CONCURRENCY")
      expect(String(badCap)).toContain("Expected a value for option maxConcurrent to be an integer >= 1, got 0")
      const badRate = yield* Effect.flip(Effect.provide(Throttle, layer([["API_RATE", "0/s"], ["API_CONCURRENCY", "1"]])))
      expect(String(badRate)).toContain("API_RATE")
      expect(String(badRate)).toContain("limit must be a positive integer, got 0")
    }))

  it("rate literals are checked by the compiler; strings at run time", () => {
    expectTypeOf(ThrottleLive("3/s")).toEqualTypeOf<Layer.Layer<Throttle, never>>()
    // @ts-expect-error: "ss" is not a unit
    ThrottleLive("3/ss")
    // @ts-expect-error: no unit
    Throttle.make("1/3")
    const fromEnv: string = "5/m"
    expectTypeOf(ThrottleLive(fromEnv)).toEqualTypeOf<Layer.Layer<Throttle, Rate.InvalidRateError>>()
    expectTypeOf(Throttle.withPermit(Effect.succeed(1))).toEqualTypeOf<Effect.Effect<number, never, Throttle>>()
  })
})

