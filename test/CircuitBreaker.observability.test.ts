import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Config,
  Data,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Option,
  Ref,
  Stream,
  TestClock
} from "effect"
import { CircuitBreaker, CircuitOpenError, layerConfig, make } from "../src/CircuitBreaker.js"
import { configFrom, metricsTagged, metricValue, recordEvents, recordingTracer, settle, spanEvents } from "./observabilityUtils.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

const boom = Effect.fail(new Boom())

const STATE = "effect_throttles_circuit_breaker_state"
const TRANSITIONS = "effect_throttles_circuit_breaker_transitions_total"
const CALLS = "effect_throttles_circuit_breaker_calls_total"

/** The breaker's metrics, read back from the registry. */
const metricsOf = (name: string) =>
  Effect.all({
    state: metricValue(STATE, { name }),
    success: metricValue(CALLS, { name, outcome: "success" }),
    failure: metricValue(CALLS, { name, outcome: "failure" }),
    rejected: metricValue(CALLS, { name, outcome: "rejected" }),
    slow: metricValue(CALLS, { name, outcome: "slow" }),
    closedToOpen: metricValue(TRANSITIONS, { name, from: "closed", to: "open" }),
    openToHalfOpen: metricValue(TRANSITIONS, { name, from: "open", to: "half-open" }),
    halfOpenToClosed: metricValue(TRANSITIONS, { name, from: "half-open", to: "closed" }),
    halfOpenToOpen: metricValue(TRANSITIONS, { name, from: "half-open", to: "open" })
  })

const gaugeOf = { closed: 0, "half-open": 1, open: 2 } as const

let propRuns = 0

describe("CircuitBreaker metrics", () => {
  it.scoped("closed -> open -> half-open -> closed: the state gauge, transitions and calls by outcome, exactly", () =>
    Effect.gen(function*() {
      const name = "cb-metrics-scripted"
      const breaker = yield* make({ name, maxFailures: 2, resetTimeout: "1 second", halfOpenMaxCalls: 1 })
      expect((yield* metricsOf(name)).state).toBe(0)

      yield* breaker.protect(Effect.void)
      yield* Effect.exit(breaker.protect(boom))
      expect(yield* metricsOf(name)).toMatchObject({ state: 0, success: 1, failure: 1, closedToOpen: undefined })
      yield* Effect.exit(breaker.protect(boom))
      expect(yield* metricsOf(name)).toMatchObject({ state: 2, success: 1, failure: 2, closedToOpen: 1 })

      yield* TestClock.adjust("400 millis")
      yield* Effect.exit(breaker.protect(Effect.void))
      yield* Effect.exit(breaker.protect(Effect.void))
      expect(yield* metricsOf(name)).toMatchObject({ state: 2, success: 1, rejected: 2 })

      yield* TestClock.adjust("600 millis") // the half-open timer fires at exactly 1400
      expect(yield* breaker.state).toBe("half-open")
      expect(yield* metricsOf(name)).toMatchObject({ state: 1, openToHalfOpen: 1 })

      // one trial at a time: a second call while the trial runs is rejected (half-open)
      const trial = yield* Effect.fork(breaker.protect(Effect.sleep("100 millis")))
      yield* Effect.yieldNow()
      expect(Exit.isFailure(yield* Effect.exit(breaker.protect(Effect.void)))).toBe(true)
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(trial)
      expect(yield* breaker.state).toBe("closed")
      expect(yield* metricsOf(name)).toEqual({
        state: 0,
        success: 2,
        failure: 2,
        rejected: 3,
        slow: undefined,
        closedToOpen: 1,
        openToHalfOpen: 1,
        halfOpenToClosed: 1,
        halfOpenToOpen: undefined
      })
    }))

  it.scoped("slow calls are counted as slow (succeeded, slower than slowCallDuration), failures as failures", () =>
    Effect.gen(function*() {
      const name = "cb-metrics-slow"
      const breaker = yield* make({
        name,
        policy: { window: { calls: 10 }, minimumCalls: 10, slowCallDuration: "1 second" }
      })
      const call = (millis: number, fail: boolean) =>
        Effect.fork(Effect.exit(breaker.protect(Effect.zipRight(Effect.sleep(Duration.millis(millis)), fail ? boom : Effect.void))))
      const fibers = [yield* call(1000, false), yield* call(1001, false), yield* call(2000, true)]
      yield* TestClock.adjust("2 seconds")
      for (const f of fibers) yield* Fiber.join(f)
      expect(yield* metricsOf(name)).toMatchObject({ state: 0, success: 1, slow: 1, failure: 1 })
    }))

  it.scoped("reset and trip are transitions too; ignored and interrupted calls are not counted", () =>
    Effect.gen(function*() {
      const name = "cb-metrics-commands"
      const breaker = yield* make({ name, isFailure: (e) => !(e instanceof Boom) })
      yield* Effect.exit(breaker.protect(boom)) // ignored
      const running = yield* Effect.fork(breaker.protect(Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(running)
      yield* breaker.trip
      expect(yield* metricsOf(name)).toMatchObject({ state: 2, success: undefined, failure: undefined, closedToOpen: 1 })
      yield* breaker.reset
      expect(yield* metricValue(TRANSITIONS, { name, from: "open", to: "closed" })).toBe(1)
      expect((yield* metricsOf(name)).state).toBe(0)
    }))

  it.scoped("metrics: false records nothing (events still work)", () =>
    Effect.gen(function*() {
      const name = "cb-metrics-off"
      const breaker = yield* make({ name, maxFailures: 1, resetTimeout: "1 second", metrics: false })
      const log = yield* recordEvents(breaker.events)
      yield* Effect.exit(breaker.protect(boom))
      yield* Effect.exit(breaker.protect(Effect.void))
      yield* TestClock.adjust("1 second")
      yield* breaker.protect(Effect.void)
      yield* settle
      expect(yield* metricsTagged(name)).toEqual([])
      expect((yield* Ref.get(log)).map((e) => e._tag)).toEqual(["Opened", "Rejected", "HalfOpened", "Closed"])
    }))

  it.scoped.prop(
    "the state gauge equals `state` after every step of random operations",
    {
      ops: fc.array(
        fc.oneof(
          fc.constant({ _tag: "success" as const }),
          fc.constant({ _tag: "failure" as const }),
          fc.constant({ _tag: "trip" as const }),
          fc.constant({ _tag: "reset" as const }),
          fc.integer({ min: 1, max: 8 }).map((n) => ({ _tag: "wait" as const, millis: n * 100 }))
        ),
        { maxLength: 40 }
      )
    },
    ({ ops }) =>
      Effect.gen(function*() {
        const name = `cb-metrics-prop-${++propRuns}`
        const breaker = yield* make({ name, maxFailures: 2, resetTimeout: "500 millis", halfOpenMaxCalls: 1 })
        for (const op of ops) {
          switch (op._tag) {
            case "success":
              yield* Effect.exit(breaker.protect(Effect.void))
              break
            case "failure":
              yield* Effect.exit(breaker.protect(boom))
              break
            case "trip":
              yield* breaker.trip
              break
            case "reset":
              yield* breaker.reset
              break
            case "wait":
              yield* TestClock.adjust(Duration.millis(op.millis))
              break
          }
          const state = yield* breaker.state
          expect(yield* metricValue(STATE, { name })).toBe(gaugeOf[state])
        }
      }),
    { fastCheck: { numRuns: 30 } }
  )
})

describe("CircuitBreaker events", () => {
  it.scoped("arrive in order with the documented tags and fields", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "cb-events", maxFailures: 1, resetTimeout: "1 second", halfOpenMaxCalls: 1 })
      const log = yield* recordEvents(breaker.events)
      yield* TestClock.adjust("100 millis")
      yield* Effect.exit(breaker.protect(boom)) // opens at 100
      yield* TestClock.adjust("250 millis")
      yield* Effect.exit(breaker.protect(Effect.void)) // rejected at 350
      yield* TestClock.adjust("750 millis") // half-open at 1100
      yield* Effect.exit(breaker.protect(boom)) // trial fails at 1100: open again
      yield* TestClock.adjust("1 second") // half-open at 2100
      yield* breaker.protect(Effect.void) // closes at 2100
      yield* breaker.trip
      yield* breaker.reset
      yield* settle
      const events = yield* Ref.get(log)
      expect(events.map((e) => ({ ...e }))).toEqual([
        { _tag: "Opened", from: "closed", at: 100, halfOpenAt: 1100 },
        { _tag: "Rejected", state: "open", at: 350, retryAfter: Duration.millis(750) },
        { _tag: "HalfOpened", at: 1100 },
        { _tag: "Opened", from: "half-open", at: 1100, halfOpenAt: 2100 },
        { _tag: "HalfOpened", at: 2100 },
        { _tag: "Closed", from: "half-open", at: 2100 },
        { _tag: "Opened", from: "closed", at: 2100, halfOpenAt: 3100 },
        { _tag: "Closed", from: "open", at: 2100 }
      ])
    }))

  it.scoped("a half-open rejection is an event with retryAfter zero", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ resetTimeout: "1 second", halfOpenMaxCalls: 1 })
      const log = yield* recordEvents(breaker.events)
      yield* breaker.trip
      yield* TestClock.adjust("1 second")
      const trial = yield* Effect.fork(breaker.protect(Effect.never))
      yield* Effect.yieldNow()
      yield* Effect.exit(breaker.protect(Effect.void))
      yield* Fiber.interrupt(trial)
      yield* settle
      expect((yield* Ref.get(log)).map((e) => ({ ...e }))).toEqual([
        { _tag: "Opened", from: "closed", at: 0, halfOpenAt: 1000 },
        { _tag: "HalfOpened", at: 1000 },
        { _tag: "Rejected", state: "half-open", at: 1000, retryAfter: Duration.zero }
      ])
    }))

  it.scoped("a subscriber that stops reading loses its oldest events and never slows the breaker", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ resetTimeout: "1 minute" })
      // takes the first event, then never reads again: its buffer fills up, then slides
      const stalled = yield* recordEvents(Stream.tap(breaker.events, () => Effect.never))
      const log = yield* recordEvents(breaker.events)
      yield* breaker.trip
      for (let i = 0; i < 3000; i++) {
        yield* Effect.exit(breaker.protect(Effect.void))
        if (i % 100 === 0) yield* Effect.yieldNow()
      }
      yield* settle
      const events = yield* Ref.get(log)
      expect(events.length).toBe(3001) // the reading subscriber saw every one, in order
      expect(events[0]?._tag).toBe("Opened")
      expect(events.slice(1).every((e) => e._tag === "Rejected")).toBe(true)
      expect(events.map((e) => e.at)).toEqual(events.map(() => 0))
      expect((yield* Ref.get(stalled)).length).toBe(0) // the stalled one is still on its first event
    }))

  it.effect("CircuitBreaker.events and protectFn with the breaker in context", () =>
    Effect.gen(function*() {
      const log = yield* recordEvents(CircuitBreaker.events)
      const call = CircuitBreaker.protectFn((fail: boolean) => fail ? boom : Effect.succeed("ok"))
      expect(yield* call(false)).toBe("ok")
      yield* Effect.exit(call(true))
      yield* settle
      expect((yield* Ref.get(log)).map((e) => e._tag)).toEqual(["Opened"])
      expect(Exit.isFailure(yield* Effect.exit(call(false)))).toBe(true)
      yield* settle
      expect((yield* Ref.get(log)).map((e) => e._tag)).toEqual(["Opened", "Rejected"])
    }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layer({ maxFailures: 1 }))))
})

describe("CircuitBreaker spans", () => {
  it.scoped("transitions and rejections are span events on the caller's span; the fast path adds nothing", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      const breaker = yield* make({ name: "cb-spans", maxFailures: 1, resetTimeout: "1 second" })
      yield* Effect.withSpan(breaker.protect(Effect.void), "ok-call")
      yield* Effect.withSpan(Effect.exit(breaker.protect(boom)), "failing-call")
      yield* Effect.withSpan(Effect.exit(breaker.protect(Effect.void)), "rejected-call")
      expect(spanEvents(spans, "ok-call")).toEqual([])
      expect(spanEvents(spans, "failing-call")).toEqual([
        {
          name: "effect_throttles.circuit_breaker.transition",
          attributes: { name: "cb-spans", from: "closed", to: "open" }
        }
      ])
      expect(spanEvents(spans, "rejected-call")).toEqual([
        {
          name: "effect_throttles.circuit_breaker.rejected",
          attributes: { name: "cb-spans", state: "open", retry_after_ms: 1000 }
        }
      ])
      expect(spans.map((s) => s.name)).toEqual(["ok-call", "failing-call", "rejected-call"])
    }).pipe(Effect.withTracer(tracer))
  })

  it.scoped("metrics: false adds no span events", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const breaker = yield* make({ maxFailures: 1, metrics: false })
      yield* Effect.withSpan(Effect.exit(breaker.protect(boom)), "failing-call").pipe(Effect.withTracer(tracer))
      yield* Effect.withSpan(Effect.exit(breaker.protect(Effect.void)), "rejected-call").pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, s.events])).toEqual([["failing-call", []], ["rejected-call", []]])
    }))
})

describe("CircuitBreaker.layerConfig", () => {
  it.effect("every option may come from config", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      expect(breaker.name).toBe("payments")
      yield* Effect.exit(breaker.protect(boom))
      expect(yield* breaker.state).toBe("closed")
      yield* Effect.exit(breaker.protect(boom))
      expect(yield* breaker.state).toBe("open")
      const error = yield* Effect.flip(breaker.protect(Effect.void))
      expect(error).toBeInstanceOf(CircuitOpenError)
      expect(Duration.toMillis((error as CircuitOpenError).retryAfter)).toBe(5000)
    }).pipe(
      Effect.provide(
        layerConfig({
          name: Config.string("CB_NAME"),
          maxFailures: Config.integer("CB_MAX_FAILURES"),
          resetTimeout: Config.duration("CB_RESET_TIMEOUT"),
          metrics: Config.boolean("CB_METRICS").pipe(Config.withDefault(true))
        }).pipe(
          Layer.provide(configFrom([["CB_NAME", "payments"], ["CB_MAX_FAILURES", "2"], ["CB_RESET_TIMEOUT", "5 seconds"]]))
        )
      )
    ))

  it.effect("a bad value fails the layer with a ConfigError naming the config key", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.provide(
          CircuitBreaker,
          CircuitBreaker.layerConfig({ maxFailures: Config.integer("CB_MAX_FAILURES") }).pipe(
            Layer.provide(configFrom([["CB_MAX_FAILURES", "0"]]))
          )
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
      expect(String(error)).toContain("CB_MAX_FAILURES")
      expect(String(error)).toContain("Expected maxFailures to be an integer >= 1, got 0")
    }))

  it.effect("a whole options object from one Config: a bad nested value names the option", () =>
    Effect.gen(function*() {
      const options = Config.all({
        policy: Config.succeed({ window: { calls: 5 }, minimumCalls: 6 })
      })
      const exit = yield* Effect.exit(Effect.provide(CircuitBreaker, CircuitBreaker.layerConfig(options)))
      const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
      expect(String(error)).toContain("policy.minimumCalls")
      expect(String(error)).toContain("Expected policy.minimumCalls to be at most policy.window.calls (5), got 6")
    }))
})
