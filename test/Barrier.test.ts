import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as Metric from "effect/Metric"
import * as BarrierModule from "../src/Barrier.js"
import { Barrier, BarrierBrokenError, BarrierTimeoutError } from "../src/Barrier.js"

/** Forks `self` and lets it run until it parks, so arrivals happen in program order. */
const forkNow = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.zipLeft(Effect.fork(self), Effect.yieldNow())

/** Runs `self` and records its outcome together with the virtual time at which it ended. */
const timed = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.zip(Effect.either(self), Clock.currentTimeMillis)

const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

describe("Barrier", () => {
  it.effect("the worked example: parties 3 with 1, 3, 5", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 3 })
      const a = yield* forkNow(barrier.wait(1))
      const b = yield* forkNow(barrier.wait(3))
      expect(yield* barrier.waiting).toBe(2)
      expect(yield* barrier.remaining).toBe(1)
      expect(yield* isDone(a)).toBe(false)
      const c = yield* barrier.wait(5)
      const ra = yield* Fiber.join(a)
      const rb = yield* Fiber.join(b)
      expect([ra.position, rb.position, c.position]).toEqual([0, 1, 2])
      expect(ra.states).toEqual([1, 3, 5])
      expect(rb.states).toEqual([1, 3, 5])
      expect(c.states).toEqual([1, 3, 5])
      expect(yield* barrier.waiting).toBe(0)
      expect(yield* barrier.remaining).toBe(3)
      expect(yield* barrier.broken).toBe(false)
    }))

  it.effect("the states array is a frozen snapshot", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 2 })
      const a = yield* forkNow(barrier.wait(1))
      const b = yield* barrier.wait(2)
      const ra = yield* Fiber.join(a)
      expect(Object.isFrozen(b.states)).toBe(true)
      expect(() => (b.states as Array<number>).push(3)).toThrow(TypeError)
      expect(ra.states).toEqual([1, 2])
      // The next generation does not touch the previous snapshot.
      yield* forkNow(barrier.wait(10))
      yield* barrier.wait(20)
      expect(b.states).toEqual([1, 2])
    }))

  it.effect("parties 1 releases every wait at once", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<string>({ parties: 1 })
      expect(yield* barrier.wait("x")).toEqual({ position: 0, states: ["x"] })
      expect(yield* barrier.wait()).toEqual({ position: 0, states: [] })
    }))

  it.effect("initialState only in the first generation; maxState keeps the last N; undefined is not recorded", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 3, initialState: [0], maxState: 3 })
      yield* forkNow(barrier.wait(1))
      yield* forkNow(barrier.wait(undefined))
      const first = yield* barrier.wait(2)
      expect(first.states).toEqual([0, 1, 2])
      yield* forkNow(barrier.wait(3))
      yield* forkNow(barrier.wait(4))
      const second = yield* barrier.wait(5)
      expect(second.states).toEqual([3, 4, 5])
      const small = yield* Barrier.make<number>({ parties: 3, maxState: 2 })
      yield* forkNow(small.wait(1))
      yield* forkNow(small.wait(3))
      expect((yield* small.wait(5)).states).toEqual([3, 5])
    }))

  it.effect("cyclic (default) starts a new generation after each trip", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<string>({ parties: 2 })
      for (const round of ["a", "b", "c"]) {
        const first = yield* forkNow(barrier.wait(`${round}1`))
        const second = yield* barrier.wait(`${round}2`)
        expect(second).toEqual({ position: 1, states: [`${round}1`, `${round}2`] })
        expect((yield* Fiber.join(first)).position).toBe(0)
      }
      expect(yield* barrier.broken).toBe(false)
    }))

  it.effect("cyclic: false trips once, then is broken until reset", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 2, cyclic: false, name: "once" })
      yield* forkNow(barrier.wait(1))
      expect((yield* barrier.wait(2)).states).toEqual([1, 2])
      expect(yield* barrier.broken).toBe(true)
      const later = yield* Effect.flip(barrier.wait(3))
      expect(later).toEqual(new BarrierBrokenError({ key: "once", reason: "tripped" }))
      expect(later.message).toBe("Barrier \"once\" is broken: it is one-shot (cyclic: false) and has already tripped")
      yield* barrier.reset
      expect(yield* barrier.broken).toBe(false)
      yield* forkNow(barrier.wait(4))
      expect((yield* barrier.wait(5)).states).toEqual([4, 5])
    }))

  it.effect("abort fails every current waiter and every later wait until reset", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 3, name: "phase" })
      const a = yield* forkNow(barrier.wait(1))
      const b = yield* forkNow(barrier.wait(2))
      yield* barrier.abort
      const expected = new BarrierBrokenError({ key: "phase", reason: "aborted" })
      expect(yield* Fiber.await(a)).toEqual(Exit.fail(expected))
      expect(yield* Fiber.await(b)).toEqual(Exit.fail(expected))
      expect(yield* barrier.broken).toBe(true)
      expect(yield* barrier.waiting).toBe(0)
      expect(yield* Effect.flip(barrier.wait(3))).toEqual(expected)
      expect(expected.message).toBe("Barrier \"phase\" is broken: it was aborted")
      yield* barrier.abort // idempotent
      yield* barrier.reset
      yield* forkNow(barrier.wait(4))
      yield* forkNow(barrier.wait(5))
      expect((yield* barrier.wait(6)).states).toEqual([4, 5, 6])
    }))

  it.effect("reset fails the current waiters and leaves the barrier usable", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make<number>({ parties: 2 })
      const a = yield* forkNow(barrier.wait(1))
      yield* barrier.reset
      expect(yield* Fiber.await(a)).toEqual(Exit.fail(new BarrierBrokenError({ key: "barrier", reason: "reset" })))
      expect(yield* barrier.broken).toBe(false)
      expect(yield* barrier.waiting).toBe(0)
      // The failed waiter's state does not leak into the next release.
      yield* forkNow(barrier.wait(2))
      expect((yield* barrier.wait(3)).states).toEqual([2, 3])
    }))

  describe("timeout", () => {
    it.effect("breaks the barrier for everybody at exactly the deadline", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 3, name: "sync" })
        const a = yield* forkNow(timed(barrier.wait(1)))
        yield* TestClock.adjust("200 millis")
        const b = yield* forkNow(timed(barrier.wait(2, { timeout: "1 second" })))
        yield* TestClock.adjust("999 millis")
        expect(yield* isDone(a)).toBe(false)
        expect(yield* isDone(b)).toBe(false)
        yield* TestClock.adjust("1 millis")
        const [ra, ta] = yield* Fiber.join(a)
        const [rb, tb] = yield* Fiber.join(b)
        expect(ra).toEqual(Either.left(new BarrierBrokenError({ key: "sync", reason: "timeout" })))
        const timeoutError = new BarrierTimeoutError({
          key: "sync",
          timeout: Duration.seconds(1),
          parties: 3,
          arrived: 2
        })
        expect(rb).toEqual(Either.left(timeoutError))
        expect([ta, tb]).toEqual([1200, 1200])
        expect(timeoutError.message).toBe(
          "Barrier \"sync\" timed out after 1s with 2 of 3 parties arrived; the barrier is now broken"
        )
        expect(yield* barrier.broken).toBe(true)
        // Later waits fail at once, and nobody ever got partial state.
        const [rc, tc] = yield* timed(barrier.wait(3))
        expect(rc).toEqual(Either.left(new BarrierBrokenError({ key: "sync", reason: "timeout" })))
        expect(tc).toBe(1200)
        yield* barrier.reset
        yield* forkNow(barrier.wait(4))
        yield* forkNow(barrier.wait(5))
        expect((yield* barrier.wait(6)).states).toEqual([4, 5, 6])
      }))

    it.effect("does not fire when the barrier trips first", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 2 })
        const a = yield* forkNow(timed(barrier.wait(1, { timeout: "1 second" })))
        yield* TestClock.adjust("500 millis")
        const b = yield* timed(barrier.wait(2))
        const ra = yield* Fiber.join(a)
        expect(ra).toEqual([Either.right({ position: 0, states: [1, 2] }), 500])
        expect(b).toEqual([Either.right({ position: 1, states: [1, 2] }), 500])
        yield* TestClock.adjust("2 seconds")
        expect(yield* barrier.broken).toBe(false)
      }))

    it.effect("trip at the same instant as a timeout: the trip wins, the barrier stays usable", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 2 })
        const a = yield* forkNow(timed(barrier.wait(1, { timeout: "1 second" })))
        // The second party arrives in the same virtual instant the first one's timeout is due.
        const b = yield* Effect.fork(Effect.zipRight(Effect.sleep("1 second"), timed(barrier.wait(2))))
        yield* TestClock.adjust("1 second")
        const ra = yield* Fiber.join(a)
        const rb = yield* Fiber.join(b)
        // Whichever happens first decides; never a success for one and a break for the other.
        const outcomes = [Either.isRight(ra[0]), Either.isRight(rb[0])]
        expect([[true, true], [false, false]]).toContainEqual(outcomes)
        expect([ra[1], rb[1]]).toEqual([1000, 1000])
      }))

    it.effect("a zero timeout breaks at once unless the wait trips the barrier", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 1 })
        expect(yield* barrier.wait(1, { timeout: 0 })).toEqual({ position: 0, states: [1] })
        const two = yield* Barrier.make<number>({ parties: 2 })
        const error = yield* Effect.flip(two.wait(1, { timeout: 0 }))
        expect(error._tag).toBe("BarrierTimeoutError")
        expect(yield* two.broken).toBe(true)
      }))
  })

  describe("interruption", () => {
    it.effect("an interrupted waiter withdraws its arrival and its state", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 3 })
        const a = yield* forkNow(barrier.wait(1))
        const b = yield* forkNow(barrier.wait(3))
        expect(yield* barrier.waiting).toBe(2)
        yield* Fiber.interrupt(b)
        expect(yield* barrier.waiting).toBe(1)
        expect(yield* barrier.remaining).toBe(2)
        const c = yield* forkNow(barrier.wait(5))
        expect(yield* isDone(a)).toBe(false)
        const d = yield* barrier.wait(7)
        expect(d).toEqual({ position: 2, states: [1, 5, 7] })
        expect(yield* Fiber.join(a)).toEqual({ position: 0, states: [1, 5, 7] })
        expect(yield* Fiber.join(c)).toEqual({ position: 1, states: [1, 5, 7] })
        expect(yield* barrier.broken).toBe(false)
      }))

    it.effect("an interrupted waiter with a timeout neither breaks the barrier nor holds a place", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 2 })
        const a = yield* forkNow(barrier.wait(1, { timeout: "1 second" }))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(a)
        yield* TestClock.adjust("5 seconds")
        expect(yield* barrier.broken).toBe(false)
        expect(yield* barrier.waiting).toBe(0)
        yield* forkNow(barrier.wait(2))
        expect((yield* barrier.wait(3)).states).toEqual([2, 3])
      }))

    it.effect("interrupting a released fiber does not affect the others", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 2 })
        const a = yield* forkNow(Effect.zipRight(barrier.wait(1), Effect.never))
        expect(yield* barrier.wait(2)).toEqual({ position: 1, states: [1, 2] })
        yield* Fiber.interrupt(a)
        expect(yield* barrier.waiting).toBe(0)
        expect(yield* barrier.broken).toBe(false)
      }))
  })

  describe("validation", () => {
    it.effect.each([0, -1, 1.5, Number.NaN])("parties %s is a defect", (parties) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Barrier.make({ parties }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        const message = Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
        expect(message).toContain(`Expected parties to be an integer >= 1, got ${String(parties)}`)
      }))

    it.effect("a bad timeout is a defect and leaves no arrival behind", () =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties: 2 })
        const exit = yield* Effect.exit(barrier.wait(1, { timeout: "soon" as Duration.DurationInput }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(
          // The options kit prints every bad value the same way: strings quoted.
          `Expected timeout to be a duration >= 0, got "soon"`
        )
        expect(yield* barrier.waiting).toBe(0)
      }))

    it.effect("maxState -1 is a defect", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Barrier.make({ parties: 2, maxState: -1 }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain("Expected maxState to be an integer >= 0")
      }))
  })

  describe("layers and accessors", () => {
    it.effect("Barrier.layer provides the tag; the accessors read it", () =>
      Effect.gen(function*() {
        expect(yield* Barrier.parties).toBe(2)
        const a = yield* forkNow(Barrier.wait("x"))
        expect(yield* Barrier.waiting).toBe(1)
        expect(yield* Barrier.remaining).toBe(1)
        expect(yield* Barrier.wait("y")).toEqual({ position: 1, states: ["x", "y"] })
        expect((yield* Fiber.join(a)).position).toBe(0)
        yield* Barrier.abort
        expect(yield* Barrier.broken).toBe(true)
        yield* Barrier.reset
        expect(yield* Barrier.broken).toBe(false)
      }).pipe(Effect.provide(Barrier.layer({ parties: 2 }))))

    it.effect("Barrier.layerAs keeps the state type under a user tag", () => {
      class Phases extends Context.Tag("test/Phases")<Phases, Barrier.Service<number>>() {}
      return Effect.gen(function*() {
        const phases = yield* Phases
        expectTypeOf(phases.wait).parameter(0).toEqualTypeOf<number | undefined>()
        yield* forkNow(phases.wait(1))
        const result = yield* phases.wait(2)
        expectTypeOf(result.states).toEqualTypeOf<ReadonlyArray<number>>()
        expect(result.states).toEqual([1, 2])
        expect(phases.name).toBe("phases")
      }).pipe(Effect.provide(Barrier.layerAs(Phases, { parties: 2, name: "phases" })))
    })

    it("signatures", () => {
      expectTypeOf(Barrier.make<string>).returns.toEqualTypeOf<Effect.Effect<Barrier.Service<string>>>()
      expectTypeOf<Barrier.Service<string>["wait"]>().returns.toEqualTypeOf<
        Effect.Effect<Barrier.Result<string>, BarrierBrokenError | BarrierTimeoutError>
      >()
    })
  })

  describe("module-level constructors", () => {
    it.effect("make, layer and layerAs are exported by the module too", () =>
      Effect.gen(function*() {
        const barrier = yield* BarrierModule.make<number>({ parties: 1, name: "module" })
        expect(yield* barrier.wait(7)).toEqual({ position: 0, states: [7] })
        expect(BarrierModule.make).toBe(Barrier.make)
        expect(yield* Effect.provide(Barrier.parties, BarrierModule.layer({ parties: 3 }))).toBe(3)
      }))

    it.effect("bad name, cyclic, metrics and initialState are defects", () =>
      Effect.gen(function*() {
        for (
          const [options, message] of [
            [{ parties: 1, name: 3 }, "Expected name to be a string, got 3"],
            [{ parties: 1, cyclic: "yes" }, `Expected cyclic to be true or false, got "yes"`],
            [{ parties: 1, metrics: 0 }, "Expected metrics to be true or false, got 0"],
            [{ parties: 1, initialState: 5 }, "Expected initialState to be an iterable, got 5"]
          ] as const
        ) {
          const exit = yield* Effect.exit(Barrier.make(options as unknown as Barrier.Options<unknown>))
          expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
          expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(message)
        }
      }))
  })

  describe("metrics", () => {
    const trips = (name: string) => Metric.value(Metric.tagged(BarrierModule.tripsTotal, "name", name))
    const broken = (name: string, reason: string) =>
      Metric.value(Metric.tagged(Metric.tagged(BarrierModule.brokenTotal, "name", name), "reason", reason))

    it.effect("trips and breaks are counted per name, in the step that makes them", () =>
      Effect.gen(function*() {
        const name = "metrics-scripted"
        const barrier = yield* Barrier.make<number>({ parties: 2, name })
        // Two trips.
        for (let i = 0; i < 2; i++) {
          yield* forkNow(barrier.wait(1))
          expect((yield* trips(name)).count).toBe(i)
          yield* barrier.wait(2)
          expect((yield* trips(name)).count).toBe(i + 1)
        }
        // An abort breaks it once; a second abort on a broken barrier is not a new break.
        yield* forkNow(Effect.either(barrier.wait(1)))
        yield* barrier.abort
        yield* barrier.abort
        expect((yield* broken(name, "aborted")).count).toBe(1)
        // A reset is not a break.
        yield* barrier.reset
        yield* forkNow(Effect.either(barrier.wait(1)))
        yield* barrier.reset
        expect((yield* broken(name, "aborted")).count).toBe(1)
        // A timeout at 500 ms breaks it.
        const waiter = yield* Effect.fork(Effect.either(barrier.wait(1, { timeout: "500 millis" })))
        yield* TestClock.adjust("499 millis")
        expect((yield* broken(name, "timeout")).count).toBe(0)
        yield* TestClock.adjust("1 milli")
        yield* Fiber.join(waiter)
        expect((yield* broken(name, "timeout")).count).toBe(1)
        expect((yield* trips(name)).count).toBe(2)
      }))

    it.effect("a one-shot barrier's release is a trip, not a break", () =>
      Effect.gen(function*() {
        const name = "metrics-one-shot"
        const barrier = yield* Barrier.make<number>({ parties: 1, cyclic: false, name })
        yield* barrier.wait(1)
        expect(yield* barrier.broken).toBe(true)
        expect((yield* trips(name)).count).toBe(1)
        expect((yield* broken(name, "aborted")).count).toBe(0)
        expect((yield* broken(name, "timeout")).count).toBe(0)
      }))

    it.effect("metrics: false records nothing", () =>
      Effect.gen(function*() {
        const name = "metrics-off"
        const barrier = yield* Barrier.make<number>({ parties: 1, name, metrics: false })
        yield* barrier.wait(1)
        yield* barrier.abort
        expect((yield* trips(name)).count).toBe(0)
        expect((yield* broken(name, "aborted")).count).toBe(0)
        // The same script with metrics on does record (the reads above could not miss it).
        const on = yield* Barrier.make<number>({ parties: 1, name: "metrics-on" })
        yield* on.wait(1)
        yield* on.abort
        expect((yield* trips("metrics-on")).count).toBe(1)
        expect((yield* broken("metrics-on", "aborted")).count).toBe(1)
      }))
  })

  it.effect.prop(
    "random arrivals and interruptions never release a generation with fewer than `parties` live arrivals",
    [
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.oneof(fc.constant<"arrive">("arrive"), fc.nat({ max: 10 })), { maxLength: 40 })
    ],
    ([parties, ops]) =>
      Effect.gen(function*() {
        const barrier = yield* Barrier.make<number>({ parties })
        // The model: live (waiting) fibers of the current generation, in arrival order.
        let live: Array<{ id: number; fiber: Fiber.RuntimeFiber<Barrier.Result<number>, unknown> }> = []
        let id = 0
        for (const op of ops) {
          if (op === "arrive") {
            const me = id++
            const fiber = yield* forkNow(barrier.wait(me))
            live.push({ id: me, fiber })
            if (live.length === parties) {
              // Exactly now the generation is released, with exactly these arrivals.
              const results = yield* Effect.forEach(live, (w) => Fiber.join(w.fiber))
              const states = live.map((w) => w.id)
              expect(results).toEqual(states.map((_, position) => ({ position, states })))
              live = []
            }
          } else if (live.length > 0) {
            const victim = live[op % live.length]!
            yield* Fiber.interrupt(victim.fiber)
            live = live.filter((w) => w !== victim)
          }
          // Nobody still waiting in the model has been released.
          for (const w of live) expect(yield* isDone(w.fiber)).toBe(false)
          expect(yield* barrier.waiting).toBe(live.length)
        }
      }),
    { fastCheck: { numRuns: 50 } }
  )
})
