import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Option,
  Ref,
  Stream,
  TestClock
} from "effect"
import { CircuitBreaker, CircuitOpenError, layer, make } from "../src/CircuitBreaker.js"

class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}

/** Subscribes to `changes` and returns a log of `"from->to@at"` entries. */
const recordChanges = (breaker: CircuitBreaker.Service) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<Array<string>>([])
    yield* Effect.forkScoped(
      Stream.runForEach(breaker.changes, (c) => Ref.update(log, (l) => [...l, `${c.from}->${c.to}@${c.at}`]))
    )
    // let the subscriber fiber start and subscribe
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
    return log
  })

const failWith = (n: number) => Effect.fail(new Boom({ n }))

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe("CircuitBreaker", () => {
  it.scoped("replays the seed's scenario: opens after maxFailures, rejects without running, half-opens, closes", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "flaky", maxFailures: 3, resetTimeout: "1 second" })
      const calls = yield* Ref.make(0)
      const remote = breaker.protectFn((fail: boolean) =>
        Effect.zipRight(Ref.update(calls, (n) => n + 1), fail ? failWith(1) : Effect.succeed("ok"))
      )
      for (let i = 0; i < 3; i++) {
        expect(yield* breaker.state).toBe("closed")
        expect(errorOf(yield* Effect.exit(remote(true)))).toEqual(new Boom({ n: 1 }))
      }
      expect(yield* breaker.state).toBe("open")
      expect(yield* breaker.failures).toBe(3)

      yield* TestClock.adjust("400 millis")
      const rejected = errorOf(yield* Effect.exit(remote(false)))
      expect(rejected).toBeInstanceOf(CircuitOpenError)
      const error = rejected as CircuitOpenError
      expect(error.key).toBe("flaky")
      expect(error.state).toBe("open")
      expect(Duration.toMillis(error.retryAfter)).toBe(600)
      expect(error.message).toBe(`Circuit breaker "flaky" is open; retry after 600ms`)
      expect(yield* Ref.get(calls)).toBe(3) // the rejected call did not run

      yield* TestClock.adjust("599 millis")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.state).toBe("half-open")
      expect(yield* remote(false)).toBe("ok")
      expect(yield* breaker.state).toBe("closed")
      expect(yield* breaker.failures).toBe(0)
      expect(yield* Ref.get(calls)).toBe(4)
    }))

  it.scoped("publishes every transition with exact virtual timestamps, open -> half-open without any call", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ maxFailures: 2, resetTimeout: "1 second", halfOpenMaxCalls: 1 })
      const log = yield* recordChanges(breaker)
      const slowFailure = Effect.zipRight(Effect.sleep("250 millis"), failWith(0))
      const first = yield* Effect.fork(Effect.exit(breaker.protect(slowFailure)))
      const second = yield* Effect.fork(Effect.exit(breaker.protect(slowFailure)))
      yield* TestClock.adjust("250 millis")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(yield* Ref.get(log)).toEqual(["closed->open@250"])

      yield* TestClock.adjust("999 millis")
      expect(yield* Ref.get(log)).toEqual(["closed->open@250"])
      yield* TestClock.adjust("1 millis")
      yield* Effect.yieldNow()
      expect(yield* Ref.get(log)).toEqual(["closed->open@250", "open->half-open@1250"])

      // a trial of 100 ms fails: re-opened at its completion; then a trial succeeds
      const trial = yield* Effect.fork(Effect.exit(breaker.protect(Effect.zipRight(Effect.sleep("100 millis"), failWith(1)))))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(trial)
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.protect(Effect.succeed(1))).toBe(1)
      yield* breaker.trip
      yield* breaker.reset
      yield* Effect.yieldNow()
      expect(yield* Ref.get(log)).toEqual([
        "closed->open@250",
        "open->half-open@1250",
        "half-open->open@1350",
        "open->half-open@2350",
        "half-open->closed@2350",
        "closed->open@2350",
        "open->closed@2350"
      ])
    }))

  it.scoped("changes: every subscriber sees the transitions published while it is subscribed", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ resetTimeout: "1 second" })
      const early = yield* recordChanges(breaker)
      yield* breaker.trip
      yield* Effect.yieldNow()
      const late = yield* recordChanges(breaker)
      yield* TestClock.adjust("1 second")
      yield* breaker.reset
      yield* Effect.yieldNow()
      expect(yield* Ref.get(early)).toEqual(["closed->open@0", "open->half-open@1000", "half-open->closed@1000"])
      expect(yield* Ref.get(late)).toEqual(["open->half-open@1000", "half-open->closed@1000"])
    }))

  it.scoped("half-open: at most halfOpenMaxCalls trials; extra calls are rejected; the first success closes", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "db", resetTimeout: "10 seconds", halfOpenMaxCalls: 2 })
      yield* breaker.trip
      yield* TestClock.adjust("10 seconds")
      const gateA = yield* Deferred.make<void>()
      const gateB = yield* Deferred.make<void>()
      const a = yield* Effect.fork(breaker.protect(Effect.as(Deferred.await(gateA), "a")))
      const b = yield* Effect.fork(breaker.protect(Effect.zipRight(Deferred.await(gateB), failWith(2))))
      yield* Effect.yieldNow()
      const rejected = errorOf(yield* Effect.exit(breaker.protect(Effect.succeed("c"))))
      expect(rejected).toBeInstanceOf(CircuitOpenError)
      expect((rejected as CircuitOpenError).state).toBe("half-open")
      expect(Duration.toMillis((rejected as CircuitOpenError).retryAfter)).toBe(0)
      expect((rejected as CircuitOpenError).message).toBe(
        `Circuit breaker "db" is half-open and all its trial calls are running; retry once a trial completes`
      )

      yield* Deferred.succeed(gateA, undefined)
      expect(yield* Fiber.join(a)).toBe("a")
      expect(yield* breaker.state).toBe("closed")
      // the other trial belongs to the finished half-open period: its failure does not count
      yield* Deferred.succeed(gateB, undefined)
      expect(errorOf(yield* Fiber.await(b))).toEqual(new Boom({ n: 2 }))
      expect(yield* breaker.state).toBe("closed")
      expect(yield* breaker.failures).toBe(0)
    }))

  it.scoped("a trial failure re-opens at the instant it completes", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ resetTimeout: "1 second" })
      yield* breaker.trip
      yield* TestClock.adjust("1 second")
      const trial = yield* Effect.fork(breaker.protect(Effect.zipRight(Effect.sleep("300 millis"), Effect.die("db down"))))
      yield* TestClock.adjust("300 millis")
      const exit = yield* Fiber.await(trial)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("200 millis")
      const rejected = errorOf(yield* Effect.exit(breaker.protect(Effect.void))) as CircuitOpenError
      expect(Duration.toMillis(rejected.retryAfter)).toBe(800)
      yield* TestClock.adjust("800 millis")
      expect(yield* breaker.state).toBe("half-open")
    }))

  describe("interruption", () => {
    it.scoped("an interrupted call is neither counted nor converted", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ maxFailures: 1 })
        const fiber = yield* Effect.fork(breaker.protect(Effect.never))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(yield* breaker.state).toBe("closed")
        expect(yield* breaker.failures).toBe(0)
        // self-interruption inside the protected effect: also not counted, and orElse is not called
        const orElseCalls = yield* Ref.make(0)
        const exit2 = yield* Effect.exit(
          breaker.protect(Effect.interrupt, { orElse: () => Effect.zipRight(Ref.update(orElseCalls, (n) => n + 1), Effect.void) })
        )
        expect(Exit.isInterrupted(exit2)).toBe(true)
        expect(yield* Ref.get(orElseCalls)).toBe(0)
        expect(yield* breaker.state).toBe("closed")
      }))

    it.scoped("an interrupted trial frees its place: the breaker never stays half-open with no trial running", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ resetTimeout: "1 second", halfOpenMaxCalls: 1 })
        yield* breaker.trip
        yield* TestClock.adjust("1 second")
        const stuck = yield* Effect.fork(breaker.protect(Effect.never))
        yield* Effect.yieldNow()
        expect(errorOf(yield* Effect.exit(breaker.protect(Effect.void)))).toBeInstanceOf(CircuitOpenError)
        yield* Fiber.interrupt(stuck)
        expect(yield* breaker.state).toBe("half-open")
        expect(yield* breaker.protect(Effect.succeed("probe"))).toBe("probe")
        expect(yield* breaker.state).toBe("closed")
      }))
  })

  describe("what counts", () => {
    it.scoped("isFailure: ignored typed failures propagate without counting; defects count", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ maxFailures: 2, isFailure: (e) => !(e instanceof NotFound) })
        for (let i = 0; i < 5; i++) {
          expect(errorOf(yield* Effect.exit(breaker.protect(Effect.fail(new NotFound()))))).toEqual(new NotFound())
        }
        expect(yield* breaker.failures).toBe(0)
        yield* Effect.exit(breaker.protect(Effect.die("bug")))
        expect(yield* breaker.failures).toBe(1)
        yield* Effect.exit(breaker.protect(Effect.fail(new NotFound()))) // does not reset the count either
        yield* Effect.exit(breaker.protect(failWith(3)))
        expect(yield* breaker.state).toBe("open")
      }))

    it.scoped("orElse gets counted typed failures only (after counting them); defects and rejections propagate", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ maxFailures: 2, isFailure: (e) => e instanceof Boom })
        const seen = yield* Ref.make<Array<unknown>>([])
        const fallback = { orElse: (e: unknown) => Effect.as(Ref.update(seen, (l) => [...l, e]), "fallback") }
        expect(yield* breaker.protect(Effect.succeed("ok"), fallback)).toBe("ok")
        expect(yield* breaker.protect(failWith(1), fallback)).toBe("fallback")
        expect(yield* breaker.failures).toBe(1)
        expect(errorOf(yield* Effect.exit(breaker.protect(Effect.fail(new NotFound()), fallback)))).toEqual(new NotFound())
        const defect = yield* Effect.exit(breaker.protect(Effect.die("bug"), fallback))
        expect(Exit.isFailure(defect) && Cause.isDie(defect.cause)).toBe(true)
        expect(yield* breaker.state).toBe("open")
        const rejected = yield* Effect.exit(breaker.protect(Effect.succeed("never runs"), fallback))
        expect(errorOf(rejected)).toBeInstanceOf(CircuitOpenError)
        expect(yield* Ref.get(seen)).toEqual([new Boom({ n: 1 })])
      }))

    it.scoped("a throwing isFailure counts the call as a failure and adds the throw as a defect (no slot leaks)", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          resetTimeout: "1 second",
          halfOpenMaxCalls: 1,
          isFailure: () => {
            throw new Error("bad predicate")
          }
        })
        yield* breaker.trip
        yield* TestClock.adjust("1 second")
        const exit = yield* Effect.exit(breaker.protect(failWith(1), { orElse: () => Effect.succeed("unused") }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(errorOf(exit)).toEqual(new Boom({ n: 1 }))
        expect(yield* breaker.state).toBe("open") // the trial counted as a failure, its slot is free
        yield* TestClock.adjust("1 second")
        expect(yield* breaker.protect(Effect.succeed("probe"))).toBe("probe")
      }))

    it.scoped("a defect beside a typed failure counts without consulting isFailure (a throwing one adds nothing)", () =>
      Effect.gen(function*() {
        let calls = 0
        const breaker = yield* make({
          maxFailures: 1,
          isFailure: () => {
            calls++
            throw new Error("bad predicate")
          }
        })
        const cause = Cause.sequential(Cause.fail(new Boom({ n: 1 })), Cause.die("bug"))
        const exit = yield* Effect.exit(breaker.protect(Effect.failCause(cause), { orElse: () => Effect.succeed(0) }))
        expect(exit).toEqual(Exit.failCause(cause)) // the caller's cause, unchanged; no fallback
        expect(calls).toBe(0)
        expect(yield* breaker.state).toBe("open")
      }))

    it.scoped("outcomes of calls admitted before the breaker opened do not count afterwards", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ maxFailures: 1, resetTimeout: "1 second" })
        const slow = yield* Effect.fork(breaker.protect(Effect.as(Effect.sleep("5 seconds"), "late")))
        yield* Effect.yieldNow() // let it be admitted while closed
        yield* Effect.exit(breaker.protect(failWith(1)))
        expect(yield* breaker.state).toBe("open")
        yield* TestClock.adjust("1 second")
        expect(yield* breaker.state).toBe("half-open")
        yield* TestClock.adjust("4 seconds")
        expect(yield* Fiber.join(slow)).toBe("late")
        expect(yield* breaker.state).toBe("half-open") // the late success is not a trial
      }))
  })

  describe("failure-rate policy", () => {
    it.scoped("time window: opens when the failure share over the last T reaches the threshold", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          name: "search",
          policy: { window: { duration: "10 seconds" }, minimumCalls: 4, failureRateThreshold: 0.5 }
        })
        const log = yield* recordChanges(breaker)
        yield* Effect.exit(breaker.protect(failWith(1))) // t = 0
        yield* TestClock.adjust("2 seconds")
        yield* breaker.protect(Effect.void) // t = 2000
        yield* breaker.protect(Effect.void)
        yield* TestClock.adjust("8 seconds") // t = 10000: the failure at 0 has left the window
        yield* Effect.exit(breaker.protect(failWith(2)))
        expect(yield* breaker.failures).toBe(1)
        expect(yield* breaker.state).toBe("closed") // 3 calls in window < minimumCalls
        yield* TestClock.adjust("1 second")
        yield* Effect.exit(breaker.protect(failWith(3))) // 2 failures of 4
        expect(yield* breaker.state).toBe("open")
        yield* Effect.yieldNow()
        expect(yield* Ref.get(log)).toEqual(["closed->open@11000"])
      }))

    it.scoped("slow calls open the breaker even when they succeed", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          policy: { window: { calls: 3 }, slowCallDuration: "1 second", slowCallRateThreshold: 0.6 }
        })
        const call = (millis: number) => breaker.protect(Effect.as(Effect.sleep(Duration.millis(millis)), millis))
        const f1 = yield* Effect.fork(call(1000)) // exactly 1 s: not slow
        const f2 = yield* Effect.fork(call(1001))
        yield* TestClock.adjust("1001 millis")
        expect(yield* Fiber.join(f1)).toBe(1000)
        expect(yield* Fiber.join(f2)).toBe(1001)
        expect(yield* breaker.state).toBe("closed")
        const f3 = yield* Effect.fork(call(2000))
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(f3)).toBe(2000) // the caller still gets the result
        expect(yield* breaker.state).toBe("open") // 2 slow of 3 >= 0.6
        expect(yield* breaker.failures).toBe(0)
      }))
  })

  it.effect("invalid options are defects with an Expected X, got Y message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(make({ maxFailures: 0 })))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) {
        const defect = Option.getOrThrow(Cause.dieOption(exit.cause))
        expect(Cause.isIllegalArgumentException(defect)).toBe(true)
        expect((defect as Error).message).toBe("Expected maxFailures to be an integer >= 1, got 0")
      }
    }))

  it.effect("layer and static accessors", () =>
    Effect.gen(function*() {
      expect(yield* CircuitBreaker.protect(Effect.succeed(1))).toBe(1)
      expect(yield* CircuitBreaker.protect(failWith(1), { orElse: () => Effect.succeed(2) })).toBe(2)
      expect(yield* CircuitBreaker.failures).toBe(1)
      yield* CircuitBreaker.trip
      expect(yield* CircuitBreaker.state).toBe("open")
      yield* CircuitBreaker.reset
      expect(yield* CircuitBreaker.state).toBe("closed")
      const breaker = yield* CircuitBreaker
      expect(breaker.name).toBe("acc")
    }).pipe(Effect.provide(layer({ name: "acc" }))))

  it.scoped("public signatures", () =>
    Effect.gen(function*() {
      const breaker = yield* make()
      const plain = breaker.protect(Effect.fail(new Boom({ n: 1 })) as Effect.Effect<number, Boom>)
      expectTypeOf(plain).toEqualTypeOf<Effect.Effect<number, Boom | CircuitOpenError>>()
      const withFallback = breaker.protect(Effect.fail(new Boom({ n: 1 })) as Effect.Effect<number, Boom>, {
        orElse: (e) => {
          expectTypeOf(e).toEqualTypeOf<Boom>()
          return Effect.succeed("fallback")
        }
      })
      expectTypeOf(withFallback).toEqualTypeOf<Effect.Effect<number | string, Boom | CircuitOpenError>>()
      const fn = breaker.protectFn((id: number, name: string) => Effect.succeed({ id, name }))
      expectTypeOf(fn).toEqualTypeOf<
        (id: number, name: string) => Effect.Effect<{ id: number; name: string }, CircuitOpenError>
      >()
      expectTypeOf(breaker.state).toEqualTypeOf<Effect.Effect<"closed" | "open" | "half-open">>()
      expectTypeOf(CircuitBreaker.protect(Effect.succeed(1))).toEqualTypeOf<
        Effect.Effect<number, CircuitOpenError, CircuitBreaker>
      >()
      expect(yield* withFallback).toBe("fallback")
      expect(yield* fn(1, "a")).toEqual({ id: 1, name: "a" })
    }))

  it.effect("CircuitBreaker.layer and CircuitBreaker.make are the module's layer and make", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      expect(breaker.name).toBe("static")
      const other = yield* Effect.scoped(CircuitBreaker.make({ name: "other" }))
      expect(other.name).toBe("other")
    }).pipe(Effect.provide(CircuitBreaker.layer({ name: "static" }))))
})

type Step = { readonly at: number; readonly duration: number; readonly outcome: "success" | "failure" | "die" | "interrupt" }

const stepArb: fc.Arbitrary<Step> = fc.record({
  at: fc.integer({ min: 0, max: 300 }).map((n) => n * 10),
  duration: fc.integer({ min: 0, max: 50 }).map((n) => n * 10),
  outcome: fc.constantFrom("success" as const, "failure" as const, "die" as const, "interrupt" as const)
})

describe("CircuitBreaker invariants", () => {
  it.scoped.prop(
    "random outcomes and interruptions: never more than halfOpenMaxCalls trials, never stuck half-open, never converted",
    {
      steps: fc.array(stepArb, { maxLength: 40, size: "max" }),
      maxFailures: fc.integer({ min: 1, max: 3 }),
      halfOpenMaxCalls: fc.integer({ min: 1, max: 3 })
    },
    ({ halfOpenMaxCalls, maxFailures, steps }) =>
      Effect.gen(function*() {
        const resetTimeout = 300
        const breaker = yield* make({ maxFailures, halfOpenMaxCalls, resetTimeout })
        const log = yield* Ref.make<Array<{ from: string; to: string; at: number }>>([])
        yield* Effect.forkScoped(Stream.runForEach(breaker.changes, (c) => Ref.update(log, (l) => [...l, c])))
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
        // calls that began running while the breaker was half-open: [start, end)
        const trials = yield* Ref.make<Array<readonly [number, number]>>([])
        const fibers = []
        for (const [i, step] of steps.entries()) {
          const outcome = step.outcome === "success"
            ? Effect.succeed(i)
            : step.outcome === "failure"
            ? failWith(i)
            : step.outcome === "die"
            ? Effect.die(i)
            : Effect.never
          const body = Effect.gen(function*() {
            const state = yield* breaker.state
            const start = yield* Clock.currentTimeMillis
            return yield* Effect.zipRight(Effect.sleep(Duration.millis(step.duration)), outcome).pipe(
              Effect.ensuring(
                state === "half-open"
                  ? Effect.flatMap(Clock.currentTimeMillis, (end) => Ref.update(trials, (l) => [...l, [start, end] as const]))
                  : Effect.void
              )
            )
          })
          const fiber = yield* Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(step.at)), breaker.protect(body)))
          if (step.outcome === "interrupt") {
            yield* Effect.fork(
              Effect.zipRight(Effect.sleep(Duration.millis(step.at + step.duration)), Fiber.interrupt(fiber))
            )
          }
          fibers.push([step, fiber] as const)
        }
        yield* TestClock.adjust("4 seconds")
        for (const [step, fiber] of fibers) {
          const exit = yield* Fiber.await(fiber)
          if (step.outcome === "interrupt") {
            // interrupted (or rejected before), never converted into anything else
            expect(Exit.isInterrupted(exit) || errorOf(exit) instanceof CircuitOpenError).toBe(true)
          } else if (step.outcome === "failure") {
            const e = errorOf(exit)
            expect(e instanceof Boom || e instanceof CircuitOpenError).toBe(true)
          }
        }
        // per half-open period, at most halfOpenMaxCalls trials ran at once
        const changes = yield* Ref.get(log)
        const recorded = yield* Ref.get(trials)
        for (const [k, c] of changes.entries()) {
          if (c.to !== "half-open") continue
          const end = changes[k + 1]?.at ?? Number.POSITIVE_INFINITY
          const events = recorded
            .filter(([s]) => s >= c.at && s < end)
            .flatMap(([s, e]) => [[s, 1], [e, -1]] as const)
            .sort((x, y) => x[0] - y[0] || x[1] - y[1])
          let running = 0
          for (const [, d] of events) {
            running += d
            expect(running).toBeLessThanOrEqual(halfOpenMaxCalls)
          }
        }
        // every call has ended: after resetTimeout, a call is admitted whatever the state was
        yield* TestClock.adjust(Duration.millis(resetTimeout))
        expect(yield* breaker.protect(Effect.succeed("probe"))).toBe("probe")
      }),
    { fastCheck: { numRuns: 30 } }
  )
})
