import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Clock, Data, Effect, Exit, FastCheck as fc, Fiber, Option, Random, Ref, TestClock } from "effect"
import { DynamicThrottle, layer, make } from "../src/DynamicThrottle.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}

/** Runs `n` calls through the throttle concurrently; each records the Clock time at which its body started. */
const burst = <E>(throttle: DynamicThrottle.Service, outcomes: ReadonlyArray<Effect.Effect<void, E>>) =>
  Effect.gen(function*() {
    const starts = yield* Ref.make<Array<number>>([])
    const fiber = yield* Effect.fork(
      Effect.forEach(
        outcomes,
        (outcome) =>
          Effect.exit(
            throttle.withPermit(
              Effect.zipRight(
                Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(starts, (l) => [...l, t])),
                outcome
              )
            )
          ),
        { concurrency: "unbounded" }
      )
    )
    yield* settle
    return { fiber, starts }
  })

/** Lets freshly forked fibers run up to their first wait. */
const settle = Effect.repeatN(Effect.yieldNow(), 9)

const ok = Effect.void
const fail = Effect.fail(new Boom())

describe("DynamicThrottle", () => {
  it.effect("the worked example on TestClock: window 4, jitter 0, rate 10 -> 12.5 -> 12.5 -> 9.375", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 10, window: 4, jitter: 0 })

      const b1 = yield* burst(throttle, [ok, ok, ok, ok])
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(b1.fiber)
      expect(yield* Ref.get(b1.starts)).toEqual([0, 100, 200, 300])
      expect(yield* throttle.rate).toBe(12.5)
      expect([yield* throttle.successes, yield* throttle.failures]).toEqual([0, 0])

      const b2 = yield* burst(throttle, [ok, fail, fail, fail])
      yield* TestClock.adjust("320 millis")
      yield* Fiber.join(b2.fiber)
      expect(yield* Ref.get(b2.starts)).toEqual([380, 460, 540, 620]) // 80 ms apart at 12.5/s
      expect(yield* throttle.rate).toBe(12.5) // 0.25 is not < 0.25

      const b3 = yield* burst(throttle, [fail, fail, fail, fail])
      yield* TestClock.adjust("320 millis")
      yield* Fiber.join(b3.fiber)
      expect(yield* Ref.get(b3.starts)).toEqual([700, 780, 860, 940])
      expect(yield* throttle.rate).toBe(9.375)

      const b4 = yield* burst(throttle, [ok])
      yield* TestClock.adjust("107 millis")
      yield* Fiber.join(b4.fiber)
      expect(yield* Ref.get(b4.starts)).toEqual([940 + 106.666667]) // 1000 / 9.375, to the nanosecond
    }))

  it.effect("concurrent callers reserve successive slots with the rate at reservation time; nobody is admitted early", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 4, jitter: 0 })
      const b = yield* burst(throttle, [ok, ok, ok])
      yield* throttle.setRate(100) // does not move slots already reserved
      yield* TestClock.adjust("499 millis")
      expect(yield* Ref.get(b.starts)).toEqual([0, 250])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(b.fiber)
      expect(yield* Ref.get(b.starts)).toEqual([0, 250, 500])
      const c = yield* burst(throttle, [ok, ok])
      yield* TestClock.adjust("20 millis")
      yield* Fiber.join(c.fiber)
      expect(yield* Ref.get(c.starts)).toEqual([510, 520])
    }))

  it.effect("jitter comes from Effect's Random: gap = 1000/rate x (1 + u), u in [-jitter, jitter]", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 10, jitter: 0.2 })
      // Random.next values 0.5, 0, 1, 0.5 -> u = 0 (first, unused), -0.2, +0.2, 0
      const b = yield* burst(throttle, [ok, ok, ok, ok])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(b.fiber)
      expect(yield* Ref.get(b.starts)).toEqual([0, 80, 200, 300])
    }).pipe(Effect.withRandom(Random.fixed([0.5, 0, 1, 0.5]))))

  describe("interruption", () => {
    it.effect("interrupted latest waiters give their slots back (in reverse order, all of them)", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, jitter: 0 })
        const starts = yield* Ref.make<Array<string>>([])
        const call = (label: string) =>
          throttle.withPermit(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(starts, (l) => [...l, `${label}@${t}`])))
        const a = yield* Effect.fork(call("a"))
        const b = yield* Effect.fork(call("b"))
        const c = yield* Effect.fork(call("c"))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("50 millis")
        yield* Fiber.interrupt(c)
        yield* Fiber.interrupt(b)
        const d = yield* Effect.fork(call("d"))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(a)
        yield* Fiber.join(d)
        expect(yield* Ref.get(starts)).toEqual(["a@0", "d@100"])
        expect(yield* throttle.successes).toBe(2)
      }))

    it.effect("an interrupted middle waiter leaves a gap; the waiters behind it keep their exact slots", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, jitter: 0 })
        const starts = yield* Ref.make<Array<string>>([])
        const call = (label: string) =>
          throttle.withPermit(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(starts, (l) => [...l, `${label}@${t}`])))
        const fibers = []
        for (const label of ["a", "b", "c"]) fibers.push(yield* Effect.fork(call(label)))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("50 millis")
        yield* Fiber.interrupt(fibers[1]!)
        const d = yield* Effect.fork(call("d"))
        yield* TestClock.adjust("250 millis")
        yield* Fiber.join(fibers[2]!)
        yield* Fiber.join(d)
        expect(yield* Ref.get(starts)).toEqual(["a@0", "c@200", "d@300"])
      }))

    it.effect("interruption while running is not an outcome, and the interruption propagates", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, window: 1, jitter: 0 })
        const running = yield* Effect.fork(throttle.withPermit(Effect.never))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(running)
        expect(Exit.isInterrupted(yield* Fiber.await(running))).toBe(true)
        const self = yield* Effect.fork(throttle.withPermit(Effect.interrupt)) // its slot is at 100 ms
        yield* TestClock.adjust("100 millis")
        expect(Exit.isInterrupted(yield* Fiber.await(self))).toBe(true)
        expect([yield* throttle.successes, yield* throttle.failures, yield* throttle.rate]).toEqual([0, 0, 10])
      }))
  })

  it.effect("isFailure: ignored typed failures are not outcomes; defects are failures", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 10, jitter: 0, isFailure: (e) => !(e instanceof NotFound) })
      const notFound = yield* Effect.exit(throttle.withPermit(Effect.fail(new NotFound())))
      expect(Exit.isFailure(notFound) && Option.getOrUndefined(Cause.failureOption(notFound.cause))).toEqual(new NotFound())
      const defect = yield* Effect.exit(throttle.withPermit(Effect.die("bug")))
      expect(Exit.isFailure(defect) && Cause.isDie(defect.cause)).toBe(true)
      yield* Effect.exit(throttle.withPermit(fail))
      yield* throttle.withPermit(ok)
      expect([yield* throttle.successes, yield* throttle.failures]).toEqual([1, 2])
      yield* throttle.reset
      expect([yield* throttle.successes, yield* throttle.failures, yield* throttle.rate]).toEqual([0, 0, 10])
    }).pipe(Effect.fork, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join)))

  it.effect("a throwing isFailure makes the call a failure that also dies with the thrown value", () =>
    Effect.gen(function*() {
      const throttle = yield* make({
        initialRate: 10,
        jitter: 0,
        isFailure: () => {
          throw new Error("bad predicate")
        }
      })
      const exit = yield* Effect.exit(throttle.withPermit(fail))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toEqual(new Boom())
      expect(yield* throttle.failures).toBe(1)
    }))

  it.effect("a defect beside a typed failure is a failure without consulting isFailure (a throwing one adds nothing)", () =>
    Effect.gen(function*() {
      let calls = 0
      const throttle = yield* make({
        initialRate: 10,
        jitter: 0,
        isFailure: () => {
          calls++
          throw new Error("bad predicate")
        }
      })
      const cause = Cause.sequential(Cause.fail(new Boom()), Cause.die("bug"))
      const exit = yield* Effect.exit(throttle.withPermit(Effect.failCause(cause)))
      expect(exit).toEqual(Exit.failCause(cause))
      expect(calls).toBe(0)
      expect(yield* throttle.failures).toBe(1)
    }))

  it.effect("setRate clamps exactly; NaN is a defect", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 10, minRate: 2, maxRate: 50 })
      yield* throttle.setRate(1000)
      expect(yield* throttle.rate).toBe(50)
      yield* throttle.setRate(0)
      expect(yield* throttle.rate).toBe(2)
      yield* throttle.setRate(12.34)
      expect(yield* throttle.rate).toBe(12.34)
      const nan = yield* Effect.exit(throttle.setRate(Number.NaN))
      expect(Exit.isFailure(nan) && Cause.isDie(nan.cause)).toBe(true)
      expect(yield* throttle.rate).toBe(12.34)
    }))

  describe("reportThrottled", () => {
    it.effect("cuts the rate at once and pauses the schedule: pending waiters move, new callers wait for the end", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, jitter: 0 })
        const b = yield* burst(throttle, [ok, ok, ok]) // due at 0, 100, 200
        yield* Effect.yieldNow()
        yield* TestClock.adjust("50 millis")
        yield* throttle.reportThrottled("1 second")
        expect(yield* throttle.rate).toBe(7.5)
        yield* TestClock.adjust("10 millis") // t = 60
        const c = yield* burst(throttle, [ok])
        yield* TestClock.adjust("1039 millis") // t = 1099
        expect(yield* Ref.get(b.starts)).toEqual([0])
        yield* TestClock.adjust("1 millis") // t = 1100
        expect(yield* Ref.get(b.starts)).toEqual([0, 1100])
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(b.fiber)
        yield* Fiber.join(c.fiber)
        expect(yield* Ref.get(b.starts)).toEqual([0, 1100, 1200])
        expect(yield* Ref.get(c.starts)).toEqual([1200 + 133.333333])
      }))

    it.effect("without retryAfter: only the rate cut", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, minRate: 8, jitter: 0 })
        yield* throttle.withPermit(ok)
        yield* throttle.reportThrottled()
        expect(yield* throttle.rate).toBe(8) // 7.5 clamped to minRate
        const b = yield* burst(throttle, [ok])
        yield* TestClock.adjust("125 millis")
        yield* Fiber.join(b.fiber)
        expect(yield* Ref.get(b.starts)).toEqual([125])
      }))

    it.effect("an interrupted waiter after a pause keeps its (moved) slot as a gap", () =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 10, jitter: 0 })
        yield* throttle.withPermit(ok) // t = 0
        const waiter = yield* Effect.fork(throttle.withPermit(ok)) // due at 100
        yield* Effect.yieldNow()
        yield* throttle.reportThrottled("500 millis") // moved to 600
        yield* Fiber.interrupt(waiter)
        const next = yield* burst(throttle, [ok])
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(next.fiber)
        expect(yield* Ref.get(next.starts)).toEqual([600 + 133.333333])
      }))
  })

  it.effect("invalid options are defects with an Expected X, got Y message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(make({ initialRate: 0.5, minRate: 1 }))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) {
        const defect = Option.getOrThrow(Cause.dieOption(exit.cause))
        expect(Cause.isIllegalArgumentException(defect)).toBe(true)
        expect((defect as Error).message).toBe(
          "Expected 0 < minRate <= initialRate <= maxRate, got minRate 1, initialRate 0.5, maxRate 100"
        )
      }
    }))

  it.effect("layer and static accessors", () =>
    Effect.gen(function*() {
      expect(yield* DynamicThrottle.withPermit(Effect.succeed(1))).toBe(1)
      expect(yield* DynamicThrottle.successes).toBe(1)
      yield* Effect.exit(DynamicThrottle.withPermit(fail)) // window 2: 1 of 2 -> unchanged
      expect(yield* DynamicThrottle.rate).toBe(20)
      yield* DynamicThrottle.setRate(30)
      yield* DynamicThrottle.reportThrottled()
      expect(yield* DynamicThrottle.rate).toBe(22.5)
      expect(yield* DynamicThrottle.failures).toBe(0)
      yield* DynamicThrottle.reset
      const other = yield* DynamicThrottle.make({ initialRate: 1 })
      expect(yield* other.rate).toBe(1)
    }).pipe(
      Effect.provide(DynamicThrottle.layer({ initialRate: 20, window: 2, jitter: 0 })),
      Effect.fork,
      Effect.tap(() => TestClock.adjust("1 second")),
      Effect.flatMap(Fiber.join)
    ))

  it.effect("public signatures", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ initialRate: 1 })
      expectTypeOf(throttle.withPermit(Effect.fail(new Boom()) as Effect.Effect<number, Boom>)).toEqualTypeOf<
        Effect.Effect<number, Boom>
      >()
      expectTypeOf(DynamicThrottle.withPermit(Effect.succeed("a"))).toEqualTypeOf<
        Effect.Effect<string, never, DynamicThrottle>
      >()
      expectTypeOf(throttle.rate).toEqualTypeOf<Effect.Effect<number>>()
      expect(yield* throttle.withPermit(Effect.succeed(7))).toBe(7)
    }))

  it.effect("layer is DynamicThrottle.layer", () =>
    Effect.gen(function*() {
      expect(yield* DynamicThrottle.rate).toBe(3)
    }).pipe(Effect.provide(layer({ initialRate: 3 }))))
})

describe("DynamicThrottle invariants", () => {
  it.effect.prop(
    "under random interruption of waiters, admissions are at least 1000/rate ms apart (jitter 0)",
    {
      arrivals: fc.array(fc.integer({ min: 0, max: 40 }).map((n) => n * 10), { minLength: 1, maxLength: 25 }),
      interrupts: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 100 }).map((n) => n * 10)), { maxLength: 10 })
    },
    ({ arrivals, interrupts }) =>
      Effect.gen(function*() {
        const throttle = yield* make({ initialRate: 20, jitter: 0 })
        const starts = yield* Ref.make<Array<number>>([])
        const fibers = []
        for (const at of arrivals) {
          fibers.push(
            yield* Effect.fork(
              Effect.zipRight(
                Effect.sleep(`${at} millis`),
                throttle.withPermit(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(starts, (l) => [...l, t])))
              )
            )
          )
        }
        for (const [pick, at] of interrupts) {
          yield* Effect.fork(Effect.zipRight(Effect.sleep(`${at} millis`), Fiber.interrupt(fibers[pick % fibers.length]!)))
        }
        yield* TestClock.adjust("5 seconds")
        for (const f of fibers) yield* Fiber.await(f)
        const admitted = [...(yield* Ref.get(starts))].sort((x, y) => x - y)
        for (let i = 1; i < admitted.length; i++) {
          expect(admitted[i]! - admitted[i - 1]!).toBeGreaterThanOrEqual(50)
        }
        // every caller that was not interrupted was admitted
        const notInterrupted = (yield* Effect.forEach(fibers, Fiber.await)).filter((e) => !Exit.isInterrupted(e)).length
        expect(admitted.length).toBeGreaterThanOrEqual(notInterrupted)
      }),
    { fastCheck: { numRuns: 40 } }
  )
})
