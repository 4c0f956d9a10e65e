/**
 * The Throttle shell over a clock whose timers are coarse, as Node's are: whole milliseconds, firing late or early
 * against the high-resolution clock. Simulated exactly on TestClock: `sleep(d)` is rounded the way such a timer
 * rounds, and the high-resolution `now` is TestClock's nanoseconds. Times below are in nanoseconds. TestClock
 * keeps time as a float of milliseconds, so every simulated duration here is a multiple of 1/4 ms (turns and
 * the guard of 0.25 ms, timer errors in 1/4 ms steps): sums stay exact and so do the assertions.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, FastCheck as fc, Fiber, TestClock } from "effect"
import * as throttle from "../../src/internal/throttle.js"
import * as Rate from "../../src/Rate.js"
import { Throttle } from "../../src/Throttle.js"

const MS = 1_000_000n

/** A timer that fires `late(d)` ms after the requested `d` (negative: early), never before 0. */
type Timer = (millis: number) => number

/** Whole-millisecond timer that fires on the next tick: `ceil(d) + 1` ms (late by 1 to 2 ms). */
const nextTick: Timer = (d) => Math.ceil(d) + 1

const setup = (
  rate: Rate.RateInput,
  timer: Timer,
  settle: throttle.Settle | undefined
) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const origin = clock.unsafeCurrentTimeNanos()
    const now = () => Number(clock.unsafeCurrentTimeNanos() - origin) / 1e6
    const sleep = (d: Duration.Duration) =>
      Effect.sleep(Duration.nanos(BigInt(Math.max(0, Math.round(timer(Duration.toMillis(d)) * 1e6)))))
    const parsed = yield* Rate.decode(rate)
    const config = throttle.resolveConfig(parsed, undefined)
    if (typeof config === "string") throw new Error(config)
    const { service } = throttle.makeService(parsed, config, now, sleep, settle)
    const nanos = Effect.sync(() => clock.unsafeCurrentTimeNanos() - origin)
    return { service, nanos }
  })

/** `count` callers in a row, each acquiring once; their grant times (ns since the start). */
const grantTimes = (
  rate: Rate.RateInput,
  timer: Timer,
  settle: throttle.Settle | undefined,
  count: number
) =>
  Effect.gen(function*() {
    const { nanos, service } = yield* setup(rate, timer, settle)
    const times: Array<bigint> = []
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: count }),
        () => Effect.zipRight(service.acquire(), Effect.flatMap(nanos, (t) => Effect.sync(() => times.push(t)))),
        { concurrency: "unbounded", discard: true }
      )
    )
    yield* TestClock.adjust(Duration.seconds(count * 2 + 10))
    yield* Fiber.join(fiber)
    return times
  })

/** Turns of 0.25 ms, a lead of 2 ms. */
const settle = (guard: number, lead = 2, minTimer = 1): throttle.Settle => ({
  lead,
  guard,
  minTimer,
  turn: Effect.sleep(Duration.nanos(250_000n))
})

describe("Throttle on a coarse timer", () => {
  it.effect("without settling, each window opens one timer tick late, and the lateness adds up", () =>
    Effect.gen(function*() {
      const times = yield* grantTimes("1/s", nextTick, undefined, 4)
      expect(times).toEqual([0n, 1001n * MS, 2002n * MS, 3003n * MS])
    }))

  it.effect("settling: the timer is set `lead` early and turns finish the wait, exactly on time", () =>
    Effect.gen(function*() {
      const times = yield* grantTimes("1/s", nextTick, settle(0), 4)
      expect(times).toEqual([0n, 1000n * MS, 2000n * MS, 3000n * MS])
    }))

  it.effect("the guard starts each slot that much later (0.25 ms per window here)", () =>
    Effect.gen(function*() {
      const times = yield* grantTimes("1/s", nextTick, settle(0.25), 3)
      expect(times).toEqual([0n, 1000n * MS + 250_000n, 2000n * MS + 500_000n])
    }))

  it.effect("a burst window: every slot of the next window opens on time, not just the first", () =>
    Effect.gen(function*() {
      // 3/s with 7 callers: 0,0,0 then 1000 x3 then 2000.
      const times = yield* grantTimes("3/s", nextTick, settle(0), 7)
      expect(times).toEqual([0n, 0n, 0n, 1000n * MS, 1000n * MS, 1000n * MS, 2000n * MS])
    }))

  it.effect("a timer that fires early never grants early", () =>
    Effect.gen(function*() {
      // 1.5 ms early, but (like Node's) never shorter than 1 ms.
      const early: Timer = (d) => Math.max(1, d - 1.5)
      expect(yield* grantTimes("1/s", early, settle(0), 3)).toEqual([0n, 1000n * MS, 2000n * MS])
      // Without settling the early wake-up re-sleeps for the rest (here early again): still never early.
      const unsettled = yield* grantTimes("1/s", early, undefined, 3)
      expect(unsettled[1]! >= 1000n * MS && unsettled[2]! >= unsettled[1]! + 1000n * MS).toBe(true)
    }))

  it.effect("a wait shorter than lead + minTimer is all turns: a shorter timer would be rounded up and fire late", () =>
    Effect.gen(function*() {
      const secondAt = (minTimer: number) =>
        Effect.gen(function*() {
          const { nanos, service } = yield* setup("1/s", nextTick, settle(0, 1, minTimer))
          yield* service.acquire()
          yield* TestClock.adjust(Duration.micros(998_500n)) // the second caller comes 1.5 ms before its due time
          const fiber = yield* Effect.fork(Effect.zipRight(service.acquire(), nanos))
          yield* TestClock.adjust(Duration.millis(10))
          return yield* Fiber.join(fiber)
        })
      expect(yield* secondAt(1)).toBe(1000n * MS)
      // With timers allowed down to 0 ms: a 0.5 ms timer, which fires on the next tick (2 ms), 0.5 ms late.
      expect(yield* secondAt(0)).toBe(1000n * MS + 500_000n)
    }))

  it.effect("the head interrupted while taking turns leaves no trace: the next is granted at its own due time", () =>
    Effect.gen(function*() {
      const { nanos, service } = yield* setup("1/s", nextTick, settle(0))
      yield* service.acquire()
      const head = yield* Effect.fork(service.acquire())
      const next = yield* Effect.fork(Effect.zipRight(service.acquire(), nanos))
      yield* TestClock.adjust(Duration.micros(999_500n)) // the head is taking turns
      yield* Fiber.interrupt(head)
      yield* TestClock.adjust(Duration.millis(10))
      expect(yield* Fiber.join(next)).toBe(1000n * MS)
      expect(yield* service.stats).toMatchObject({ granted: 2, waiting: 0, inFlight: 2 })
    }))

  it.effect("only one waiter takes turns: the others stay parked", () =>
    Effect.gen(function*() {
      const { service } = yield* setup("1/s", nextTick, settle(0))
      yield* service.acquire()
      const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.fork(service.acquire()))
      yield* TestClock.adjust(Duration.millis(999))
      // 999 ms: the head has woken from its timer (set for 998) and is taking turns; one pending sleep.
      expect((yield* TestClock.sleeps()).length).toBe(1)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* service.stats).granted).toBe(2)
      yield* Effect.forEach(fibers, Fiber.interrupt)
      expect(yield* service.stats).toMatchObject({ waiting: 0, inFlight: 2 })
    }))

  it.effect.prop(
    "with timers off by up to ±lead, every grant is exact and the window holds",
    {
      // Timer errors in 1/4 ms steps, from 2 ms early to 2 ms late.
      errors: fc.array(fc.integer({ min: -8, max: 8 }).map((e) => e / 4), { minLength: 1, maxLength: 20 }),
      limit: fc.integer({ min: 1, max: 3 }),
      count: fc.integer({ min: 1, max: 8 })
    },
    ({ count, errors, limit }) =>
      Effect.gen(function*() {
        let k = 0
        const jittery: Timer = (d) => Math.max(1, d + errors[k++ % errors.length]!)
        const times = yield* grantTimes({ limit, period: "1 second" }, jittery, settle(0), count)
        // Burst of `limit` per window, windows exactly 1 s apart: the k-th grant at floor(k / limit) s.
        expect(times).toEqual(times.map((_, i) => BigInt(Math.floor(i / limit)) * 1000n * MS))
      }),
    { fastCheck: { numRuns: 40 } }
  )
})

describe("Throttle.make picks settling by clock", () => {
  it.effect("only Effect's default (live) clock settles; TestClock and custom clocks use plain timers", () =>
    Effect.gen(function*() {
      expect(throttle.isLiveClock(Clock.make())).toBe(true)
      expect(throttle.isLiveClock(yield* Effect.clock)).toBe(false) // TestClock here
      const custom: Clock.Clock = { ...Clock.make(), sleep: () => Effect.void }
      expect(throttle.isLiveClock(custom)).toBe(false)
    }))
})

describe("Throttle on the live clock (smoke: completes, no timing asserted)", () => {
  it.live("settling with real event-loop turns grants everyone, in order", () =>
    Effect.scoped(Effect.gen(function*() {
      const service = yield* Effect.orDie(Throttle.make({ limit: 2, period: "20 millis" }))
      const order: Array<number> = []
      yield* Effect.forEach(
        Array.from({ length: 7 }, (_, i) => i),
        (i) => service.withPermit(Effect.sync(() => order.push(i))),
        { concurrency: "unbounded", discard: true }
      )
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6])
      expect(yield* service.stats).toMatchObject({ granted: 7, waiting: 0, inFlight: 0 })
    })))
})
