/**
 * The behavioural contract of the Throttle service, run once per backend (memory; `makeWith`-derived members;
 * Redis in `test/redis/`), as Effect runs one RateLimiter suite per algorithm. Every timing is exact under
 * `TestClock`.
 */
import { describe, expect, it as baseIt } from "@effect/vitest"
import {
  Cause,
  Clock,
  Deferred,
  Effect,
  Duration,
  Exit,
  FastCheck as fc,
  Fiber,
  Option,
  type Scope,
  TestClock
} from "effect"
import type { RatesInput } from "../../src/Rate.js"
import { type Throttle, ThrottleReleaseError } from "../../src/Throttle.js"

/** Builds a throttle of the backend under test (any rate input, any options). */
export type MakeThrottle = (
  rate: RatesInput,
  options?: Throttle.Options
) => Effect.Effect<Throttle.Service, unknown, Scope.Scope>

const now = Clock.currentTimeMillis

/** Runs `count` tasks concurrently through `withPermit`, returning each task's start time by input index. */
const starts = (
  throttle: Throttle.Service,
  count: number,
  task: (i: number) => Effect.Effect<void> = () => Effect.void,
  horizon: Duration.DurationInput = "1 minute"
) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => throttle.withPermit(Effect.zipRight(Effect.flatMap(now, (t) => Effect.sync(() => (times[i] = t))), task(i))),
        { concurrency: "unbounded", discard: true }
      )
    )
    yield* TestClock.adjust(horizon)
    yield* Fiber.join(fiber)
    return times
  })

/** Runs `count` tasks one after another, returning their start times. */
const sequentialStarts = (throttle: Throttle.Service, count: number, task: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(
      Effect.forEach(Array.from({ length: count }), () => throttle.withPermit(Effect.zipLeft(now, task)))
    )
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? Option.match(Cause.dieOption(exit.cause), { onNone: () => undefined, onSome: (d) => (d as Error).message })
    : undefined


/**
 * `it`, with the tests named in `skip` registered as skipped (a backend's documented differences, e.g. the Redis
 * backend's unsupported `measure: "release"`).
 */
const skipping = (skip: ReadonlySet<string>): typeof baseIt => {
  if (skip.size === 0) return baseIt
  const wrap = <F extends (name: string, ...rest: Array<any>) => unknown>(f: F): F =>
    ((name: string, ...rest: Array<any>) => skip.has(name) ? baseIt.skip(name, () => {}) : f(name, ...rest)) as F
  const tester = <T extends (name: string, ...rest: Array<any>) => unknown>(t: T & { prop?: unknown }): T =>
    Object.assign(wrap(t), t, t.prop === undefined ? {} : { prop: wrap(t.prop as T) })
  return Object.assign(Object.create(baseIt) as typeof baseIt, {
    effect: tester(baseIt.effect),
    scoped: tester(baseIt.scoped),
    live: tester(baseIt.live),
    prop: wrap(baseIt.prop)
  })
}

/** Registers the Throttle contract tests for one backend; `options.skip` names tests the backend does not meet. */
export const throttleContract = (
  backend: string,
  make: MakeThrottle,
  options?: { readonly skip?: ReadonlyArray<string> }
): void => {
const it = skipping(new Set(options?.skip ?? []))
describe(`Throttle contract: ${backend}`, () => {
describe("Throttle window", () => {
  it.scoped("1/s grants at 0, 1000, 2000", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      expect(yield* sequentialStarts(throttle, 3)).toEqual([0, 1000, 2000])
    }))

  it.scoped("3/s with 8 concurrent callers grants 0,0,0,1000,1000,1000,2000,2000 in arrival order", () =>
    Effect.gen(function*() {
      const throttle = yield* make("3/s")
      expect(yield* starts(throttle, 8)).toEqual([0, 0, 0, 1000, 1000, 1000, 2000, 2000])
    }))

  it.scoped("24/8s keeps its burst of 24 (not reduced to 3/s)", () =>
    Effect.gen(function*() {
      const throttle = yield* make("24/8s")
      const times = yield* starts(throttle, 30)
      expect(times.slice(0, 24)).toEqual(Array.from({ length: 24 }, () => 0))
      expect(times.slice(24)).toEqual(Array.from({ length: 6 }, () => 8000))
    }))

  it.scoped("a slot frees exactly period after its grant (sliding, not fixed, window)", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ limit: 2, period: "1 second" })
      const log: Array<number> = []
      const acquireAt = (at: number) =>
        Effect.fork(Effect.zipRight(Effect.sleep(at), Effect.zipRight(throttle.acquire(), Effect.flatMap(now, (t) => Effect.sync(() => log.push(t))))))
      const fibers = yield* Effect.all([acquireAt(0), acquireAt(300), acquireAt(500), acquireAt(600)])
      yield* TestClock.adjust("5 seconds")
      yield* Effect.forEach(fibers, Fiber.join)
      // slots of the grants at 0 and 300 free at 1000 and 1300
      expect(log).toEqual([0, 300, 1000, 1300])
    }))

  it.scoped("a long chain of hand-overs stays exact under one big TestClock.adjust", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      const times = yield* starts(throttle, 30)
      expect(times).toEqual(Array.from({ length: 30 }, (_, i) => i * 1000))
    }))
})

describe("Throttle options", () => {
  it.scoped("measure: start vs release with 500 ms tasks (1/s, sequential)", () =>
    Effect.gen(function*() {
      const start = yield* make("1/s")
      const release = yield* make("1/s", { measure: "release" })
      expect(yield* sequentialStarts(start, 3, Effect.sleep("500 millis"))).toEqual([0, 1000, 2000])
      const base = yield* now
      const times = yield* sequentialStarts(release, 3, Effect.sleep("500 millis"))
      expect(times.map((t) => t - base)).toEqual([0, 1500, 3000])
    }))

  it.scoped("measure: release holds at most limit in flight", () =>
    Effect.gen(function*() {
      const throttle = yield* make("2/s", { measure: "release" })
      // tasks of 3 s: the third may start only 1 s after the first release (at 3000 + 1000)
      const times = yield* starts(throttle, 3, () => Effect.sleep("3 seconds"))
      expect(times).toEqual([0, 0, 4000])
    }))

  it.scoped("smooth: 10/s spaces grants 100 ms apart", () =>
    Effect.gen(function*() {
      const throttle = yield* make("10/s", { smooth: true })
      expect(yield* starts(throttle, 6)).toEqual([0, 100, 200, 300, 400, 500])
    }))

  it.scoped("smooth: a grant of n permits takes n intervals", () =>
    Effect.gen(function*() {
      const throttle = yield* make("4/s", { smooth: true })
      const log: Array<number> = []
      const take = (n: number) => Effect.zipRight(throttle.acquire(n), Effect.flatMap(now, (t) => Effect.sync(() => log.push(t))))
      const fiber = yield* Effect.fork(Effect.all([take(2), take(1), take(1)], { concurrency: "unbounded" }))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      expect(log).toEqual([0, 500, 750])
    }))

  it.scoped("maxConcurrent caps permits in flight", () =>
    Effect.gen(function*() {
      const throttle = yield* make("100/s", { maxConcurrent: 2 })
      let running = 0
      let peak = 0
      const task = () =>
        Effect.acquireUseRelease(
          Effect.sync(() => (peak = Math.max(peak, ++running))),
          () => Effect.sleep("300 millis"),
          () => Effect.sync(() => running--)
        )
      expect(yield* starts(throttle, 5, task)).toEqual([0, 0, 300, 300, 600])
      expect(peak).toBe(2)
    }))

  it.scoped("invalid options are defects naming the option", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.exit(make("1/s", { maxConcurrent: 0 }))
      expect(defectMessage(bad)).toBe("Expected option maxConcurrent to be an integer >= 1, got 0")
      const measure = yield* Effect.exit(make("1/s", { measure: "end" as "start" }))
      expect(defectMessage(measure)).toBe(`Expected option measure to be "start" or "release", got "end"`)
    }))
})

describe("Throttle weights and FIFO", () => {
  it.scoped("5/s: acquire(3) then acquire(3) — the second at 1000", () =>
    Effect.gen(function*() {
      const throttle = yield* make("5/s")
      const fiber = yield* Effect.fork(Effect.zipRight(throttle.acquire(3), Effect.zipRight(throttle.acquire(3), now)))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toBe(1000)
    }))

  it.scoped("a heavy waiter at the head is not overtaken by a light one", () =>
    Effect.gen(function*() {
      const throttle = yield* make("5/s")
      yield* throttle.acquire(3)
      const order: Array<string> = []
      const take = (label: string, n: number) =>
        Effect.zipRight(throttle.acquire(n), Effect.flatMap(now, (t) => Effect.sync(() => order.push(`${label}@${t}`))))
      const heavy = yield* Effect.fork(take("heavy", 3))
      yield* Effect.yieldNow()
      const light = yield* Effect.fork(take("light", 1)) // 1 permit is free now, but heavy is first
      yield* Effect.yieldNow()
      expect(yield* throttle.tryAcquire(1)).toBe(false)
      expect(yield* throttle.locked).toBe(true)
      expect((yield* throttle.stats).waiting).toBe(2)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(heavy)
      yield* Fiber.join(light)
      expect(order).toEqual(["heavy@1000", "light@1000"])
    }))

  it.scoped("only the head of the queue holds a timer (no per-waiter timers, no polling)", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 50 }), () => throttle.acquire(), { concurrency: "unbounded" }))
      yield* Effect.repeat(throttle.stats, { until: (s) => s.waiting === 49 })
      expect((yield* TestClock.sleeps()).length).toBe(1)
      yield* TestClock.adjust("1 second")
      expect((yield* TestClock.sleeps()).length).toBe(1)
      expect((yield* throttle.stats).granted).toBe(2)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect((yield* throttle.stats).granted).toBe(50)
    }))
})

describe("Throttle interruption", () => {
  it.scoped("an interrupted waiter leaves no trace; the one behind it is granted on time", () =>
    Effect.gen(function*() {
      const throttle = yield* make("5/s")
      yield* throttle.acquire(2)
      yield* TestClock.adjust("400 millis")
      yield* throttle.acquire(3)
      // heavy needs 4: two slots free at 1000 and three at 1400 -> due 1400; light alone would be due at 1000
      const heavy = yield* Effect.fork(throttle.acquire(4))
      yield* Effect.yieldNow()
      const light = yield* Effect.fork(Effect.zipRight(throttle.acquire(1), now))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("100 millis") // t = 500
      yield* Fiber.interrupt(heavy)
      expect((yield* throttle.stats).waiting).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(light)).toBe(1000)
      const stats = yield* throttle.stats
      expect(stats.granted).toBe(6) // 2 + 3 + 1: nothing of the interrupted waiter
      expect(stats.inFlight).toBe(6)
    }))

  it.scoped("interrupting a waiter in the middle of the queue keeps the order of the others", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      yield* throttle.acquire()
      const log: Array<string> = []
      const take = (label: string) =>
        Effect.fork(Effect.zipRight(throttle.acquire(), Effect.flatMap(now, (t) => Effect.sync(() => log.push(`${label}@${t}`)))))
      const a = yield* take("a")
      yield* Effect.yieldNow()
      const b = yield* take("b")
      yield* Effect.yieldNow()
      const c = yield* take("c")
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(b)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(a)
      yield* Fiber.join(c)
      expect(log).toEqual(["a@1000", "c@2000"])
    }))

  it.scoped("an interrupted withPermit gives its permit back", () =>
    Effect.gen(function*() {
      const throttle = yield* make("100/s", { maxConcurrent: 1 })
      const started = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(throttle.withPermit(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      expect((yield* throttle.stats).inFlight).toBe(1)
      expect(yield* throttle.tryAcquire()).toBe(false)
      yield* Fiber.interrupt(holder)
      expect((yield* throttle.stats).inFlight).toBe(0)
      expect(yield* throttle.tryAcquire()).toBe(true)
    }))

  it.scoped("withPermit releases on failure and on defect", () =>
    Effect.gen(function*() {
      const throttle = yield* make("100/s", { maxConcurrent: 1 })
      const failed = yield* Effect.exit(throttle.withPermit(Effect.fail("boom")))
      expect(failed).toEqual(Exit.fail("boom"))
      const died = yield* Effect.exit(throttle.withPermit(Effect.die("bug")))
      expect(Exit.isFailure(died)).toBe(true)
      expect((yield* throttle.stats).inFlight).toBe(0)
    }))

  it.effect("closing the scope interrupts queued waiters", () =>
    Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const throttle = yield* make("1/s")
        yield* throttle.acquire()
        const waiter = yield* Effect.fork(throttle.acquire())
        yield* Effect.yieldNow()
        return waiter
      }))
      const exit = yield* Fiber.await(result)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))
})

describe("Throttle acquire/release API", () => {
  it.scoped("over-release fails with ThrottleReleaseError", () =>
    Effect.gen(function*() {
      const throttle = yield* make("3/s")
      yield* throttle.acquire(2)
      yield* throttle.release()
      const error = yield* Effect.flip(throttle.release(2))
      expect(error).toBeInstanceOf(ThrottleReleaseError)
      expect(error).toMatchObject({ _tag: "ThrottleReleaseError", requested: 2, inFlight: 1 })
      expect(error.message).toBe("Throttle released too many times: release(2) with 1 permit(s) in flight")
    }))

  it.scoped("asking for more than limit, or maxConcurrent, or a non-integer, is a defect", () =>
    Effect.gen(function*() {
      const throttle = yield* make("3/s")
      expect(defectMessage(yield* Effect.exit(throttle.acquire(4)))).toBe(
        "Expected permits to be an integer from 1 to 3 (the throttle's limit), got 4"
      )
      expect(defectMessage(yield* Effect.exit(throttle.tryAcquire(0)))).toBe(
        "Expected permits to be an integer from 1 to 3 (the throttle's limit), got 0"
      )
      expect(defectMessage(yield* Effect.exit(throttle.withPermits(1.5)(Effect.void)))).toBe(
        "Expected permits to be an integer from 1 to 3 (the throttle's limit), got 1.5"
      )
      const capped = yield* make("10/s", { maxConcurrent: 2 })
      expect(defectMessage(yield* Effect.exit(capped.acquire(3)))).toBe(
        "Expected permits to be an integer from 1 to 2 (the throttle's maxConcurrent), got 3"
      )
    }))

  it.scoped("tryAcquire, locked and stats", () =>
    Effect.gen(function*() {
      const throttle = yield* make("2/s")
      expect(yield* throttle.stats).toEqual({ inFlight: 0, waiting: 0, available: 2, granted: 0 })
      expect(yield* throttle.tryAcquire()).toBe(true)
      expect(yield* throttle.locked).toBe(false)
      expect(yield* throttle.tryAcquire()).toBe(true)
      expect(yield* throttle.locked).toBe(true)
      expect(yield* throttle.tryAcquire()).toBe(false)
      expect(yield* throttle.stats).toEqual({ inFlight: 2, waiting: 0, available: 0, granted: 2 })
      yield* throttle.release(2)
      yield* TestClock.adjust("1 second")
      expect(yield* throttle.stats).toEqual({ inFlight: 0, waiting: 0, available: 2, granted: 2 })
    }))

  it.scoped("throttled(f) puts every call through the throttle (the decorator form)", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      const calls: Array<string> = []
      const fetchUser = throttle.throttled((id: number, tag: string) =>
        Effect.flatMap(now, (t) => Effect.sync(() => calls.push(`${tag}${id}@${t}`)))
      )
      const fiber = yield* Effect.fork(Effect.all([fetchUser(1, "u"), fetchUser(2, "u"), fetchUser(3, "u")]))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      expect(calls).toEqual(["u1@0", "u2@1000", "u3@2000"])
    }))
})

describe("Throttle properties (TestClock)", () => {
  // The property below found this (seed 473110389): TestClock keeps fractional instants as floats, and 316.666667 ms
  // read in whole nanoseconds is 316 666 666 ns. A grant stamped on that reading freed its slot a nanosecond before
  // `period` after the instant its task saw, and a heavy waiter was granted in that nanosecond: 4 in a window of 3.
  it.scoped("a smooth grant at a fractional instant: its slot frees no earlier than period after the instant its task saw", () =>
    Effect.gen(function*() {
      const throttle = yield* make({ limit: 3, period: Duration.millis(950) }, { smooth: true })
      const grants: Array<readonly [number, number]> = []
      const task = (n: number, at: number) =>
        Effect.zipRight(
          Effect.sleep(Duration.millis(at)),
          throttle.withPermits(n)(Effect.flatMap(now, (t) => Effect.sync(() => grants.push([n, t]))))
        )
      // forked in the order of the counterexample (the two at 150 ms queue light one first)
      const fibers = yield* Effect.forEach([[1, 100], [3, 150], [1, 0], [1, 150]] as const, ([n, at]) => Effect.fork(task(n, at)))
      // the light one at 150 ms leaves the queue before its turn
      yield* Effect.fork(Effect.zipRight(Effect.sleep("350 millis"), Fiber.interrupt(fibers[3]!)))
      yield* TestClock.adjust("1 minute")
      expect(grants.map(([n]) => n)).toEqual([1, 1, 3])
      const [[, t0], [, t1], [, t2]] = grants as [readonly [number, number], readonly [number, number], readonly [number, number]]
      expect(t0).toBe(0)
      expect(Math.abs(t1 - 950 / 3)).toBeLessThan(1e-5) // the smooth spacing: one permit per 316.67 ms
      // the 3 permits need the whole window: both earlier slots must have ended, as the tasks saw them start
      // (in memory at once then, 1 266.67 ms; on Redis later, as the interrupted one's slot stays unused)
      expect(t2).toBeGreaterThanOrEqual(t1 + 950)
    }))

  const scenario = fc.record({
    limit: fc.integer({ min: 1, max: 4 }),
    period: fc.integer({ min: 1, max: 20 }).map((k) => k * 50),
    measure: fc.constantFrom("start" as const, "release" as const),
    smooth: fc.boolean(),
    maxConcurrent: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    ops: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 60 }).map((k) => k * 50),
        n: fc.integer({ min: 1, max: 4 }),
        hold: fc.integer({ min: 0, max: 30 }).map((k) => k * 50),
        interruptAt: fc.option(fc.integer({ min: 0, max: 80 }).map((k) => k * 50), { nil: undefined })
      }),
      { minLength: 1, maxLength: 14 }
    )
  })

  it.effect.prop(
    "random arrivals, weights and interruptions: window and cap hold, FIFO order, no permit lost or duplicated",
    [scenario],
    ([sc]) =>
      Effect.scoped(Effect.gen(function*() {
        const throttle = yield* make({ limit: sc.limit, period: Duration.millis(sc.period) }, {
          measure: sc.measure,
          smooth: sc.smooth,
          maxConcurrent: sc.maxConcurrent
        })
        const cap = Math.min(sc.limit, sc.maxConcurrent ?? Number.POSITIVE_INFINITY)
        type Event = { kind: "arrive" | "grant" | "release"; op: number; n: number; t: number }
        const events: Array<Event> = []
        const log = (kind: Event["kind"], op: number, n: number) =>
          Effect.flatMap(now, (t) => Effect.sync(() => events.push({ kind, op, n, t })))
        const fibers = yield* Effect.forEach(sc.ops, (op, i) => {
          const n = Math.min(op.n, cap)
          return Effect.fork(Effect.zipRight(
            Effect.sleep(op.at),
            Effect.zipRight(
              log("arrive", i, n),
              throttle.withPermits(n)(
                Effect.zipRight(log("grant", i, n), Effect.ensuring(Effect.sleep(op.hold), log("release", i, n)))
              )
            )
          ))
        })
        yield* Effect.forEach(sc.ops, (op, i) =>
          op.interruptAt === undefined
            ? Effect.void
            : Effect.fork(Effect.zipRight(Effect.sleep(op.interruptAt), Fiber.interrupt(fibers[i]!))))
        yield* TestClock.adjust("2 hours")
        const exits = yield* Effect.forEach(fibers, Fiber.await)

        const granted = events.filter((e) => e.kind === "grant")
        // liveness: every fiber that was not interrupted finished successfully
        exits.forEach((exit, i) => {
          if (!Exit.isInterrupted(exit)) expect(Exit.isSuccess(exit)).toBe(true)
          if (sc.ops[i]!.interruptAt === undefined) expect(granted.some((g) => g.op === i)).toBe(true)
        })
        // FIFO: grants happen in arrival order
        const arrivalOrder = events.filter((e) => e.kind === "arrive").map((e) => e.op)
        expect(granted.map((g) => g.op)).toEqual(arrivalOrder.filter((op) => granted.some((g) => g.op === op)))
        // the window: slot of a grant is [grant, grant + period) or [grant, release + period)
        const slots = granted.map((g) => {
          const release = events.find((e) => e.kind === "release" && e.op === g.op)!
          return { from: g.t, until: (sc.measure === "start" ? g.t : release.t) + sc.period, n: g.n }
        })
        // (a slot's end is compared a nanosecond short: TestClock's instants are whole nanoseconds, so a slot that
        // starts at a fractional millisecond ends, as this sum computes it, up to a rounding error after the instant
        // at which the next grant is exactly due: 3783.333333 + 350 is 4133.3333330000005)
        for (const slot of slots) {
          const occupied = slots.filter((o) => o.from <= slot.from && slot.from < o.until - 1e-6)
            .reduce((a, o) => a + o.n, 0)
          expect(occupied).toBeLessThanOrEqual(sc.limit)
        }
        // the concurrency cap (maxConcurrent; under "release" also limit), replaying events in order
        const inFlightCap = Math.min(sc.maxConcurrent ?? Number.POSITIVE_INFINITY, sc.measure === "release" ? sc.limit : Number.POSITIVE_INFINITY)
        let inFlight = 0
        for (const e of events) {
          if (e.kind === "grant") inFlight += e.n
          if (e.kind === "release") inFlight -= e.n
          expect(inFlight).toBeLessThanOrEqual(inFlightCap)
        }
        // smooth spacing between consecutive grants (exact on TestClock)
        if (sc.smooth) {
          for (let k = 1; k < granted.length; k++) {
            expect(granted[k]!.t - granted[k - 1]!.t).toBeGreaterThanOrEqual(granted[k - 1]!.n * sc.period / sc.limit - 1e-6)
          }
        }
        // conservation: nothing in flight, nobody waiting, every grant counted once
        const stats = yield* throttle.stats
        expect(stats.inFlight).toBe(0)
        expect(stats.waiting).toBe(0)
        expect(stats.granted).toBe(granted.reduce((a, g) => a + g.n, 0))
      })),
    // 150 runs take 11–18 s alone; beside the process and Redis tests of a full run on 2 cores, over 30 s. The
    // example is a counterexample fast-check once found (seed 2132177856): a smooth grant due exactly when a slot
    // that started at a fractional millisecond ends (see the window check above).
    {
      fastCheck: {
        numRuns: 150,
        examples: [[{
          limit: 3,
          period: 350,
          measure: "start" as const,
          smooth: true,
          maxConcurrent: 3,
          ops: [
            { at: 1250, n: 2, hold: 250, interruptAt: undefined },
            { at: 1300, n: 1, hold: 0, interruptAt: undefined },
            { at: 1200, n: 1, hold: 750, interruptAt: undefined },
            { at: 1250, n: 3, hold: 0, interruptAt: undefined },
            { at: 1200, n: 3, hold: 1250, interruptAt: undefined },
            { at: 1350, n: 3, hold: 0, interruptAt: undefined }
          ]
        }]]
      },
      timeout: 120_000
    }
  )
})


describe("several windows", () => {
  it.scoped("[\"4/s\", \"60/min\"] stops at 60 and resumes exactly 60 s after the first grant", () =>
    Effect.gen(function*() {
      const throttle = yield* make(["4/s", "60/min"])
      expect(throttle.rates.map((r) => [r.limit, Duration.toMillis(r.period)])).toEqual([[4, 1000], [60, 60_000]])
      expect(throttle.rate.limit).toBe(4)
      const times = yield* starts(throttle, 66, undefined, "2 minutes")
      const expected = Array.from({ length: 66 }, (_, k) => k < 60 ? Math.floor(k / 4) * 1000 : 60_000 + Math.floor((k - 60) / 4) * 1000)
      expect(times).toEqual(expected)
    }))

  it.scoped("a config string \"4/s, 60/min\" is the same throttle", () =>
    Effect.gen(function*() {
      const throttle = yield* make("4/s, 60/min")
      expect(throttle.rates.length).toBe(2)
      expect(yield* starts(throttle, 6)).toEqual([0, 0, 0, 0, 1000, 1000])
    }))

  it.scoped("smooth spacing uses the lowest long-run rate: 1000 ms for [4/s, 60/min]", () =>
    Effect.gen(function*() {
      const throttle = yield* make(["4/s", "60/min"], { smooth: true })
      expect(throttle.burst).toBe(1)
      expect(yield* starts(throttle, 4)).toEqual([0, 1000, 2000, 3000])
    }))

  it.scoped("weights count in every window; n above the smallest limit is a defect", () =>
    Effect.gen(function*() {
      const throttle = yield* make(["5/s", "6/10s"])
      const times: Array<number> = []
      const fiber = yield* Effect.fork(Effect.forEach([3, 2, 3], (n) =>
        Effect.zipRight(throttle.acquire(n), Effect.flatMap(now, (t) => Effect.sync(() => times.push(t))))))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(times).toEqual([0, 0, 10_000])
      const exit = yield* Effect.exit(throttle.acquire(6))
      expect(defectMessage(exit)).toContain("Expected permits to be an integer from 1 to 5")
    }))

  it.effect("bad lists fail with InvalidRateError: \"4/s,\", \"4/s 60/min\"; an empty array is a defect", () =>
    Effect.gen(function*() {
      for (const input of ["4/s,", "4/s 60/min"]) {
        const exit = yield* Effect.exit(Effect.scoped(make(input)))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          expect(Option.isSome(failure) && (failure.value as { _tag: string })._tag).toBe("InvalidRateError")
        }
      }
      // `[]` does not type-check (a non-empty tuple is required): at run time it is a programmer error
      const empty = yield* Effect.exit(Effect.scoped(make([] as unknown as RatesInput)))
      expect(Exit.isFailure(empty) && Option.getOrUndefined(Cause.dieOption(empty.cause))).toMatchObject({
        _tag: "InvalidRateError"
      })
    }))
})

describe("attempt: decisions for servers", () => {
  it.scoped("3/s: granted with the numbers; after 3 grants at t = 400 ms, retryAfter 600 ms", () =>
    Effect.gen(function*() {
      const throttle = yield* make("3/s")
      const first = yield* throttle.attempt()
      expect(first.granted).toBe(true)
      expect([first.limit, first.remaining]).toEqual([3, 2])
      expect(Duration.toMillis(first.retryAfter)).toBe(0)
      expect(Duration.toMillis(first.resetAfter)).toBe(1000)
      expect((yield* throttle.stats).inFlight).toBe(1) // an attempt's permit is held until released
      yield* throttle.release()
      yield* throttle.acquire(2)
      yield* TestClock.adjust("400 millis")
      const refused = yield* throttle.attempt()
      expect(refused.granted).toBe(false)
      expect([refused.limit, refused.remaining]).toEqual([3, 0])
      expect(Duration.toMillis(refused.retryAfter)).toBe(600)
      expect(Duration.toMillis(refused.resetAfter)).toBe(600)
      expect((yield* throttle.stats).granted).toBe(3) // a refusal takes nothing
      const two = yield* throttle.attempt(2)
      expect(Duration.toMillis(two.retryAfter)).toBe(600)
    }))

  it.scoped("with waiters queued, attempt is refused and retryAfter counts the queue", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      yield* throttle.acquire()
      const waiter = yield* Effect.fork(throttle.acquire())
      yield* Effect.yieldNow()
      const decision = yield* throttle.attempt()
      expect(decision.granted).toBe(false)
      expect(decision.remaining).toBe(0)
      expect(Duration.toMillis(decision.retryAfter)).toBe(2000)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiter)
    }))
})

describe("maxWait: deadlines", () => {
  it.scoped("a wait already known to be too long fails at once and does not delay the next waiter", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      yield* throttle.acquire()
      const error = yield* Effect.flip(throttle.acquire(1, { maxWait: "500 millis" }))
      expect(error._tag).toBe("ThrottleTimeoutError")
      expect(Duration.toMillis(error.waited)).toBe(0)
      expect(Duration.toMillis(error.retryAfter)).toBe(1000)
      expect(error.message).toContain("maxWait")
      expect((yield* throttle.stats).waiting).toBe(0)
      const next = yield* Effect.fork(Effect.zipRight(throttle.acquire(), now))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(next)).toBe(1000)
    }))

  it.scoped("a caller that can be granted within maxWait waits and is granted", () =>
    Effect.gen(function*() {
      const throttle = yield* make("1/s")
      yield* throttle.acquire()
      const fiber = yield* Effect.fork(Effect.zipRight(throttle.withPermit(Effect.void, { maxWait: "1 second" }), now))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(1000)
    }))

  it.scoped("behind a full concurrency cap it waits maxWait, then leaves the queue without a trace", () =>
    Effect.gen(function*() {
      const throttle = yield* make("10/s", { maxConcurrent: 1 })
      yield* throttle.acquire()
      const timedOut = yield* Effect.fork(Effect.flip(throttle.acquire(1, { maxWait: "300 millis" })))
      const patient = yield* Effect.fork(Effect.zipRight(throttle.acquire(), now))
      yield* TestClock.adjust("300 millis")
      const error = yield* Fiber.join(timedOut)
      expect(Duration.toMillis(error.waited)).toBe(300)
      expect((yield* throttle.stats).waiting).toBe(1)
      yield* TestClock.adjust("200 millis")
      yield* throttle.release()
      expect(yield* Fiber.join(patient)).toBe(500)
    }))

  it.scoped("withPermits(n, { maxWait }) fails at once for a too-long wait; a bad maxWait is a defect", () =>
    Effect.gen(function*() {
      const throttle = yield* make("2/s")
      yield* throttle.acquire(2)
      const error = yield* Effect.flip(throttle.withPermits(2, { maxWait: "999 millis" })(Effect.void))
      expect(Duration.toMillis(error.retryAfter)).toBe(1000)
      for (const bad of [-1, "soon", Number.NaN]) {
        const exit = yield* Effect.exit(throttle.acquire(1, { maxWait: bad as Duration.DurationInput }))
        expect(defectMessage(exit)).toContain("Expected maxWait to be")
      }
      expect((yield* throttle.stats).waiting).toBe(0)
    }))
})

describe("pause: the server said wait", () => {
  it.scoped("no grant until the pause ends; the queue keeps its order; shorter never shortens, longer extends", () =>
    Effect.gen(function*() {
      const throttle = yield* make("10/s")
      yield* throttle.pause("500 millis")
      const stats = yield* throttle.stats
      expect(stats.pausedUntil).toBe(500)
      expect(stats.available).toBe(0)
      expect(yield* throttle.tryAcquire()).toBe(false)
      const order: Array<string> = []
      const fibers = yield* Effect.forEach(["a", "b", "c"], (id) =>
        Effect.fork(throttle.withPermit(Effect.flatMap(now, (t) => Effect.sync(() => order.push(`${id}@${t}`))))))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("100 millis")
      yield* throttle.pause("100 millis") // until 200: shorter, ignored
      yield* throttle.pause("700 millis") // until 800: extends
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      expect(order).toEqual(["a@800", "b@800", "c@800"])
      expect((yield* throttle.stats).pausedUntil).toBeUndefined()
    }))
})
})
}
