import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Config,
  Data,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Option,
  Ref,
  TestClock
} from "effect"
import { DynamicThrottle, layerConfig, make } from "../src/DynamicThrottle.js"
import { configFrom, metricsTagged, metricValue, recordEvents, recordingTracer, settle } from "./observabilityUtils.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

const boom = Effect.fail(new Boom())

const RATE = "effect_throttles_dynamic_throttle_rate"
const ADJUSTMENTS = "effect_throttles_dynamic_throttle_adjustments_total"

const metricsOf = (name: string) =>
  Effect.all({
    rate: metricValue(RATE, { name }),
    up: metricValue(ADJUSTMENTS, { name, direction: "up" }),
    down: metricValue(ADJUSTMENTS, { name, direction: "down" })
  })

/** Runs `calls` one after another through the throttle, under the TestClock. */
const runAll = (throttle: DynamicThrottle.Service, calls: ReadonlyArray<Effect.Effect<void, Boom>>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.forEach(calls, (call) => Effect.exit(throttle.withPermit(call))))
    yield* TestClock.adjust("10 seconds")
    yield* Fiber.join(fiber)
  })

let propRuns = 0

describe("DynamicThrottle metrics", () => {
  it.effect("the rate gauge and adjustments by direction, exactly, after rate changes up and down", () =>
    Effect.gen(function*() {
      const name = "dt-metrics-scripted"
      const throttle = yield* make({ name, initialRate: 10, window: 2, jitter: 0, minRate: 5, maxRate: 20 })
      expect(yield* metricsOf(name)).toEqual({ rate: 10, up: undefined, down: undefined })

      yield* runAll(throttle, [Effect.void, Effect.void]) // 2 of 2: up
      expect(yield* metricsOf(name)).toEqual({ rate: 12.5, up: 1, down: undefined })
      yield* runAll(throttle, [boom, boom]) // 0 of 2: down
      expect(yield* metricsOf(name)).toEqual({ rate: 9.375, up: 1, down: 1 })
      yield* runAll(throttle, [Effect.void, boom]) // 1 of 2: unchanged
      expect(yield* metricsOf(name)).toEqual({ rate: 9.375, up: 1, down: 1 })
      yield* throttle.setRate(100) // clamped to 20: up
      expect(yield* metricsOf(name)).toEqual({ rate: 20, up: 2, down: 1 })
      yield* throttle.setRate(20) // no change: not an adjustment
      expect(yield* metricsOf(name)).toEqual({ rate: 20, up: 2, down: 1 })
      yield* throttle.reportThrottled("1 second") // x 0.75
      expect(yield* metricsOf(name)).toEqual({ rate: 15, up: 2, down: 2 })
      expect(yield* throttle.rate).toBe(15)
    }))

  it.effect("metrics: false records nothing (events still work)", () =>
    Effect.gen(function*() {
      const name = "dt-metrics-off"
      const throttle = yield* make({ name, initialRate: 10, window: 1, jitter: 0, metrics: false })
      const log = yield* recordEvents(throttle.events)
      yield* runAll(throttle, [Effect.void, boom])
      yield* throttle.setRate(3)
      yield* settle
      expect(yield* metricsTagged(name)).toEqual([])
      expect((yield* Ref.get(log)).map((e) => e._tag === "RateChanged" ? e.direction : e._tag)).toEqual([
        "up",
        "down",
        "down"
      ])
    }).pipe(Effect.scoped))

  it.effect.prop(
    "the rate gauge equals `rate` after every step of random operations",
    {
      ops: fc.array(
        fc.oneof(
          fc.constant({ _tag: "success" as const }),
          fc.constant({ _tag: "failure" as const }),
          fc.constant({ _tag: "throttled" as const }),
          fc.double({ min: 0, max: 200, noNaN: true }).map((rate) => ({ _tag: "setRate" as const, rate }))
        ),
        { maxLength: 40 }
      )
    },
    ({ ops }) =>
      Effect.gen(function*() {
        const name = `dt-metrics-prop-${++propRuns}`
        const throttle = yield* make({ name, initialRate: 10, window: 2, jitter: 0, minRate: 1, maxRate: 50 })
        for (const op of ops) {
          switch (op._tag) {
            case "success":
              yield* runAll(throttle, [Effect.void])
              break
            case "failure":
              yield* runAll(throttle, [boom])
              break
            case "throttled":
              yield* throttle.reportThrottled()
              break
            case "setRate":
              yield* throttle.setRate(op.rate)
              break
          }
          const rate = yield* throttle.rate
          expect(yield* metricValue(RATE, { name })).toBe(rate)
        }
      }),
    { fastCheck: { numRuns: 30 } }
  )
})

describe("DynamicThrottle events", () => {
  it.effect("rate changes and pauses arrive in order with the documented tags and fields", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ name: "dt-events", initialRate: 10, window: 2, jitter: 0 })
      const log = yield* recordEvents(throttle.events)
      yield* runAll(throttle, [Effect.void, Effect.void]) // at 0 and 100: up at 100
      yield* throttle.setRate(4) // at 10000 (after runAll's 10 s)
      yield* throttle.reportThrottled("2 seconds")
      yield* runAll(throttle, [boom, boom]) // paused until 12000; then 1/3 s apart: down
      yield* settle
      expect((yield* Ref.get(log)).map((e) => ({ ...e }))).toEqual([
        { _tag: "RateChanged", from: 10, to: 12.5, direction: "up", reason: "adapted", at: 100 },
        { _tag: "RateChanged", from: 12.5, to: 4, direction: "down", reason: "setRate", at: 10000 },
        { _tag: "RateChanged", from: 4, to: 3, direction: "down", reason: "throttled", at: 10000 },
        { _tag: "Paused", until: 12000, at: 10000 },
        { _tag: "RateChanged", from: 3, to: 2.25, direction: "down", reason: "adapted", at: 12000 + 333.333333 }
      ])
    }).pipe(Effect.scoped))

  it.effect("DynamicThrottle.events with the throttle in context", () =>
    Effect.gen(function*() {
      const log = yield* recordEvents(DynamicThrottle.events)
      yield* DynamicThrottle.setRate(2)
      yield* settle
      expect((yield* Ref.get(log)).map((e) => e._tag)).toEqual(["RateChanged"])
    }).pipe(Effect.scoped, Effect.provide(DynamicThrottle.layer({ initialRate: 1 }))))
})

describe("DynamicThrottle spans", () => {
  it.effect("a wait that waits is an effect_throttles.acquire span; an admission at once adds none", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      const throttle = yield* make({ name: "dt-spans", initialRate: 4, jitter: 0 })
      yield* runAll(throttle, [Effect.void, Effect.void])
      expect(spans.map((s) => [s.name, Object.fromEntries(s.attributes), s.ended])).toEqual([
        ["effect_throttles.acquire", { name: "dt-spans", permits: 1, waited_ms: 250 }, true]
      ])
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("metrics: false: no span", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 4, jitter: 0, metrics: false })
      yield* runAll(throttle, [Effect.void, Effect.void])
      expect(spans).toEqual([])
    }).pipe(Effect.withTracer(tracer))
  })
})

describe("DynamicThrottle.layerConfig", () => {
  it.effect("every option may come from config", () =>
    Effect.gen(function*() {
      const throttle = yield* DynamicThrottle
      expect(throttle.name).toBe("crawler")
      expect(yield* throttle.rate).toBe(8)
      yield* throttle.setRate(1000)
      expect(yield* throttle.rate).toBe(16)
    }).pipe(
      Effect.provide(
        layerConfig({
          name: Config.string("DT_NAME"),
          initialRate: Config.number("DT_RATE"),
          maxRate: Config.number("DT_MAX_RATE"),
          jitter: Config.succeed(0)
        }).pipe(Layer.provide(configFrom([["DT_NAME", "crawler"], ["DT_RATE", "8"], ["DT_MAX_RATE", "16"]])))
      )
    ))

  it.effect("a bad value fails with a ConfigError naming the key: the config key, or the option for a cross check", () =>
    Effect.gen(function*() {
      const errorOf = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.map(
          Effect.exit(
            Effect.provide(
              DynamicThrottle,
              DynamicThrottle.layerConfig({ initialRate: Config.number("DT_RATE"), jitter: Config.number("DT_JITTER") })
                .pipe(Layer.provide(configFrom(entries)))
            )
          ),
          (exit) => String(Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : "succeeded")
        )
      const badJitter = yield* errorOf([["DT_RATE", "5"], ["DT_JITTER", "1.5"]])
      expect(badJitter).toContain("DT_JITTER")
      expect(badJitter).toContain("Expected jitter to be a number in [0, 1), got 1.5")
      const tooFast = yield* errorOf([["DT_RATE", "500"], ["DT_JITTER", "0"]])
      expect(tooFast).toContain("initialRate")
      expect(tooFast).toContain(
        "Expected 0 < minRate <= initialRate <= maxRate, got minRate 0.01, initialRate 500, maxRate 100"
      )
      expect(yield* errorOf([["DT_RATE", "5"], ["DT_JITTER", "0"]])).toBe("succeeded")
    }))
})
