import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { LockNotHeldError, releasing } from "../src/Releasing.js"
import * as Data from "effect/Data"
import { Throttle } from "../src/Throttle.js"
import * as ThrottleModule from "../src/Throttle.js"

class StoreDown extends Data.TaggedError("StoreDown")<{}> {}

/**
 * A Throttle of another backend, built with `makeWith` over an in-memory one: its permits are the inner one's, and
 * `acquire` fails with a typed error once `down` is set.
 */
const otherBackend = (inner: Throttle.Service, down: { value: boolean }): Throttle.Service<StoreDown> =>
  ThrottleModule.makeWith<StoreDown>({
    name: "other",
    rates: inner.rates,
    measure: inner.measure,
    burst: inner.burst,
    maxConcurrent: inner.maxConcurrent,
    acquire: (n) => down.value ? Effect.fail(new StoreDown()) : inner.acquire(n),
    release: (n) => inner.release(n),
    tryAcquire: (n) => inner.tryAcquire(n),
    attempt: (n) => inner.attempt(n),
    pause: (d) => inner.pause(d),
    stats: inner.stats
  })

/** Whether a permit of `sem` is free right now (takes and gives it back at once). */
const isFree = (sem: Effect.Semaphore) => Effect.map(sem.withPermitsIfAvailable(1)(Effect.void), Option.isSome)

describe("Releasing", () => {
  describe("on a Semaphore", () => {
    it.effect("the lock is released inside and held again after (the seed's scenario)", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(1)
        const seen = yield* sem.withPermits(1)(
          Effect.gen(function*() {
            const before = yield* isFree(sem)
            const inside = yield* releasing(sem)(isFree(sem))
            const after = yield* isFree(sem)
            return { before, inside, after }
          })
        )
        expect(seen).toEqual({ before: false, inside: true, after: false })
        expect(yield* isFree(sem)).toBe(true)
      }))

    it.effect("nested: each level gives back the permit taken at that level", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(1)
        const trace: Array<string> = []
        const note = (label: string) => Effect.map(isFree(sem), (free) => trace.push(`${label}:${free ? "free" : "held"}`))
        yield* sem.withPermits(1)(
          Effect.all([
            note("outer"),
            releasing(sem)(Effect.all([
              note("released"),
              sem.withPermits(1)(Effect.all([note("inner"), releasing(sem)(note("inner released")), note("inner again")])),
              note("released again")
            ])),
            note("outer again")
          ])
        )
        expect(trace).toEqual([
          "outer:held",
          "released:free",
          "inner:held",
          "inner released:free",
          "inner again:held",
          "released again:free",
          "outer again:held"
        ])
      }))

    it.effect("lets another fiber in meanwhile, and waits for it to finish before going on", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(1)
        const times: Array<[string, number]> = []
        const mark = (label: string) => Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => times.push([label, t])))
        const other = yield* Deferred.make<Fiber.RuntimeFiber<void>>()
        const main = yield* Effect.fork(sem.withPermits(1)(
          Effect.gen(function*() {
            yield* mark("main holds")
            yield* releasing(sem)(Effect.gen(function*() {
              // Another fiber takes the lock for 1 s while we do not need it.
              const fiber = yield* Effect.fork(sem.withPermits(1)(Effect.zipRight(mark("other holds"), Effect.sleep("1 second"))))
              yield* Deferred.succeed(other, fiber)
              yield* Effect.sleep("200 millis")
              yield* mark("main's released part done")
            }))
            yield* mark("main holds again")
          })
        ))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(main)
        yield* Fiber.join(yield* Deferred.await(other))
        expect(times).toEqual([
          ["main holds", 0],
          ["other holds", 0],
          ["main's released part done", 200],
          ["main holds again", 1000]
        ])
      }))

    it.effect("re-takes the permit after failure and defect", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(1)
        const afterFailure = yield* sem.withPermits(1)(
          Effect.zipRight(Effect.either(releasing(sem)(Effect.fail("boom"))), isFree(sem))
        )
        const afterDefect = yield* sem.withPermits(1)(
          Effect.zipRight(Effect.exit(releasing(sem)(Effect.die("bad"))), isFree(sem))
        )
        expect([afterFailure, afterDefect]).toEqual([false, false])
        expect(yield* isFree(sem)).toBe(true)
      }))

    it.effect("interrupted inside: re-takes the permit (waiting for it) before the fiber ends", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(1)
        const inside = yield* Deferred.make<void>()
        const victim = yield* Effect.fork(sem.withPermits(1)(releasing(sem)(Effect.zipRight(Deferred.succeed(inside, void 0), Effect.never))))
        yield* Deferred.await(inside)
        // Someone else holds the lock until t = 500 ms when the victim is interrupted at t = 0.
        const holder = yield* Effect.fork(sem.withPermits(1)(Effect.sleep("500 millis")))
        yield* Effect.yieldNow()
        const interrupter = yield* Effect.fork(Effect.zipRight(Fiber.interrupt(victim), Clock.currentTimeMillis))
        yield* TestClock.adjust("499 millis")
        expect(Option.isNone(yield* Fiber.poll(victim))).toBe(true)
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(interrupter)).toBe(500)
        yield* Fiber.join(holder)
        expect(Exit.isInterrupted(yield* Fiber.await(victim))).toBe(true)
        // Every permit is back: exactly one is free.
        expect(yield* isFree(sem)).toBe(true)
        expect(yield* sem.withPermitsIfAvailable(1)(isFree(sem))).toEqual(Option.some(false))
      }))

    it.effect("gives back and re-takes `permits` permits", () =>
      Effect.gen(function*() {
        const sem = yield* Effect.makeSemaphore(3)
        const free = (n: number) => Effect.map(sem.withPermitsIfAvailable(n)(Effect.void), Option.isSome)
        const seen = yield* sem.withPermits(3)(Effect.all([releasing(sem, 2)(Effect.all([free(2), free(3)])), free(1)]))
        expect(seen).toEqual([[true, false], false])
      }))

    it("has no LockNotHeldError in its type", () => {
      const sem = Effect.unsafeMakeSemaphore(1)
      expectTypeOf(releasing(sem)(Effect.succeed(1))).toEqualTypeOf<Effect.Effect<number>>()
    })
  })

  describe("on a Throttle", () => {
    it.scoped("gives back an in-flight permit and takes it again", () =>
      Effect.gen(function*() {
        const throttle = yield* Throttle.make("10/s", { maxConcurrent: 1 })
        const inFlight = Effect.map(throttle.stats, (s) => s.inFlight)
        const seen = yield* throttle.withPermit(
          Effect.all([
            inFlight,
            releasing(throttle)(Effect.all([inFlight, throttle.tryAcquire(), inFlight, throttle.release()])),
            inFlight
          ])
        )
        // Inside, the permit is free: another acquire can get it (maxConcurrent is 1).
        expect(seen).toEqual([1, [0, true, 1, undefined], 1])
        expect(yield* inFlight).toBe(0)
      }))

    it.scoped("the re-take waits its turn, on the virtual clock", () =>
      Effect.gen(function*() {
        const throttle = yield* Throttle.make("10/s", { maxConcurrent: 1 })
        const main = yield* Effect.fork(throttle.withPermit(
          Effect.zipRight(
            releasing(throttle)(Effect.gen(function*() {
              // Another fiber takes the permit for 300 ms while this one does not need it.
              const taken = yield* Deferred.make<void>()
              yield* Effect.fork(throttle.withPermit(Effect.zipRight(Deferred.succeed(taken, void 0), Effect.sleep("300 millis"))))
              yield* Deferred.await(taken)
            })),
            Clock.currentTimeMillis
          )
        ))
        yield* TestClock.adjust("299 millis")
        expect(Option.isNone(yield* Fiber.poll(main))).toBe(true)
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(main)).toBe(300)
      }))

    it.scoped("with nothing in flight fails with LockNotHeldError and does not run self", () =>
      Effect.gen(function*() {
        const throttle = yield* Throttle.make("10/s")
        let ran = false
        const error = yield* Effect.flip(releasing(throttle)(Effect.sync(() => {
          ran = true
        })))
        expect(ran).toBe(false)
        expect(error).toEqual(new LockNotHeldError({ permits: 1, inFlight: 0 }))
        expect(error.message).toBe("Cannot release 1 permit(s) of a lock that is not held: 0 in flight")
        expect((yield* throttle.stats).inFlight).toBe(0)
        // Asking for more than is in flight is refused too, and leaves the permit in place.
        yield* throttle.acquire()
        expect(yield* Effect.flip(releasing(throttle, 2)(Effect.void))).toEqual(
          new LockNotHeldError({ permits: 2, inFlight: 1 })
        )
        expect((yield* throttle.stats).inFlight).toBe(1)
      }))

    it.scoped("nested: the inner releasing has nothing left to give back", () =>
      Effect.gen(function*() {
        const throttle = yield* Throttle.make("10/s")
        const result = yield* throttle.withPermit(releasing(throttle)(Effect.flip(releasing(throttle)(Effect.void))))
        expect(result._tag).toBe("LockNotHeldError")
        expect((yield* throttle.stats).inFlight).toBe(0)
      }))

    it.scoped("re-acquires after failure, defect and interruption", () =>
      Effect.gen(function*() {
        const throttle = yield* Throttle.make("100/s")
        const inFlight = Effect.map(throttle.stats, (s) => s.inFlight)
        yield* throttle.acquire()
        yield* Effect.either(releasing(throttle)(Effect.fail("boom")))
        expect(yield* inFlight).toBe(1)
        yield* Effect.exit(releasing(throttle)(Effect.die("bad")))
        expect(yield* inFlight).toBe(1)
        const inside = yield* Deferred.make<number>()
        const fiber = yield* Effect.fork(releasing(throttle)(Effect.zipRight(Effect.flatMap(inFlight, (n) => Deferred.succeed(inside, n)), Effect.never)))
        expect(yield* Deferred.await(inside)).toBe(0)
        yield* Fiber.interrupt(fiber)
        expect(yield* inFlight).toBe(1)
        yield* throttle.release()
      }))

    it.scoped("a Throttle of another backend is recognised by its brand; its typed errors pass through", () =>
      Effect.gen(function*() {
        const inner = yield* Throttle.make("10/s", { maxConcurrent: 1 })
        const down = { value: false }
        const other = otherBackend(inner, down)
        const inFlight = Effect.map(inner.stats, (s) => s.inFlight)
        // Not held: the release check of the backend answers.
        const notHeld = yield* Effect.flip(releasing(other)(Effect.void))
        expect(notHeld).toEqual(new LockNotHeldError({ permits: 1, inFlight: 0 }))
        // Held: given back inside, taken again after.
        const inside = yield* other.withPermit(releasing(other)(inFlight))
        expect(inside).toBe(0)
        expect(yield* inFlight).toBe(0)
        // The store fails while the permit is given back: the typed error is the result, `self` ran.
        yield* other.acquire()
        let ran = false
        const failed = yield* Effect.flip(releasing(other)(Effect.sync(() => {
          ran = true
          down.value = true
        })))
        expect(ran).toBe(true)
        expect(failed).toBeInstanceOf(StoreDown)
        expect(yield* inFlight).toBe(0)
        expectTypeOf(releasing(other)(Effect.succeed(1))).toEqualTypeOf<
          Effect.Effect<number, StoreDown | LockNotHeldError>
        >()
      }))

    it.effect("a lock that is neither a Throttle nor a Semaphore is a defect", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(releasing({ acquire: 1 } as unknown as Effect.Semaphore)(Effect.void))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(
          `Expected lock to be a Throttle service or an Effect Semaphore, got {"acquire":1}`
        )
      }))

    it("types: a Throttle adds LockNotHeldError", () => {
      const f = (t: Throttle.Service) => releasing(t)(Effect.succeed(1))
      expectTypeOf(f).returns.toEqualTypeOf<Effect.Effect<number, LockNotHeldError>>()
    })
  })

  it.effect.each([0, -1, 1.5])("permits %s is a defect", (permits) =>
    Effect.gen(function*() {
      const sem = yield* Effect.makeSemaphore(1)
      const exit = yield* Effect.exit(releasing(sem, permits)(Effect.void))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(
        `Expected permits to be an integer >= 1, got ${permits}`
      )
    }))
})
