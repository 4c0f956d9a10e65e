/**
 * What only the in-memory backend promises (beyond the shared contract in test/contract/throttleContract.ts):
 * GCRA bursts, the idleness probe, and its metrics, spans and events.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Clock,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Metric,
  Stream,
  TestClock
} from "effect"
import * as internal from "../src/internal/throttle.js"
import * as Rate from "../src/Rate.js"
import { Event, metrics, Throttle } from "../src/Throttle.js"
import { recordingTracer, settle } from "./observabilityUtils.js"

const now = Clock.currentTimeMillis

describe("GCRA bursts", () => {
  it.scoped("smooth { burst: 3 } at 10/s: three at once, then one every 100 ms", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make("10/s", { smooth: { burst: 3 } })
      expect(throttle.burst).toBe(3)
      const times: Array<number> = []
      const fiber = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 6 }),
        () => throttle.withPermit(Effect.flatMap(now, (t) => Effect.sync(() => times.push(t)))),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(times).toEqual([0, 0, 0, 100, 200, 300])
    }))

  it.scoped("the default burst is 1 down to a 4 ms interval and the grants per 4 ms above it", () =>
    Effect.gen(function*() {
      expect((yield* Throttle.make("250/s", { smooth: true })).burst).toBe(1)
      expect((yield* Throttle.make("1000/s", { smooth: true })).burst).toBe(4)
      expect((yield* Throttle.make("10000/s", { smooth: true })).burst).toBe(40)
      expect((yield* Throttle.make("10000/s")).burst).toBe(0)
      const bad = yield* Effect.exit(Throttle.make("10/s", { smooth: { burst: 0 } }))
      expect(Exit.isFailure(bad) && Cause.pretty(bad.cause)).toContain("Expected option smooth.burst to be an integer >= 1, got 0")
    }))
})

describe("idleness probe (for KeyedThrottle)", () => {
  it.scoped("busy while in flight or waiting; idle from the last expiry", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make(["2/s", "3/10s"])
      expect(internal.idleAt(throttle)).toBe(0)
      yield* throttle.acquire()
      expect(internal.idleAt(throttle)).toBeUndefined()
      yield* throttle.release()
      expect(internal.idleAt(throttle)).toBe(10_000) // the 10 s window still remembers the grant
      yield* TestClock.adjust("10 seconds")
      expect(internal.idleAt(throttle)).toBe(10_000)
    }))
})

const counter = (metric: typeof metrics.granted, name: string, reason?: string) =>
  Effect.map(
    Metric.value(
      reason === undefined
        ? Metric.tagged(metric, "name", name)
        : Metric.tagged(Metric.tagged(metric, "name", name), "reason", reason)
    ),
    (state) => state.count
  )

const gauge = (metric: typeof metrics.waiting, name: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, "name", name)), (state) => state.value)

describe("metrics, spans and events", () => {
  it.scoped("a scripted sequence: grants, refusals, timeouts, waits — each metric's exact value", () =>
    Effect.gen(function*() {
      const name = "scripted"
      const throttle = yield* Throttle.make("2/s", { name })
      yield* throttle.acquire() // fast path, waited 0
      yield* throttle.attempt() // fast path, granted
      expect(yield* gauge(metrics.inFlight, name)).toBe(2)
      expect((yield* throttle.attempt()).granted).toBe(false)
      expect(yield* throttle.tryAcquire()).toBe(false)
      yield* Effect.flip(throttle.acquire(1, { maxWait: "100 millis" }))
      const waiter = yield* Effect.fork(throttle.acquire(2))
      yield* Effect.yieldNow()
      expect(yield* gauge(metrics.waiting, name)).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiter)
      expect(yield* gauge(metrics.waiting, name)).toBe(0)
      expect(yield* gauge(metrics.inFlight, name)).toBe(4)
      expect(yield* counter(metrics.granted, name)).toBe(4)
      expect(yield* counter(metrics.rejected, name, "attempt")).toBe(1)
      expect(yield* counter(metrics.rejected, name, "tryAcquire")).toBe(1)
      expect(yield* counter(metrics.rejected, name, "maxWait")).toBe(1)
      const wait = yield* Metric.value(Metric.tagged(metrics.wait, "name", name))
      expect(wait.count).toBe(3) // acquire, attempt, the waiter
      expect(wait.sum).toBeCloseTo(1, 9) // 0 + 0 + 1 s
      yield* throttle.release(4)
      expect(yield* gauge(metrics.inFlight, name)).toBe(0)
    }))

  it.scoped("the wait histogram holds what Effect's own histogram holds for the same waits (grants at once and waits)", () =>
    Effect.gen(function*() {
      // a fresh name: the throttle puts its zero-lane hook in the registry; the reference is Effect's histogram
      const name = "zero-lane"
      const throttle = yield* Throttle.make("2/s", { name })
      const reference = Metric.tagged(metrics.wait, "name", "zero-lane-reference")
      yield* throttle.acquire(2) // waited 0
      const waiter = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("1 second") // the waiter waited 1 s
      yield* Fiber.join(waiter)
      yield* throttle.acquire() // the second of the window: waited 0
      yield* TestClock.adjust("250 millis")
      const late = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("1 second") // waited 750 ms
      yield* Fiber.join(late)
      for (const seconds of [0, 1, 0, 0.75]) yield* Metric.update(reference, seconds)
      const ours = yield* Metric.value(Metric.tagged(metrics.wait, "name", name))
      expect(ours).toEqual(yield* Metric.value(reference))
      expect([ours.count, ours.min, ours.max, ours.sum]).toEqual([4, 0, 1, 1.75])
    }))

  it.scoped("a wait histogram read before the throttle existed keeps counting every wait", () =>
    Effect.gen(function*() {
      const name = "read-first"
      // the registry makes Effect's own hook here; the throttle then uses it as it is
      expect((yield* Metric.value(Metric.tagged(metrics.wait, "name", name))).count).toBe(0)
      const throttle = yield* Throttle.make("1/s", { name })
      yield* throttle.acquire()
      const waiter = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiter)
      const wait = yield* Metric.value(Metric.tagged(metrics.wait, "name", name))
      expect([wait.count, wait.min, wait.sum]).toEqual([2, 0, 1])
    }))

  it.scoped("events arrive in order with their tags", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make("1/s")
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(throttle.events, 5)))
      yield* settle
      yield* throttle.acquire()
      yield* throttle.attempt()
      yield* Effect.flip(throttle.acquire(1, { maxWait: "10 millis" }))
      yield* throttle.pause("2 seconds")
      const waiter = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(waiter)
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      expect(events.map((e) => e._tag)).toEqual(["Granted", "Rejected", "TimedOut", "Paused", "Granted"])
      expect(Event.$is("Rejected")(events[1]!) && events[1].reason).toBe("attempt")
      expect(Event.$is("TimedOut")(events[2]!) && Duration.toMillis(events[2].retryAfter)).toBe(1000)
      expect(Event.$is("Paused")(events[3]!) && events[3].until).toBe(2000)
      expect(Event.$is("Granted")(events[4]!) && Duration.toMillis(events[4].waited)).toBe(2000)
    }))

  it.scoped("a wait that waits is a span; a fast-path grant adds none", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const throttle = yield* Throttle.make("1/s", { name: "traced" })
      yield* Effect.withTracer(throttle.withPermit(Effect.void), tracer)
      expect(spans.filter((s) => s.name === "effect_throttles.acquire")).toEqual([])
      const fiber = yield* Effect.fork(Effect.withTracer(throttle.withPermits(1)(Effect.void), tracer))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const acquired = spans.filter((s) => s.name === "effect_throttles.acquire")
      expect(acquired.length).toBe(1)
      expect(acquired[0]!.ended).toBe(true)
      expect(Object.fromEntries(acquired[0]!.attributes)).toEqual({ name: "traced", permits: 1, waited_ms: 1000 })
    }))

  it.scoped("metrics: false records nothing and starts no span; events still work", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const name = "silent"
      const throttle = yield* Throttle.make("1/s", { name, metrics: false })
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(throttle.events, 2)))
      yield* settle
      yield* throttle.acquire()
      const fiber = yield* Effect.fork(Effect.withTracer(throttle.acquire(), tracer))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(yield* counter(metrics.granted, name)).toBe(0)
      expect(yield* gauge(metrics.inFlight, name)).toBe(0)
      expect((yield* Metric.value(Metric.tagged(metrics.wait, "name", name))).count).toBe(0)
      expect(spans).toEqual([])
      expect(Chunk.size(yield* Fiber.join(collected))).toBe(2)
    }))

  it.effect.prop(
    "the gauges equal stats after every step of random operations",
    [fc.array(fc.constantFrom("acquire", "release", "attempt", "try", "tick", "interrupt"), { maxLength: 40 })],
    ([ops]) =>
      Effect.scoped(Effect.gen(function*() {
        const name = `prop-${Math.random()}`
        const throttle = yield* Throttle.make("3/s", { name, maxConcurrent: 2 })
        const waiters: Array<Fiber.RuntimeFiber<void>> = []
        for (const op of ops) {
          const stats = yield* throttle.stats
          if (op === "acquire") waiters.push(yield* Effect.fork(throttle.acquire()))
          if (op === "release" && stats.inFlight > 0) yield* throttle.release()
          if (op === "attempt") yield* throttle.attempt()
          if (op === "try") yield* throttle.tryAcquire()
          if (op === "tick") yield* TestClock.adjust("400 millis")
          if (op === "interrupt" && waiters.length > 0) yield* Fiber.interrupt(waiters.shift()!)
          yield* Effect.yieldNow()
          const after = yield* throttle.stats
          expect(yield* gauge(metrics.waiting, name)).toBe(after.waiting)
          expect(yield* gauge(metrics.inFlight, name)).toBe(after.inFlight)
        }
        yield* Effect.forEach(waiters, Fiber.interrupt)
      })),
    { fastCheck: { numRuns: 60 } }
  )
})

describe("the fast path and the fiber's op budget", () => {
  // Issue 10 § 7: a fast-path grant must not let the fiber yield between its stamp and the task's first step, or
  // whatever runs meanwhile happens while the slot already counts, and the next grant comes early by that much.
  // Here the throttle runs on a virtual clock of the test's own (a sleep moves it forward at once) and another fiber
  // moves it 10 ms forward every time it is scheduled, i.e. at every yield of ours. Under a budget of 37 ops,
  // fillers of 0..59 steps before each pair move the yield over every position of the grant; the queued second
  // grant of each pair (a fresh throttle per pair, so the first is always a fast one) must start a whole period
  // after the first task's start.
  it.effect("with another fiber moving the clock at every yield, two tasks in a row start a period apart", () =>
    Effect.gen(function*() {
      let clock = 0
      const read = Effect.sync(() => clock)
      const sleep = (d: Duration.Duration) => Effect.sync(() => void (clock += Duration.toMillis(d)))
      const config = { windows: [{ limit: 1, period: 100 }], measure: "start", interval: 0, burst: 0, maxConcurrent: Infinity } as const
      const ticker = yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.yieldNow(), Effect.sync(() => void (clock += 10)))))
      const gaps: Array<number> = []
      const pairs = Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (filler) =>
        Effect.gen(function*() {
          const { service: throttle } = internal.makeService(Rate.make(1, "100 millis"), config, () => clock, sleep)
          yield* Effect.forEach(Array.from({ length: filler }), () => Effect.void, { discard: true })
          const first = yield* throttle.withPermit(read)
          const second = yield* throttle.withPermit(read)
          gaps.push(second - first)
        }), { discard: true })
      yield* Effect.withMaxOpsBeforeYield(pairs, 37)
      yield* Fiber.interrupt(ticker)
      expect(gaps).toHaveLength(60)
      expect(gaps.filter((gap) => gap < 100)).toEqual([])
    }))
})
