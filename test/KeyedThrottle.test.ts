import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Data,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Option,
  Scope,
  TestClock
} from "effect"
import * as KeyedThrottle from "../src/KeyedThrottle.js"
import { InvalidRateError } from "../src/Rate.js"
import { Throttle } from "../src/Throttle.js"

const now = Clock.currentTimeMillis

/** Lets the sweeper (and any woken fiber) run before an assertion; the clock does not move. */
const settle = Effect.repeatN(Effect.yieldNow(), 5)

/** Moves the TestClock to exactly `t` ms (it must not be behind). */
const at = (t: number) =>
  Effect.gen(function*() {
    const current = yield* now
    if (t > current) yield* TestClock.adjust(Duration.millis(t - current))
    yield* settle
  })

const size = (keyed: KeyedThrottle.KeyedThrottle<any, any>) => keyed.size

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? Option.match(Cause.dieOption(exit.cause), { onNone: () => undefined, onSome: (d) => (d as Error).message })
    : undefined

/** Runs one `withPermit(key)` per entry of `keys`, all at once; returns each one's start time, by index. */
const starts = <K>(keyed: KeyedThrottle.KeyedThrottle<K, any>, keys: ReadonlyArray<K>) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const fiber = yield* Effect.fork(Effect.forEach(
      keys,
      (key, i) => keyed.withPermit(key)(Effect.flatMap(now, (t) => Effect.sync(() => (times[i] = t)))),
      { concurrency: "unbounded", discard: true }
    ))
    yield* TestClock.adjust("1 minute")
    yield* Fiber.join(fiber)
    return times
  })

describe("KeyedThrottle lifetime", () => {
  it.scoped("a key is dropped exactly idleTimeToLive after its last window expiry", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "10 seconds" })
      yield* keyed.withPermit("a")(Effect.void)
      expect(yield* size(keyed)).toBe(1)
      // Granted at 0, its slot expires at 1000: idle from 1000, dropped at 11 000.
      yield* at(10_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(11_000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a key is dropped on a clock that moves between two reads (the live clock's sub-millisecond time)", () =>
    Effect.gen(function*() {
      // the TestClock, plus 1 µs more at every read: no two reads in one step agree, as on the live clock
      const test = yield* Effect.clock
      let reads = 0n
      const nanos = () => test.unsafeCurrentTimeNanos() + ++reads * 1000n
      const drifting: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeNanos: nanos,
        unsafeCurrentTimeMillis: () => Number(nanos() / 1_000_000n),
        currentTimeNanos: Effect.sync(nanos),
        currentTimeMillis: Effect.sync(() => Number(nanos() / 1_000_000n)),
        sleep: (duration) => test.sleep(duration)
      }
      const keyed = yield* Effect.withClock(KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "10 seconds" }), drifting)
      yield* keyed.withPermit("a")(Effect.void)
      expect(yield* size(keyed)).toBe(1)
      // idle from 1000 (its slot's expiry), dropped at 11 000 (plus the few µs the reads added)
      yield* at(10_990)
      expect(yield* size(keyed)).toBe(1)
      yield* at(11_001)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a key is kept while its task is in flight, whatever the time to live", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "10 seconds" })
      const task = yield* Effect.fork(keyed.withPermit("a")(Effect.sleep("30 seconds")))
      yield* at(29_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(30_000)
      yield* Fiber.join(task)
      // Released at 30 000 (its window emptied at 1000): dropped at 40 000.
      yield* at(39_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(40_000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a key is kept while callers wait for it", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/10s", idleTimeToLive: 0 })
      const times = yield* Effect.fork(starts(keyed, ["a", "a", "a"]))
      yield* at(19_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(60_000)
      expect(yield* Fiber.join(times)).toEqual([0, 10_000, 20_000])
      // Last grant at 20 000, its slot expires at 30 000; time to live 0: dropped then.
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("measure: \"release\" keeps the key until period after the release", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({
        rate: "1/s",
        options: { measure: "release" },
        idleTimeToLive: "5 seconds"
      })
      const task = yield* Effect.fork(keyed.withPermit("a")(Effect.sleep("2 seconds")))
      yield* at(2000)
      yield* Fiber.join(task)
      // Released at 2000, slot freed at 3000: dropped at 8000.
      yield* at(7999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(8000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("smooth spacing: the key is kept until its schedule has caught up", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "2/s", options: { smooth: true }, idleTimeToLive: 0 })
      yield* keyed.withPermit("a")(Effect.void)
      // Granted at 0; its slot expires at 1000 (the next smooth grant was due at 500).
      yield* at(999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(1000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a use before the drop keeps the key's state (it is not reset)", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "2/10s", idleTimeToLive: "1 second" })
      yield* keyed.withPermit("a")(Effect.void)
      // At 5 s the key is still live (its slot holds until 10 s): one more grant now, then the third waits.
      yield* at(5000)
      expect(yield* size(keyed)).toBe(1)
      const times = yield* Effect.fork(Effect.forEach(["a", "a"], (key) => keyed.withPermit(key)(now)))
      yield* at(10_000)
      expect(yield* Fiber.join(times)).toEqual([5000, 10_000])
    }))

  it.scoped("a dropped key starts afresh: no grant is forgotten before its window emptied", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: 0 })
      const times = yield* starts(keyed, ["a", "a", "a"])
      expect(times).toEqual([0, 1000, 2000])
      expect(yield* size(keyed)).toBe(0)
      const t = yield* now
      const again = yield* starts(keyed, ["a", "a"])
      expect(again).toEqual([t, t + 1000])
    }))

  it.scoped("an infinite time to live keeps every key", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: Duration.infinity })
      yield* starts(keyed, ["a", "b"])
      yield* at(1_000_000_000)
      expect(yield* size(keyed)).toBe(2)
    }))

  it.scoped("get keeps the entry while its scope is open", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "10 seconds" })
      const scope = yield* Scope.make()
      const service = yield* Scope.extend(keyed.get("a"), scope)
      expect(Throttle.prototype === undefined || service.rate.limit === 1).toBe(true)
      expect(yield* service.tryAcquire()).toBe(true)
      yield* service.release()
      yield* at(100_000)
      expect(yield* size(keyed)).toBe(1)
      // The handle is the live key's throttle: its window is shared with withPermit("a").
      yield* service.acquire()
      const t = yield* Effect.fork(Effect.zipRight(keyed.withPermit("a")(Effect.void), now))
      yield* at(101_000)
      expect(yield* Fiber.join(t)).toBe(101_000)
      yield* service.release()
      yield* Scope.close(scope, Exit.void)
      // Last slot (withPermit at 101 000) expires at 102 000: dropped at 112 000.
      yield* at(111_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(112_000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("100 000 distinct keys: memory bounded by the keys in use, size back to 0 after the idle time", () =>
    Effect.gen(function*() {
      // Metrics off: each key's throttle then costs less to build (the keyed map is what is tested here).
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", options: { metrics: false }, idleTimeToLive: "1 second" })
      // 100 waves of 1 000 new keys, one wave per second. Wave w runs at w s; its slots expire at w + 1 s and its
      // keys are dropped at w + 2 s: after each wave, only it and the wave before are live.
      const waves = 100
      const perWave = 1000
      const sizes = new Set<number>()
      for (let wave = 0; wave < waves; wave++) {
        yield* Effect.forEach(
          Array.from({ length: perWave }, (_, i) => wave * perWave + i),
          (key) => keyed.withPermit(key)(Effect.void),
          { discard: true }
        )
        yield* settle
        sizes.add(yield* size(keyed))
        yield* TestClock.adjust("1 second")
      }
      expect([...sizes]).toEqual(wave0And(perWave))
      // The last wave ran at 99 s: dropped at 101 s.
      yield* at(100_999)
      expect(yield* size(keyed)).toBe(perWave)
      yield* at(101_000)
      expect(yield* size(keyed)).toBe(0)
    }), 120_000)
})

/** The live counts seen after each wave: 1 000 after the first, 2 000 after every later one. */
const wave0And = (perWave: number) => [perWave, 2 * perWave]

describe("KeyedThrottle keys", () => {
  it.scoped("keys are independent", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s" })
      expect(yield* starts(keyed, ["a", "b", "a", "c", "b", "a"])).toEqual([0, 0, 1000, 0, 1000, 2000])
    }))

  it.scoped("a rate function gives each key its own rate, asked once per creation", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const keyed = yield* KeyedThrottle.make({
        rate: (key: string) => {
          asked.push(key)
          return key === "fast" ? "3/s" : "1/s"
        },
        idleTimeToLive: 0
      })
      expect(yield* starts(keyed, ["fast", "slow", "fast", "slow", "fast", "fast"])).toEqual([
        0,
        0,
        0,
        1000,
        0,
        1000
      ])
      expect(asked).toEqual(["fast", "slow"])
      yield* keyed.withPermit("fast")(Effect.void)
      expect(asked).toEqual(["fast", "slow", "fast"])
    }))

  it.scoped("Data keys compare by value", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s" })
      const key = (tenant: string) => Data.struct({ tenant, region: "eu" })
      expect(yield* starts(keyed, [key("x"), key("x"), key("y")])).toEqual([0, 1000, 0])
      expect(yield* size(keyed)).toBe(2)
    }))

  it.scoped("numbers and strings are different keys", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s" })
      expect(yield* starts(keyed, [1, "1", 1])).toEqual([0, 0, 1000])
    }))

  it.scoped("a bad rate for one key fails that call with InvalidRateError; other keys are unaffected", () =>
    Effect.gen(function*() {
      let calls = 0
      const keyed = yield* KeyedThrottle.make({
        rate: (key: string): string => {
          calls++
          return key === "bad" ? "3/fortnight" : "2/s"
        }
      })
      const error = yield* Effect.flip(keyed.withPermit("bad")(Effect.void))
      expect(error).toBeInstanceOf(InvalidRateError)
      expect(error.input).toBe("3/fortnight")
      expect(error.message).toContain("\"bad\"")
      expect(yield* size(keyed)).toBe(0)
      expect(yield* starts(keyed, ["good", "good", "good"])).toEqual([0, 0, 1000])
      // Asked again on the next use of the bad key (nothing is cached for it).
      const before = calls
      expect((yield* Effect.flip(keyed.attempt("bad")))._tag).toBe("InvalidRateError")
      expect(calls).toBe(before + 1)
      expect(yield* size(keyed)).toBe(1)
    }))

  it.scoped("a rate function that throws is a defect naming the key", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({
        rate: (key: { readonly id: number }) => {
          if (key.id === 7) throw new Error("no quota configured")
          return "1/s"
        }
      })
      const exit = yield* Effect.exit(keyed.withPermit({ id: 7 })(Effect.void))
      expect(defectMessage(exit)).toBe("KeyedThrottle: the rate function threw for key {\"id\":7}: no quota configured")
      yield* keyed.withPermit({ id: 8 })(Effect.void)
      expect(yield* size(keyed)).toBe(1)
    }))

  it.scoped("a bad constant rate fails make with InvalidRateError", () =>
    Effect.gen(function*() {
      const input: string = "1/x"
      const error = yield* Effect.flip(KeyedThrottle.make({ rate: input }))
      expect(error._tag).toBe("InvalidRateError")
    }))

  it.effect("invalid options are defects of make", () =>
    Effect.gen(function*() {
      const ttl = yield* Effect.exit(Effect.scoped(KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "soon" as any })))
      expect(defectMessage(ttl)).toBe("Expected idleTimeToLive to be a duration >= 0, got \"soon\"")
      const options = yield* Effect.exit(
        Effect.scoped(KeyedThrottle.make({ rate: "1/s", options: { maxConcurrent: 0 } }))
      )
      expect(defectMessage(options)).toContain("maxConcurrent")
      const missing = yield* Effect.exit(Effect.scoped(KeyedThrottle.make(undefined as any)))
      expect(defectMessage(missing)).toBe("Expected KeyedThrottle options to be an object with a rate, got undefined")
    }))

  it.scoped("every key's throttle gets the options", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "100/s", options: { maxConcurrent: 1 } })
      const times = yield* Effect.fork(Effect.forEach(
        ["a", "a", "b"],
        (key) => keyed.withPermit(key)(Effect.zipLeft(now, Effect.sleep("300 millis"))),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(times)).toEqual([0, 300, 0])
    }))

  it.scoped("withPermits counts weights per key", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "3/s" })
      const times = yield* Effect.fork(Effect.forEach(
        [2, 2, 1],
        (n) => keyed.withPermits("a", n)(now),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(times)).toEqual([0, 1000, 1000])
    }))

  it.effect("the brand", () =>
    Effect.gen(function*() {
      const keyed = yield* Effect.scoped(KeyedThrottle.make({ rate: "1/s" }))
      expect(KeyedThrottle.isKeyedThrottle(keyed)).toBe(true)
      expect(KeyedThrottle.isKeyedThrottle({})).toBe(false)
      expect(KeyedThrottle.isKeyedThrottle(null)).toBe(false)
      expect(keyed[KeyedThrottle.TypeId]).toBe(KeyedThrottle.TypeId)
      expect(Duration.toMillis(keyed.idleTimeToLive)).toBe(60_000)
    }))
})

describe("KeyedThrottle decisions, pauses, deadlines", () => {
  it.scoped("attempt decides per key; granted permits keep the key until released", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "2/s", idleTimeToLive: "10 seconds" })
      const first = yield* keyed.attempt("a")
      expect(first.granted).toBe(true)
      expect(first.remaining).toBe(1)
      expect((yield* keyed.attempt("a")).granted).toBe(true)
      const refused = yield* keyed.attempt("a")
      expect(refused.granted).toBe(false)
      expect(Duration.toMillis(refused.retryAfter)).toBe(1000)
      expect((yield* keyed.attempt("b")).granted).toBe(true)
      yield* keyed.release("b")
      // "a" holds two permits in flight: kept however long; "b" was released at 0: dropped at 11 000.
      yield* at(11_000)
      expect(yield* size(keyed)).toBe(1)
      yield* at(50_000)
      expect(yield* size(keyed)).toBe(1)
      yield* keyed.release("a", 2)
      yield* at(59_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(60_000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("release of more than a key holds fails with ThrottleReleaseError, and creates nothing", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "2/s" })
      const unknown = yield* Effect.flip(keyed.release("nobody"))
      expect(unknown._tag).toBe("ThrottleReleaseError")
      expect(unknown.inFlight).toBe(0)
      expect(yield* size(keyed)).toBe(0)
      yield* keyed.attempt("a")
      const tooMany = yield* Effect.flip(keyed.release("a", 2))
      expect([tooMany.requested, tooMany.inFlight]).toEqual([2, 1])
      const exit = yield* Effect.exit(keyed.release("nobody", 0))
      expect(defectMessage(exit)).toBe("Expected permits to be an integer >= 1, got 0")
    }))

  it.scoped("pause holds back one key only, and keeps it until the pause is over", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "10/s", idleTimeToLive: 0 })
      yield* keyed.pause("a", "5 seconds")
      const times = yield* Effect.fork(Effect.forEach(["a", "b"], (key) => keyed.withPermit(key)(now), {
        concurrency: "unbounded"
      }))
      yield* at(5000)
      expect(yield* Fiber.join(times)).toEqual([5000, 0])
      // "a" granted at 5000, its slot expires at 6000; "b" was dropped at 1000.
      yield* at(5999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(6000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a paused key with nothing else going on is kept until its pause ends", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "10/s", idleTimeToLive: "1 second" })
      yield* keyed.pause("a", "1 minute")
      yield* at(60_999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(61_000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("maxWait applies per key", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s" })
      yield* keyed.withPermit("a")(Effect.void)
      const error = yield* Effect.flip(keyed.withPermit("a", { maxWait: "100 millis" })(Effect.void))
      expect(error._tag).toBe("ThrottleTimeoutError")
      const other = yield* keyed.withPermits("b", 1, { maxWait: "100 millis" })(Effect.succeed("ok"))
      expect(other).toBe("ok")
    }))
})

describe("KeyedThrottle interruption", () => {
  it.scoped("a waiter interrupted before its grant leaves no trace, and the key is dropped on time", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "1/s", idleTimeToLive: "2 seconds" })
      yield* keyed.withPermit("a")(Effect.void)
      const waiter = yield* Effect.fork(keyed.withPermit("a")(Effect.void))
      yield* at(500)
      yield* Fiber.interrupt(waiter)
      // Nothing of the interrupted waiter counts: the slot of the grant at 0 expires at 1000, drop at 3000.
      yield* at(2999)
      expect(yield* size(keyed)).toBe(1)
      yield* at(3000)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("a task interrupted while running releases its permit and lets go of the key", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottle.make({ rate: "10/s", options: { maxConcurrent: 1 }, idleTimeToLive: 0 })
      const running = yield* Effect.fork(keyed.withPermit("a")(Effect.never))
      yield* settle
      const next = yield* Effect.fork(Effect.zipRight(keyed.withPermit("a")(Effect.void), now))
      yield* at(200)
      yield* Fiber.interrupt(running)
      expect(yield* Fiber.join(next)).toBe(200)
      yield* at(1199)
      expect(yield* size(keyed)).toBe(1)
      yield* at(1200)
      expect(yield* size(keyed)).toBe(0)
    }))

  it.scoped("closing the keyed throttle's scope interrupts the waiters of every key", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const keyed = yield* Scope.extend(KeyedThrottle.make({ rate: "1/min" }), scope)
      yield* keyed.withPermit("a")(Effect.void)
      yield* keyed.withPermit("b")(Effect.void)
      const waiters = yield* Effect.forEach(["a", "b"], (key) => Effect.fork(keyed.withPermit(key)(Effect.void)))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      for (const waiter of waiters) expect(Exit.isInterrupted(yield* Fiber.await(waiter))).toBe(true)
      expect(yield* size(keyed)).toBe(0)
      expect(Exit.isInterrupted(yield* Effect.exit(keyed.withPermit("c")(Effect.void)))).toBe(true)
    }))

  it.scoped.prop(
    "random arrivals, tasks and interruptions over few keys never exceed a key's window, even across drops",
    [
      fc.array(
        fc.record({
          key: fc.constantFrom("a", "b", "c"),
          delay: fc.integer({ min: 0, max: 3000 }),
          work: fc.integer({ min: 0, max: 1500 }),
          interruptAfter: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined })
        }),
        { minLength: 1, maxLength: 25 }
      ),
      fc.constantFrom(0, 1, 700)
    ],
    ([calls, ttl]) =>
      Effect.gen(function*() {
        const keyed = yield* KeyedThrottle.make({ rate: "2/s", idleTimeToLive: Duration.millis(ttl) })
        const grants: Record<string, Array<number>> = { a: [], b: [], c: [] }
        const fibers = yield* Effect.forEach(calls, (call) =>
          Effect.fork(
            Effect.zipRight(
              Effect.sleep(Duration.millis(call.delay)),
              keyed.withPermit(call.key)(
                Effect.zipRight(
                  Effect.flatMap(now, (t) => Effect.sync(() => grants[call.key]?.push(t))),
                  Effect.sleep(Duration.millis(call.work))
                )
              )
            )
          ))
        yield* Effect.forEach(calls, (call, i) =>
          call.interruptAfter === undefined
            ? Effect.void
            : Effect.fork(Effect.zipRight(
              Effect.sleep(Duration.millis(call.interruptAfter)),
              Fiber.interrupt(fibers[i] as Fiber.RuntimeFiber<void>)
            )))
        yield* TestClock.adjust("1 minute")
        yield* Effect.forEach(fibers, Fiber.await)
        for (const times of Object.values(grants)) {
          times.sort((x, y) => x - y)
          for (let i = 0; i + 2 < times.length; i++) {
            expect((times[i + 2] as number) - (times[i] as number)).toBeGreaterThanOrEqual(1000)
          }
        }
        yield* settle
        expect(yield* size(keyed)).toBe(0)
      }),
    { fastCheck: { numRuns: 60 } }
  )
})

describe("KeyedThrottle types", () => {
  it("a rate function's parameter gives the key type; a string result keeps InvalidRateError", () => {
    const checked = KeyedThrottle.make({ rate: (host: string) => (host === "a" ? "10/s" : "1/s") })
    expectTypeOf(checked).toEqualTypeOf<Effect.Effect<KeyedThrottle.KeyedThrottle<string, never>, never, Scope.Scope>>()
    const dynamic = KeyedThrottle.make({ rate: (id: number): string => `${id}/s` })
    expectTypeOf(dynamic).toEqualTypeOf<
      Effect.Effect<KeyedThrottle.KeyedThrottle<number, InvalidRateError>, never, Scope.Scope>
    >()
    const constant = KeyedThrottle.make({ rate: "3/s" })
    expectTypeOf(constant).toEqualTypeOf<Effect.Effect<KeyedThrottle.KeyedThrottle<unknown, never>, never, Scope.Scope>>()
    const fromConfig: string = "3/s"
    const configured = KeyedThrottle.make({ rate: fromConfig })
    expectTypeOf(configured).toEqualTypeOf<
      Effect.Effect<KeyedThrottle.KeyedThrottle<unknown, never>, InvalidRateError, Scope.Scope>
    >()
    const tiers = KeyedThrottle.make({ rate: (token: string) => (token === "" ? ["1/s"] : ["4/s", "60/min"]) })
    expectTypeOf(tiers).toEqualTypeOf<Effect.Effect<KeyedThrottle.KeyedThrottle<string, never>, never, Scope.Scope>>()
    const computed = KeyedThrottle.make({ rate: (n: number) => ({ limit: n, period: "1 second" }) })
    expectTypeOf(computed).toEqualTypeOf<
      Effect.Effect<KeyedThrottle.KeyedThrottle<number, InvalidRateError>, never, Scope.Scope>
    >()
    const withPermit = (k: KeyedThrottle.KeyedThrottle<string, InvalidRateError>) =>
      k.withPermit("a")(Effect.succeed(1 as const))
    expectTypeOf(withPermit).returns.toEqualTypeOf<Effect.Effect<1, InvalidRateError, never>>()
  })
})
