import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Chunk, Clock, Deferred, Effect, Exit, Fiber, Metric, Option, Ref, Stream, Supervisor, TestClock } from "effect"
import * as fc from "fast-check"
import * as Scheduler from "../src/Scheduler.js"
import { PACED_LOOKAHEAD } from "../src/internal/schedulerCore.js"
import { RunAnyError } from "../src/Scheduler.js"
import { Throttle } from "../src/Throttle.js"
import * as ThrottleModule from "../src/Throttle.js"
import { runFor } from "./utils.js"

const now = Clock.currentTimeMillis


/** A task that records its start time (by index) and then sleeps `millis`. */
const recorder = () => {
  const starts: Array<number> = []
  const order: Array<number> = []
  const task = (i: number, millis: number = 0) =>
    Effect.flatMap(now, (t) =>
      Effect.zipRight(
        Effect.sync(() => {
          starts[i] = t
          order.push(i)
        }),
        Effect.as(millis > 0 ? Effect.sleep(millis) : Effect.void, i)
      ))
  return { order, starts, task }
}

/** A task that tracks how many run at once. */
const concurrencyProbe = () => {
  let running = 0
  let peak = 0
  const task = (millis: number) =>
    Effect.acquireUseRelease(
      Effect.sync(() => (peak = Math.max(peak, ++running))),
      () => Effect.sleep(millis),
      () => Effect.sync(() => void running--)
    )
  return { peak: () => peak, running: () => running, task }
}

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? Option.match(Cause.dieOption(exit.cause), { onNone: () => undefined, onSome: (d) => (d as Error).message })
    : undefined

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("Scheduler maxPerSecond (aiometer's cases)", () => {
  it.effect("maxPerSecond: 10 over 6 items starts at 0,100,200,300,400,500", () =>
    Effect.gen(function*() {
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(range(6), (i) => task(i), { maxPerSecond: 10 }))
      expect(starts).toEqual([0, 100, 200, 300, 400, 500])
    }))

  it.effect("maxPerSecond: 4 starts at 0, 250, 500", () =>
    Effect.gen(function*() {
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(range(3), (i) => task(i), { maxPerSecond: 4 }))
      expect(starts).toEqual([0, 250, 500])
    }))

  it.effect("maxAtOnce: 2 + maxPerSecond: 10 with 350 ms tasks starts at 0,100,350,450,700,800", () =>
    Effect.gen(function*() {
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(range(6), (i) => task(i, 350), { maxAtOnce: 2, maxPerSecond: 10 }))
      expect(starts).toEqual([0, 100, 350, 450, 700, 800])
    }))

  it.effect("fractional rates: 0.2/s is one start every 5 s; 2.5/s every 400 ms", () =>
    Effect.gen(function*() {
      const slow = recorder()
      yield* runFor(Scheduler.runEach(range(3), (i) => slow.task(i), { maxPerSecond: 0.2 }))
      expect(slow.starts).toEqual([0, 5000, 10000])
      const base = yield* now
      const mid = recorder()
      yield* runFor(Scheduler.runEach(range(5), (i) => mid.task(i), { maxPerSecond: 2.5 }))
      expect(mid.starts.map((t) => t - base)).toEqual([0, 400, 800, 1200, 1600])
    }))

  it.effect("a start is not made early: at 99 ms the second of maxPerSecond: 10 has not started", () =>
    Effect.gen(function*() {
      const { starts, task } = recorder()
      const fiber = yield* Effect.fork(Scheduler.runEach(range(2), (i) => task(i), { maxPerSecond: 10 }))
      yield* TestClock.adjust("99 millis")
      expect(starts).toEqual([0])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      expect(starts).toEqual([0, 100])
    }))

  it.effect.prop(
    "maxPerSecond: r spaces starts exactly 1000 / r ms apart (runEach, runAll, amap)",
    [fc.constantFrom(1, 2, 4, 5, 8, 10, 20, 40, 0.5), fc.integer({ min: 1, max: 25 }), fc.constantFrom("each", "all", "amap")],
    ([rate, count, fn]) =>
      Effect.gen(function*() {
        const base = yield* now
        const { starts, task } = recorder()
        const options = { maxPerSecond: rate }
        const run = fn === "each"
          ? Scheduler.runEach(range(count), (i) => task(i), options)
          : fn === "all"
          ? Scheduler.runAll(range(count).map((i) => task(i)), options)
          : Stream.runDrain(Scheduler.amap(range(count), (i) => task(i), options))
        yield* runFor(Effect.asVoid(run), "2 hours")
        expect(starts.map((t) => t - base)).toEqual(range(count).map((i) => (i * 1000) / rate))
      }),
    { fastCheck: { numRuns: 30 } }
  )
})

describe("Scheduler maxAtOnce", () => {
  it.effect.prop(
    "maxAtOnce in {1,2,5,10,20} over 30 tasks is never exceeded (and is reached)",
    [fc.constantFrom(1, 2, 5, 10, 20), fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 30, maxLength: 30 })],
    ([maxAtOnce, durations]) =>
      Effect.gen(function*() {
        const probe = concurrencyProbe()
        yield* runFor(Scheduler.runEach(durations, (ms) => probe.task(ms), { maxAtOnce }))
        expect(probe.peak()).toBe(maxAtOnce)
        expect(probe.running()).toBe(0)
      }),
    { fastCheck: { numRuns: 30 } }
  )

  it.effect("maxAtOnce is respected with a stream input and in amap", () =>
    Effect.gen(function*() {
      const each = concurrencyProbe()
      yield* runFor(Scheduler.runEach(Stream.fromIterable(range(30)), (i) => each.task(10 + (i % 7) * 30), { maxAtOnce: 3 }))
      expect(each.peak()).toBe(3)
      const mapped = concurrencyProbe()
      yield* runFor(Stream.runDrain(Scheduler.amap(range(30), (i) => mapped.task(10 + (i % 5) * 40), { maxAtOnce: 4 })))
      expect(mapped.peak()).toBe(4)
    }))

  it.effect("maxAtOnce: 1 runs one after another, in input order", () =>
    Effect.gen(function*() {
      const { order, starts, task } = recorder()
      const durations = [300, 100, 200, 50]
      yield* runFor(Scheduler.runEach(durations, (ms, i) => task(i, ms), { maxAtOnce: 1 }))
      expect(order).toEqual([0, 1, 2, 3])
      expect(starts).toEqual([0, 300, 400, 600])
    }))

  it.effect("tasks start in input order with maxAtOnce: 3 (iterable and stream)", () =>
    Effect.gen(function*() {
      const a = recorder()
      yield* runFor(Scheduler.runEach(range(10), (i) => a.task(i, 100 - i * 7), { maxAtOnce: 3 }))
      expect(a.order).toEqual(range(10))
      const b = recorder()
      yield* runFor(Scheduler.runEach(Stream.range(0, 9), (i) => b.task(i, 100 - i * 7), { maxAtOnce: 3 }))
      expect(b.order).toEqual(range(10))
    }))
})

describe("Scheduler.runAll", () => {
  it.effect("keeps input order: [fast, slow] and [slow, fast]", () =>
    Effect.gen(function*() {
      const fast = Effect.as(Effect.sleep(100), "fast")
      const slow = Effect.as(Effect.sleep(500), "slow")
      expect(yield* runFor(Scheduler.runAll([fast, slow]))).toEqual(["fast", "slow"])
      expect(yield* runFor(Scheduler.runAll([slow, fast]))).toEqual(["slow", "fast"])
      expect(yield* runFor(Scheduler.runAll(Stream.make(slow, fast), { maxAtOnce: 2 }))).toEqual(["slow", "fast"])
    }))

  it.effect("returns [] for no input (iterable or stream)", () =>
    Effect.gen(function*() {
      expect(yield* Scheduler.runAll([])).toEqual([])
      expect(yield* Scheduler.runAll(Stream.empty, { maxAtOnce: 3, maxPerSecond: 1 })).toEqual([])
      expect(yield* Scheduler.runAll([], { settle: true })).toEqual([])
    }))

  it.effect("a failure fails the call with that same error and interrupts the siblings", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const completed: Array<number> = []
      const error = new Error("boom")
      const task = (i: number) =>
        i === 2
          ? Effect.zipRight(Effect.sleep(100), Effect.fail(error))
          : Effect.sleep(1000).pipe(
            Effect.zipRight(Effect.sync(() => completed.push(i))),
            Effect.onInterrupt(() => Effect.sync(() => interrupted.push(i)))
          )
      const exit = yield* runFor(Effect.exit(Scheduler.runAll(range(5).map(task))))
      expect(exit).toEqual(Exit.fail(error))
      expect(interrupted.sort()).toEqual([0, 1, 3, 4])
      expect(completed).toEqual([])
    }))

  it.effect("with maxAtOnce, a failure also stops the tasks not yet started", () =>
    Effect.gen(function*() {
      const { order, task } = recorder()
      const interrupted: Array<number> = []
      const exit = yield* runFor(
        Effect.exit(Scheduler.runAll(
          range(10).map((i) =>
            i === 1
              ? Effect.zipRight(task(i, 50), Effect.fail("bad" as const))
              : Effect.onInterrupt(task(i, 200), () => Effect.sync(() => interrupted.push(i)))
          ),
          { maxAtOnce: 2 }
        ))
      )
      expect(exit).toEqual(Exit.fail("bad"))
      // 1 failed at 50 ms: 0 was interrupted, and the place 1 left was not handed to 2 (nor to anyone after it)
      expect(order).toEqual([0, 1])
      expect(interrupted).toEqual([0])
    }))

  it.effect("a failure with a stream input interrupts the siblings too", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const task = (i: number) =>
        i === 1
          ? Effect.zipRight(Effect.sleep(10), Effect.fail("bad"))
          : Effect.onInterrupt(Effect.sleep(1000), () => Effect.sync(() => interrupted.push(i)))
      const exit = yield* runFor(Effect.exit(Scheduler.runAll(Stream.fromIterable(range(3).map(task)), { maxAtOnce: 3 })))
      expect(exit).toEqual(Exit.fail("bad"))
      expect(interrupted.sort()).toEqual([0, 2])
    }))

  it.effect("settle: true returns every Exit in input order and runs every task", () =>
    Effect.gen(function*() {
      const tasks = [
        Effect.as(Effect.sleep(300), 1),
        Effect.zipRight(Effect.sleep(100), Effect.fail("two")),
        Effect.as(Effect.sleep(200), 3)
      ]
      const exits = yield* runFor(Scheduler.runAll(tasks, { settle: true, maxAtOnce: 2 }))
      expect(exits).toEqual([Exit.succeed(1), Exit.fail("two"), Exit.succeed(3)])
      const died = yield* Scheduler.runAll([Effect.die("bug"), Effect.succeed(2)], { settle: true })
      expect(Exit.isFailure(died[0]!) && Cause.isDie(died[0].cause)).toBe(true)
      expect(died[1]).toEqual(Exit.succeed(2))
    }))

  it.effect("interrupting the run interrupts the running tasks", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const task = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1))
      )
      const fiber = yield* Effect.fork(Scheduler.runAll([task, task, task], { maxAtOnce: 2 }))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(interrupted)).toBe(2)
    }))
})

describe("Scheduler paced admission (maxPerSecond without maxAtOnce)", () => {
  /** Runs `run` (200 items at 10/s, tasks of 250 ms) under a supervisor; the peak of live fibers and the starts. */
  const livePeak = (run: (task: (i: number) => Effect.Effect<number>) => Effect.Effect<unknown>) =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.track
      const { starts, task } = recorder()
      const fiber = yield* Effect.fork(Effect.supervised(run((i) => task(i, 250)), supervisor))
      let peak = 0
      for (let step = 0; step < 100; step++) {
        yield* TestClock.adjust(50)
        peak = Math.max(peak, (yield* supervisor.value).filter((f) => f.unsafePoll() === null).length)
      }
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      return { peak, starts }
    })

  it.effect("does not fork a fiber per item up front: live fibers stay near the running tasks", () =>
    Effect.gen(function*() {
      // 200 items at 10/s, each task 250 ms: about 3 run at once; without pacing 201 fibers would be alive.
      const { peak, starts } = yield* livePeak((task) => Scheduler.runEach(range(200), task, { maxPerSecond: 10 }))
      // The tasks waiting for their start (at most the lookahead), the ~3 running ones, the driver and the
      // throttle's sleeping head.
      expect(peak).toBeGreaterThan(3)
      expect(peak).toBeLessThanOrEqual(PACED_LOOKAHEAD + 3 + 4)
      // The schedule is unchanged: one start every 100 ms, in input order.
      expect(starts).toEqual(range(200).map((i) => i * 100))
    }))

  it.effect("a stream input (runAll, amap) is pulled only as places for waiting tasks free up", () =>
    Effect.gen(function*() {
      const runs = {
        runAll: (source: Stream.Stream<number>, task: (i: number) => Effect.Effect<number>) =>
          Scheduler.runAll(Stream.map(source, task), { maxPerSecond: 10 }),
        amap: (source: Stream.Stream<number>, task: (i: number) => Effect.Effect<number>) =>
          Stream.runDrain(Scheduler.amap(source, task, { maxPerSecond: 10 }))
      }
      for (const [name, run] of Object.entries(runs)) {
        let pulled = 0
        const source = Stream.tap(Stream.fromIterable(range(200)), () => Effect.sync(() => void pulled++))
        const { starts, task } = recorder()
        const t0 = yield* now
        const fiber = yield* Effect.fork(run(source, (i) => task(i, 250)))
        let ahead = 0
        for (let step = 0; step < 40; step++) {
          yield* TestClock.adjust(50)
          ahead = Math.max(ahead, pulled - starts.filter((t) => t !== undefined).length)
        }
        // Without pacing the whole source is pulled at once (200 ahead of the starts).
        expect(ahead, name).toBeGreaterThan(1)
        expect(ahead, name).toBeLessThanOrEqual(PACED_LOOKAHEAD + 2)
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(fiber)
        expect(starts.map((t) => t - t0), name).toEqual(range(200).map((i) => i * 100))
      }
    }))

  it.effect("runAll keeps input order and settle returns every Exit", () =>
    Effect.gen(function*() {
      const tasks = range(40).map((i) => Effect.as(Effect.sleep((40 - i) * 7), i))
      expect(yield* runFor(Scheduler.runAll(tasks, { maxPerSecond: 100 }))).toEqual(range(40))
      const mixed = [Effect.succeed(1), Effect.fail("two"), Effect.as(Effect.sleep(5), 3)]
      expect(yield* runFor(Scheduler.runAll(mixed, { maxPerSecond: 100, settle: true }))).toEqual([
        Exit.succeed(1),
        Exit.fail("two"),
        Exit.succeed(3)
      ])
    }))

  it.effect("a failure fails the call with that error, interrupts the running tasks, starts no more", () =>
    Effect.gen(function*() {
      const { order, task } = recorder()
      const interrupted: Array<number> = []
      const exit = yield* runFor(Effect.exit(Scheduler.runAll(
        range(50).map((i) =>
          i === 3
            ? Effect.zipRight(task(i, 50), Effect.fail("bad" as const))
            : Effect.onInterrupt(task(i, 1000), () => Effect.sync(() => interrupted.push(i)))
        ),
        { maxPerSecond: 10 }
      )))
      expect(exit).toEqual(Exit.fail("bad"))
      // 3 started at 300 and failed at 350: 0, 1, 2 were running; 4 (due at 400) never started.
      expect(order).toEqual([0, 1, 2, 3])
      expect(interrupted.sort()).toEqual([0, 1, 2])
    }))

  it.effect("the last task failing as the others finish still fails the call", () =>
    Effect.gen(function*() {
      const tasks = range(5).map((i) => i === 4 ? Effect.fail("last" as const) : Effect.succeed(i))
      expect(yield* runFor(Effect.exit(Scheduler.runAll(tasks, { maxPerSecond: 1000 })))).toEqual(Exit.fail("last"))
    }))

  it.effect("runAny stops at the first success; interrupting the run interrupts the running tasks", () =>
    Effect.gen(function*() {
      const { order, task } = recorder()
      const attempts = range(20).map((i) => i < 2 ? Effect.zipRight(task(i), Effect.fail(i)) : task(i, 1000))
      expect(yield* runFor(Scheduler.runAny(attempts, { maxPerSecond: 10 }))).toBe(2)
      // 2 started at 200 ms and succeeded at 1200 ms; 3..12 started meanwhile (one per 100 ms), no more.
      expect(order).toEqual(range(13))

      const interrupted = yield* Ref.make(0)
      const never = Effect.onInterrupt(Effect.never, () => Ref.update(interrupted, (n) => n + 1))
      const fiber = yield* Effect.fork(Scheduler.runEach(range(100), () => never, { maxPerSecond: 10 }))
      yield* TestClock.adjust(450)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(interrupted)).toBe(5)
    }))
})


describe("Scheduler.runAny", () => {
  it.effect("returns the first success and interrupts the losers", () =>
    Effect.gen(function*() {
      const interrupted: Array<string> = []
      const mirror = (name: string, ms: number) =>
        Effect.as(Effect.sleep(ms), name).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(name))))
      const winner = yield* runFor(Scheduler.runAny([mirror("a", 300), mirror("b", 100), mirror("c", 200)]))
      expect(winner).toBe("b")
      expect(interrupted.sort()).toEqual(["a", "c"])
    }))

  it.effect("a failure does not end it: the first success after failures wins", () =>
    Effect.gen(function*() {
      const result = yield* runFor(
        Scheduler.runAny([
          Effect.zipRight(Effect.sleep(50), Effect.fail("a")),
          Effect.as(Effect.sleep(200), "b"),
          Effect.zipRight(Effect.sleep(10), Effect.fail("c"))
        ])
      )
      expect(result).toBe("b")
    }))

  it.effect("fails only when all fail, with RunAnyError holding every error in input order", () =>
    Effect.gen(function*() {
      const error = yield* runFor(Effect.flip(
        Scheduler.runAny([
          Effect.zipRight(Effect.sleep(300), Effect.fail("first")),
          Effect.zipRight(Effect.sleep(100), Effect.fail("second")),
          Effect.zipRight(Effect.sleep(200), Effect.fail("third"))
        ])
      ))
      expect(error).toBeInstanceOf(RunAnyError)
      expect(error).toMatchObject({ _tag: "RunAnyError", errors: ["first", "second", "third"] })
      expect((error as RunAnyError<string>).message).toBe("All 3 task(s) of runAny failed; the first with: first")
    }))

  it.effect("runAny([]) fails with NoSuchElementException", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Scheduler.runAny([]))
      expect(Cause.isNoSuchElementException(error)).toBe(true)
      const fromStream = yield* Effect.flip(Scheduler.runAny(Stream.empty))
      expect(Cause.isNoSuchElementException(fromStream)).toBe(true)
    }))

  it.effect("with maxAtOnce: 1 it tries one at a time and stops at the first success", () =>
    Effect.gen(function*() {
      const { order, starts, task } = recorder()
      const result = yield* runFor(
        Scheduler.runAny(
          [
            Effect.zipRight(task(0, 100), Effect.fail("down")),
            Effect.as(task(1, 100), "mirror 1"),
            Effect.as(task(2, 100), "mirror 2")
          ],
          { maxAtOnce: 1 }
        )
      )
      expect(result).toBe("mirror 1")
      expect(order).toEqual([0, 1])
      expect(starts).toEqual([0, 100])
    }))

  it.effect("with maxPerSecond, a hedged request: a second mirror only if the first is slow", () =>
    Effect.gen(function*() {
      const { order, task } = recorder()
      const result = yield* runFor(
        Scheduler.runAny([Effect.as(task(0, 150), "a"), Effect.as(task(1, 10), "b"), Effect.as(task(2, 10), "c")], {
          maxPerSecond: 10
        })
      )
      // a starts at 0, b at 100 and wins at 110 (a is interrupted), c (due at 200) never starts
      expect(result).toBe("b")
      expect(order).toEqual([0, 1])
    }))

  it.effect("a defect is not collected: it fails the call", () =>
    Effect.gen(function*() {
      const exit = yield* runFor(Effect.exit(Scheduler.runAny([Effect.die("bug"), Effect.as(Effect.sleep(100), 1)])))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))
})

describe("Scheduler.amap", () => {
  it.effect("yields results in completion order (sleep sort)", () =>
    Effect.gen(function*() {
      const numbers = [300, 100, 600, 200, 700, 500, 500, 200]
      const sorted = yield* runFor(
        Stream.runCollect(Scheduler.amap(numbers, (ms) => Effect.as(Effect.sleep(ms), ms)))
      )
      expect(Chunk.toArray(sorted)).toEqual([100, 200, 200, 300, 500, 500, 600, 700])
    }))

  it.effect("ending the stream early interrupts the tasks still running", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const completed: Array<number> = []
      const task = (ms: number, i: number) =>
        Effect.sleep(ms).pipe(
          Effect.zipRight(Effect.sync(() => completed.push(i))),
          Effect.as(i),
          Effect.onInterrupt(() => Effect.sync(() => interrupted.push(i)))
        )
      const firstTwo = yield* runFor(
        Stream.runCollect(Stream.take(Scheduler.amap([400, 100, 300, 200, 500], task, { maxAtOnce: 4 }), 2))
      )
      expect(Chunk.toArray(firstTwo)).toEqual([1, 3])
      expect(completed.sort()).toEqual([1, 3])
      // 0 and 2 were running; 4 had started when 1 finished (at 100 ms)
      expect(interrupted.sort()).toEqual([0, 2, 4])
    }))

  it.effect("a failure ends the stream with that error and interrupts the others", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const exit = yield* runFor(Effect.exit(Stream.runCollect(
        Scheduler.amap(range(3), (i) =>
          i === 0
            ? Effect.zipRight(Effect.sleep(50), Effect.fail("nope" as const))
            : Effect.onInterrupt(Effect.sleep(500), () => Effect.sync(() => interrupted.push(i))))
      )))
      expect(exit).toEqual(Exit.fail("nope"))
      expect(interrupted.sort()).toEqual([1, 2])
    }))

  it.effect("works on an infinite stream: only what is taken runs (plus what was running)", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const out = yield* runFor(Stream.runCollect(
        Scheduler.amap(Stream.iterate(0, (n) => n + 1), (n) => Effect.zipRight(Ref.update(started, (k) => k + 1), Effect.as(Effect.sleep(100), n * 2)), {
          maxAtOnce: 2,
          maxPerSecond: 20
        }).pipe(Stream.take(5))
      ))
      expect(Chunk.toArray(out)).toEqual([0, 2, 4, 6, 8])
      expect(yield* Ref.get(started)).toBeLessThanOrEqual(6)
    }))
})

describe("Scheduler inputs", () => {
  it.effect("a paginated stream is pulled lazily, as places free up", () =>
    Effect.gen(function*() {
      const fetched: Array<string> = []
      const pages = Stream.paginateEffect(0, (page: number) =>
        Effect.map(now, (t) => {
          fetched.push(`page ${page}@${t}`)
          const items = range(5).map((i) => page * 5 + i)
          return [items, page < 3 ? Option.some(page + 1) : Option.none()] as const
        })).pipe(Stream.flattenIterables)
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(pages, (item) => task(item, 1000), { maxAtOnce: 1 }))
      expect(starts).toEqual(range(20).map((i) => i * 1000))
      // each page is fetched when its first item is due, not all at once at the start
      expect(fetched).toEqual(["page 0@0", "page 1@5000", "page 2@10000", "page 3@15000"])
    }))

  it.effect("any Iterable: a Set, a generator, a Chunk", () =>
    Effect.gen(function*() {
      expect(yield* Scheduler.runAll(new Set([Effect.succeed(1), Effect.succeed(2)]))).toEqual([1, 2])
      function* gen() {
        yield Effect.succeed("a")
        yield Effect.succeed("b")
      }
      expect(yield* Scheduler.runAll(gen(), { maxAtOnce: 1 })).toEqual(["a", "b"])
      const seen: Array<number> = []
      yield* Scheduler.runEach(Chunk.make(3, 4), (n, i) => Effect.sync(() => seen.push(n * 10 + i)))
      expect(seen).toEqual([30, 41])
    }))
})

describe("Scheduler options", () => {
  it.effect("invalid maxAtOnce / maxPerSecond fail before any task starts, naming the option", () =>
    Effect.gen(function*() {
      let started = 0
      const task = Effect.sync(() => void started++)
      const cases: Array<[Scheduler.Options, string]> = [
        [{ maxAtOnce: 0 }, "Expected option maxAtOnce to be an integer >= 1, got 0"],
        [{ maxAtOnce: -1 }, "Expected option maxAtOnce to be an integer >= 1, got -1"],
        [{ maxAtOnce: 1.5 }, "Expected option maxAtOnce to be an integer >= 1, got 1.5"],
        [{ maxPerSecond: 0 }, "Expected option maxPerSecond to be a finite number > 0, got 0"],
        [{ maxPerSecond: -1 }, "Expected option maxPerSecond to be a finite number > 0, got -1"],
        [{ maxPerSecond: Number.NaN }, "Expected option maxPerSecond to be a finite number > 0, got NaN"]
      ]
      for (const [options, message] of cases) {
        expect(defectMessage(yield* Effect.exit(Scheduler.runAll([task, task], options)))).toBe(message)
        expect(defectMessage(yield* Effect.exit(Scheduler.runEach([1], () => task, options)))).toBe(message)
        expect(defectMessage(yield* Effect.exit(Scheduler.runAny([task], options)))).toBe(message)
        expect(defectMessage(yield* Effect.exit(Stream.runDrain(Scheduler.amap([1], () => task, options)))))
          .toBe(message)
      }
      expect(started).toBe(0)
    }))

  it.effect("throttle: one shared Throttle across concurrent runs", () =>
    Effect.scoped(Effect.gen(function*() {
      const throttle = yield* Throttle.make("2/s")
      const log: Array<string> = []
      const task = (label: string) => Effect.flatMap(now, (t) => Effect.sync(() => log.push(`${label}@${t}`)))
      const both = Effect.all([
        Scheduler.runEach(["a1", "a2", "a3"], task, { throttle }),
        Scheduler.runEach(["b1", "b2", "b3"], task, { throttle })
      ], { concurrency: "unbounded" })
      yield* runFor(both)
      const times = log.map((entry) => Number(entry.split("@")[1]))
      expect(times).toEqual([0, 0, 1000, 1000, 2000, 2000])
      expect((yield* throttle.stats).granted).toBe(6)
    })))

  it.effect("throttle with measure: \"release\" counts the whole task (it runs inside withPermit)", () =>
    Effect.scoped(Effect.gen(function*() {
      const throttle = yield* Throttle.make("1/s", { measure: "release" })
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(range(3), (i) => task(i, 500), { throttle }))
      expect(starts).toEqual([0, 1500, 3000])
    })))

  it.effect("throttle composes with maxPerSecond and maxAtOnce", () =>
    Effect.scoped(Effect.gen(function*() {
      const throttle = yield* Throttle.make("3/s")
      const { starts, task } = recorder()
      yield* runFor(Scheduler.runEach(range(5), (i) => task(i), { throttle, maxPerSecond: 10, maxAtOnce: 2 }))
      // maxPerSecond spaces 0,100,200; the shared 3/s window then holds the 4th and 5th until 1000 and 1100
      expect(starts).toEqual([0, 100, 200, 1000, 1100])
    })))

  it.effect("onProgress reports started / completed / failed / total as the run goes", () =>
    Effect.gen(function*() {
      const snapshots: Array<string> = []
      const onProgress = (p: Scheduler.Progress) =>
        Effect.flatMap(now, (t) =>
          Effect.sync(() => snapshots.push(`${t}: ${p.started}/${p.completed}/${p.failed}/${p.total}`)))
      const tasks = [
        Effect.as(Effect.sleep(100), 1),
        Effect.zipRight(Effect.sleep(50), Effect.fail("x")),
        Effect.as(Effect.sleep(100), 3)
      ]
      yield* runFor(Scheduler.runAll(tasks, { maxAtOnce: 2, settle: true, onProgress }))
      expect(snapshots).toEqual([
        "0: 1/0/0/3",
        "0: 2/0/0/3",
        "50: 2/0/1/3",
        "50: 3/0/1/3",
        "100: 3/1/1/3",
        "150: 3/2/1/3"
      ])
    }))

  it.effect("onProgress with a stream input: total is known when the stream ends", () =>
    Effect.gen(function*() {
      const last = yield* Ref.make<Scheduler.Progress | undefined>(undefined)
      const totals: Array<number | undefined> = []
      yield* runFor(Scheduler.runEach(Stream.range(1, 4), (n) => Effect.sleep(n * 100), {
        maxAtOnce: 1,
        onProgress: (p) => Effect.zipRight(Effect.sync(() => totals.push(p.total)), Ref.set(last, p))
      }))
      expect(yield* Ref.get(last)).toEqual({ started: 4, completed: 4, failed: 0, total: 4 })
      expect(totals[0]).toBeUndefined()
    }))

  it("public signatures", () => {
    const effects = [Effect.succeed(1), Effect.fail("e" as const)]
    expectTypeOf(Scheduler.runAll(effects)).toEqualTypeOf<Effect.Effect<Array<number>, "e">>()
    expectTypeOf(Scheduler.runAll(effects, { settle: true })).toEqualTypeOf<
      Effect.Effect<Array<Exit.Exit<number, "e">>>
    >()
    expectTypeOf(Scheduler.runAny(effects)).toEqualTypeOf<
      Effect.Effect<number, RunAnyError<"e"> | Cause.NoSuchElementException>
    >()
    expectTypeOf(Scheduler.amap([1, 2], (n) => Effect.succeed(String(n)))).toEqualTypeOf<Stream.Stream<string>>()
    expectTypeOf(Scheduler.runEach(Stream.fail("s" as const), () => Effect.void)).toEqualTypeOf<
      Effect.Effect<void, "s">
    >()
  })
})

describe("Scheduler metrics", () => {
  const tasks = (name: string, outcome: string) =>
    Effect.map(
      Metric.value(Metric.tagged(Metric.tagged(Scheduler.tasksTotal, "name", name), "outcome", outcome)),
      (s) => s.count
    )
  const running = (name: string) => Effect.map(Metric.value(Metric.tagged(Scheduler.running, "name", name)), (s) => s.value)
  const outcomes = (name: string) =>
    Effect.all({ success: tasks(name, "success"), failure: tasks(name, "failure"), interrupted: tasks(name, "interrupted") })

  it.effect("the running gauge equals the tasks running at each checked moment (maxAtOnce 2)", () =>
    Effect.gen(function*() {
      const name = "sched-running-gauge"
      const probe = concurrencyProbe()
      // Durations 100, 300, 200, 400, 100 with 2 at once: ends at 100, 300, 300, 700, 400.
      const fiber = yield* Effect.fork(
        Scheduler.runEach([100, 300, 200, 400, 100], (ms) => probe.task(ms), { maxAtOnce: 2, name })
      )
      const checks: Array<[number, number]> = [[50, 2], [150, 2], [350, 2], [450, 1], [800, 0]]
      let at = 0
      for (const [time, expected] of checks) {
        yield* TestClock.adjust(time - at)
        at = time
        expect([time, yield* running(name)]).toEqual([time, expected])
        expect(yield* running(name)).toBe(probe.running())
      }
      yield* Fiber.join(fiber)
      expect(yield* outcomes(name)).toEqual({ success: 5, failure: 0, interrupted: 0 })
    }))

  it.effect("a task waiting for its maxPerSecond start is not running", () =>
    Effect.gen(function*() {
      const name = "sched-running-paced"
      // 10 per second, tasks of 250 ms: starts at 0, 100, 200, 300; ends at 250, 350, 450, 550.
      const fiber = yield* Effect.fork(
        Scheduler.runAll([0, 1, 2, 3].map(() => Effect.sleep(250)), { maxPerSecond: 10, name })
      )
      const checks: Array<[number, number]> = [[50, 1], [150, 2], [240, 3], [260, 2], [310, 3], [360, 2], [460, 1], [600, 0]]
      let at = 0
      for (const [time, expected] of checks) {
        yield* TestClock.adjust(time - at)
        at = time
        expect([time, yield* running(name)]).toEqual([time, expected])
      }
      yield* Fiber.join(fiber)
      expect(yield* outcomes(name)).toEqual({ success: 4, failure: 0, interrupted: 0 })
    }))

  it.effect("tasks_total counts every started task once, by outcome (a scripted sequence)", () =>
    Effect.gen(function*() {
      const name = "sched-outcomes"
      const options = { maxAtOnce: 2, name } as const
      // settle: 2 successes, a typed failure and a defect, every one counted as it ends.
      const settled = Scheduler.runAll(
        [Effect.as(Effect.sleep(100), 1), Effect.zipRight(Effect.sleep(50), Effect.fail("no")), Effect.die("boom"), Effect.succeed(4)],
        { ...options, settle: true }
      )
      const fiber = yield* Effect.fork(settled)
      yield* TestClock.adjust(60)
      // At 60: the failure (50) and then the defect and the success (started at 50) have ended; the first still runs.
      expect(yield* outcomes(name)).toEqual({ success: 1, failure: 2, interrupted: 0 })
      expect(yield* running(name)).toBe(1)
      yield* TestClock.adjust(40)
      yield* Fiber.join(fiber)
      expect(yield* outcomes(name)).toEqual({ success: 2, failure: 2, interrupted: 0 })
      // Fail fast: the failure at 50 interrupts the task running beside it; the third never starts.
      const failFast = yield* Effect.fork(Effect.either(Scheduler.runAll(
        [Effect.sleep(100), Effect.zipRight(Effect.sleep(50), Effect.fail("no")), Effect.void],
        options
      )))
      yield* TestClock.adjust(100)
      yield* Fiber.join(failFast)
      expect(yield* outcomes(name)).toEqual({ success: 2, failure: 3, interrupted: 1 })
      // runAny: the first success (c at 30) wins; a and b, still running, are interrupted.
      const any = yield* Effect.fork(Scheduler.runAny(
        [Effect.as(Effect.sleep(100), "a"), Effect.as(Effect.sleep(200), "b"), Effect.as(Effect.sleep(30), "c")],
        { name }
      ))
      yield* TestClock.adjust(30)
      expect(yield* Fiber.join(any)).toBe("c")
      expect(yield* outcomes(name)).toEqual({ success: 3, failure: 3, interrupted: 3 })
      expect(yield* running(name)).toBe(0)
    }))

  it.effect("amap and a stream input are counted the same way; the default name is \"default\"", () =>
    Effect.gen(function*() {
      const before = yield* outcomes("default")
      const name = "sched-amap"
      const out = yield* Stream.runCollect(Scheduler.amap(Stream.make(3, 1, 2), (n) => Effect.succeed(n), { name }))
      expect(Chunk.toArray(out).sort()).toEqual([1, 2, 3])
      expect(yield* outcomes(name)).toEqual({ success: 3, failure: 0, interrupted: 0 })
      yield* Scheduler.runEach(Stream.make(1, 2), () => Effect.void)
      const after = yield* outcomes("default")
      expect(after.success - before.success).toBe(2)
    }))

  it.effect("an ended amap stream and an interrupted caller count the running tasks as interrupted", () =>
    Effect.gen(function*() {
      const name = "sched-interrupted"
      const first = yield* Effect.fork(Stream.runCollect(Stream.take(
        Scheduler.amap([100, 200, 300], (ms) => Effect.as(Effect.sleep(ms), ms), { name }),
        1
      )))
      yield* TestClock.adjust(50)
      expect(yield* running(name)).toBe(3)
      yield* TestClock.adjust(50)
      expect(Chunk.toArray(yield* Fiber.join(first))).toEqual([100])
      expect(yield* outcomes(name)).toEqual({ success: 1, failure: 0, interrupted: 2 })
      expect(yield* running(name)).toBe(0)
      const caller = yield* Effect.fork(Scheduler.runEach([1000, 1000, 1000], (ms) => Effect.sleep(ms), { maxAtOnce: 2, name }))
      yield* TestClock.adjust(10)
      expect(yield* running(name)).toBe(2)
      yield* Fiber.interrupt(caller)
      expect(yield* outcomes(name)).toEqual({ success: 1, failure: 0, interrupted: 4 })
      expect(yield* running(name)).toBe(0)
    }))

  let propRun = 0
  it.effect.prop(
    "the running gauge equals the running tasks at every 25 ms, and every task is counted once by outcome",
    [
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom("ok", "fail", "die")), { maxLength: 12 })
    ],
    ([maxAtOnce, specs]) =>
      Effect.gen(function*() {
        const name = `sched-prop-${propRun++}`
        const probe = concurrencyProbe()
        const task = ([ms, outcome]: readonly [number, string]) =>
          Effect.zipRight(
            probe.task(ms),
            outcome === "ok" ? Effect.void : outcome === "fail" ? Effect.fail("no") : Effect.die("boom")
          )
        const fiber = yield* Effect.fork(Scheduler.runAll(specs.map(task), { maxAtOnce, name, settle: true }))
        while (Option.isNone(yield* Fiber.poll(fiber))) {
          expect(yield* running(name)).toBe(probe.running())
          yield* TestClock.adjust(25)
        }
        yield* Fiber.join(fiber)
        const ok = specs.filter(([, outcome]) => outcome === "ok").length
        expect(yield* outcomes(name)).toEqual({ success: ok, failure: specs.length - ok, interrupted: 0 })
        expect(yield* running(name)).toBe(0)
      }),
    { fastCheck: { numRuns: 25 } }
  )

  it.effect("metrics: false records nothing", () =>
    Effect.gen(function*() {
      const name = "sched-metrics-off"
      const fiber = yield* Effect.fork(Effect.either(Scheduler.runAll(
        [Effect.sleep(100), Effect.fail("no"), Effect.sleep(100)],
        { name, metrics: false, maxAtOnce: 2, settle: true }
      )))
      yield* TestClock.adjust(50)
      expect(yield* running(name)).toBe(0)
      yield* TestClock.adjust(200)
      yield* Fiber.join(fiber)
      expect(yield* outcomes(name)).toEqual({ success: 0, failure: 0, interrupted: 0 })
    }))

  it.effect("bad name and metrics are defects naming the option", () =>
    Effect.gen(function*() {
      const cases: Array<[Scheduler.Options, string]> = [
        [{ name: 1 as unknown as string }, "Expected option name to be a string, got 1"],
        [{ metrics: "off" as unknown as boolean }, `Expected option metrics to be true or false, got "off"`]
      ]
      for (const [options, message] of cases) {
        expect(defectMessage(yield* Effect.exit(Scheduler.runAll([Effect.void], options)))).toBe(message)
      }
    }))
})

describe("Scheduler throttle option by brand", () => {
  it.scoped("a Throttle of another backend (makeWith) is accepted; an object that only looks like one is not", () =>
    Effect.gen(function*() {
      const inner = yield* Throttle.make("2/s")
      const other = ThrottleModule.makeWith({
        name: "other",
        rates: inner.rates,
        measure: inner.measure,
        burst: inner.burst,
        maxConcurrent: inner.maxConcurrent,
        acquire: (n) => inner.acquire(n),
        release: (n) => inner.release(n),
        tryAcquire: (n) => inner.tryAcquire(n),
        attempt: (n) => inner.attempt(n),
        pause: (d) => inner.pause(d),
        stats: inner.stats
      })
      const starts = yield* runFor(Scheduler.runAll([1, 2, 3].map(() => now), { throttle: other }))
      expect(starts).toEqual([0, 0, 1000])
      const lookalike = { withPermit: inner.withPermit } as unknown as Throttle.Service
      expect(defectMessage(yield* Effect.exit(Scheduler.runAll([Effect.void], { throttle: lookalike })))).toMatch(
        /^Expected option throttle to be a Throttle service, got /
      )
    }))
})
