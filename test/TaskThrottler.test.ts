import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Clock, Data, Duration, Effect, Exit, Fiber, Metric, Option, TestClock } from "effect"
import * as fc from "fast-check"
import * as TaskThrottler from "../src/TaskThrottler.js"
import { ThrottledError } from "../src/TaskThrottler.js"
import { runFor } from "./utils.js"

const now = Clock.currentTimeMillis


/** A log of `label@time` entries. */
const makeLog = () => {
  const entries: Array<string> = []
  const mark = (label: string) => Effect.flatMap(now, (t) => Effect.sync(() => void entries.push(`${label}@${t}`)))
  return { entries, mark }
}

/** A task that marks its start, sleeps, and succeeds with its label. */
const timed = (log: ReturnType<typeof makeLog>, label: string, millis: number) =>
  Effect.zipRight(log.mark(label), Effect.as(Effect.sleep(millis), label))

const ignore = () => Effect.void

class Boom extends Data.TaggedError("Boom")<{ readonly key: string }> {}

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? Option.match(Cause.dieOption(exit.cause), { onNone: () => undefined, onSome: (d) => (d as Error).message })
    : undefined

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("TaskThrottler window and concurrency", () => {
  it.effect("perWindow: 2 per 1 s, 5 instant tasks start at 0,0,1000,1000,2000 in input order", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const summary = yield* runFor(TaskThrottler.run({
        tasks: range(5).map((i) => timed(log, `t${i}`, 0)),
        consumer: ignore,
        window: "1 second",
        perWindow: 2,
        concurrency: 10
      }))
      expect(log.entries).toEqual(["t0@0", "t1@0", "t2@1000", "t3@1000", "t4@2000"])
      expect(summary).toEqual({ processed: 5, failed: [], gaveUp: [], retries: 0 })
    }))

  it.effect("the window slides: a start at t frees its slot at exactly t + window", () =>
    Effect.gen(function*() {
      const log = makeLog()
      yield* runFor(TaskThrottler.run({
        tasks: [timed(log, "a", 300), timed(log, "b", 100), timed(log, "c", 0), timed(log, "d", 0)],
        consumer: ignore,
        window: "1 second",
        perWindow: 2,
        concurrency: 1
      }))
      // c waits for a's slot (0 + 1000), d for b's (300 + 1000)
      expect(log.entries).toEqual(["a@0", "b@300", "c@1000", "d@1300"])
    }))

  it.effect("not early: at 999 ms the third start of 2 per second has not happened", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const fiber = yield* Effect.fork(TaskThrottler.run({
        tasks: range(3).map((i) => timed(log, `t${i}`, 0)),
        consumer: ignore,
        window: "1 second",
        perWindow: 2,
        concurrency: 3
      }))
      yield* TestClock.adjust("999 millis")
      expect(log.entries).toEqual(["t0@0", "t1@0"])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      expect(log.entries).toEqual(["t0@0", "t1@0", "t2@1000"])
    }))

  it.effect("at most `concurrency` run at once; a freed place is taken at once", () =>
    Effect.gen(function*() {
      const log = makeLog()
      let running = 0
      let peak = 0
      const task = (label: string, ms: number) =>
        Effect.acquireUseRelease(
          Effect.sync(() => (peak = Math.max(peak, ++running))),
          () => timed(log, label, ms),
          () => Effect.sync(() => void running--)
        )
      yield* runFor(TaskThrottler.run({
        tasks: [task("a", 300), task("b", 100), task("c", 200), task("d", 50)],
        consumer: ignore,
        window: "1 second",
        perWindow: 100,
        concurrency: 2
      }))
      expect(log.entries).toEqual(["a@0", "b@0", "c@100", "d@300"])
      expect(peak).toBe(2)
    }))

  it.effect("tasks are pulled lazily from the iterable, one per admission", () =>
    Effect.gen(function*() {
      const pulls: Array<number> = []
      function* tasks() {
        for (const i of range(3)) {
          pulls.push(i)
          yield Effect.as(Effect.sleep(100), i)
        }
      }
      const log = makeLog()
      yield* runFor(TaskThrottler.run({
        tasks: Array.from(range(3), (i) => Effect.zipRight(log.mark(`t${i}`), Effect.sleep(100))),
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1
      }))
      expect(log.entries).toEqual(["t0@0", "t1@100", "t2@200"])
      const fiber = yield* Effect.fork(TaskThrottler.run({
        tasks: tasks(),
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1
      }))
      yield* TestClock.adjust("50 millis")
      expect(pulls).toEqual([0]) // only the running task: the next is pulled when there is a place for it
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).processed).toBe(3)
    }))
})

describe("TaskThrottler consumer", () => {
  it.effect("each success goes to the consumer as it completes, in completion order, with its index", () =>
    Effect.gen(function*() {
      const log = makeLog()
      yield* runFor(TaskThrottler.run({
        tasks: [300, 100, 200].map((ms, i) => Effect.as(Effect.sleep(ms), `r${i}`)),
        consumer: (value, index) => log.mark(`${value}#${index}`),
        window: "1 second",
        perWindow: 10,
        concurrency: 3
      }))
      expect(log.entries).toEqual(["r1#1@100", "r2#2@200", "r0#0@300"])
    }))

  it.effect("a slow consumer runs one at a time, concurrently with the tasks, and never holds up admissions", () =>
    Effect.gen(function*() {
      const log = makeLog()
      let consuming = 0
      let peak = 0
      const summary = yield* runFor(TaskThrottler.run({
        tasks: range(3).map((i) => timed(log, `t${i}`, 100)),
        consumer: (value) =>
          Effect.acquireUseRelease(
            Effect.sync(() => (peak = Math.max(peak, ++consuming))),
            () => Effect.zipRight(log.mark(`consume ${value}`), Effect.sleep(1000)),
            () => Effect.sync(() => void consuming--)
          ),
        window: "1 second",
        perWindow: 10,
        concurrency: 1
      }))
      expect(log.entries.filter((e) => e.startsWith("t"))).toEqual(["t0@0", "t1@100", "t2@200"])
      expect(log.entries.filter((e) => e.startsWith("consume"))).toEqual([
        "consume t0@100",
        "consume t1@1100",
        "consume t2@2100"
      ])
      expect(peak).toBe(1)
      expect(summary.processed).toBe(3)
      expect(yield* now).toBe(3600_000) // the run ended after the last consumer call (at 3100), well within the hour
    }))

  it.effect("a failing consumer fails the run with its error and interrupts the running tasks", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const exit = yield* runFor(Effect.exit(TaskThrottler.run({
        tasks: range(4).map((i) =>
          Effect.as(Effect.sleep(100 * (i + 1)), i).pipe(
            Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(i)))
          )
        ),
        consumer: (value) => value === 1 ? Effect.fail(new Boom({ key: "consumer" })) : Effect.void,
        window: "1 second",
        perWindow: 10,
        concurrency: 4
      })))
      expect(exit).toEqual(Exit.fail(new Boom({ key: "consumer" })))
      expect(interrupted.sort()).toEqual([2, 3])
    }))
})

describe("TaskThrottler retry on ThrottledError", () => {
  it.effect("the replacement goes to the FRONT and admissions pause for `window`", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const b = Effect.zipRight(
        log.mark("b"),
        Effect.zipRight(Effect.sleep(50), Effect.fail(new ThrottledError({ retry: timed(log, "b'", 100) })))
      )
      const summary = yield* runFor(TaskThrottler.run({
        tasks: [timed(log, "a", 100), b, timed(log, "c", 100), timed(log, "d", 100)],
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1
      }))
      // b is throttled at 150: nothing starts before 1150, then b' first, then c and d
      expect(log.entries).toEqual(["a@0", "b@100", "b'@1150", "c@1250", "d@1350"])
      expect(summary).toEqual({ processed: 4, failed: [], gaveUp: [], retries: 1 })
    }))

  it.effect("during the pause, running tasks finish and the consumer goes on", () =>
    Effect.gen(function*() {
      const log = makeLog()
      yield* runFor(TaskThrottler.run({
        tasks: [
          timed(log, "a", 500),
          Effect.zipRight(Effect.sleep(50), Effect.fail(new ThrottledError({ retry: timed(log, "b'", 0) }))),
          timed(log, "c", 0)
        ],
        consumer: (value) => log.mark(`consume ${value}`),
        window: "1 second",
        perWindow: 10,
        concurrency: 2
      }))
      expect(log.entries).toEqual(["a@0", "consume a@500", "b'@1050", "c@1050", "consume b'@1050", "consume c@1050"])
    }))

  it.effect("retryAfter replaces the pause of `window`", () =>
    Effect.gen(function*() {
      const log = makeLog()
      yield* runFor(TaskThrottler.run({
        tasks: [
          Effect.fail(new ThrottledError({ retry: timed(log, "a'", 0), retryAfter: "300 millis" })),
          timed(log, "b", 0)
        ],
        consumer: ignore,
        window: "10 seconds",
        perWindow: 10,
        concurrency: 1
      }))
      expect(log.entries).toEqual(["a'@300", "b@300"])
    }))

  it.effect("every attempt counts toward perWindow", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const a = Effect.zipRight(
        log.mark("a"),
        Effect.fail(new ThrottledError({ retry: timed(log, "a'", 0), retryAfter: 0 }))
      )
      yield* runFor(TaskThrottler.run({
        tasks: [a, timed(log, "b", 0), timed(log, "c", 0)],
        consumer: ignore,
        window: "1 second",
        perWindow: 2,
        concurrency: 1
      }))
      // a and a' use the first window's two slots
      expect(log.entries).toEqual(["a@0", "a'@0", "b@1000", "c@1000"])
    }))

  it.effect("after maxRetries retries the input is given up; maxRetries: 2 means at most 3 attempts", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const stubborn: Effect.Effect<string, ThrottledError> = Effect.suspend(() =>
        Effect.zipRight(log.mark("s"), Effect.fail(new ThrottledError({ retry: stubborn })))
      )
      const summary = yield* runFor(TaskThrottler.run({
        tasks: [timed(log, "ok", 0), stubborn],
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1,
        maxRetries: 2
      }))
      expect(log.entries).toEqual(["ok@0", "s@0", "s@1000", "s@2000"])
      expect(summary.processed).toBe(1)
      expect(summary.retries).toBe(2)
      expect(summary.failed).toEqual([])
      expect(summary.gaveUp.length).toBe(1)
      expect(summary.gaveUp[0]!.index).toBe(1)
      expect(summary.gaveUp[0]!.error).toBeInstanceOf(ThrottledError)
    }))

  it.effect("maxRetries defaults to 10 (11 attempts)", () =>
    Effect.gen(function*() {
      let attempts = 0
      const stubborn: Effect.Effect<never, ThrottledError> = Effect.suspend(() => {
        attempts++
        return Effect.fail(new ThrottledError({ retry: stubborn }))
      })
      const summary = yield* runFor(TaskThrottler.run({
        tasks: [stubborn],
        consumer: ignore,
        window: "1 second",
        perWindow: 1,
        concurrency: 1
      }))
      expect(attempts).toBe(11)
      expect(summary).toMatchObject({ processed: 0, failed: [], retries: 10 })
      expect(summary.gaveUp.map((g) => g.index)).toEqual([0])
    }))

  it.effect("ThrottledError is a tagged error with a message, also reachable as TaskThrottler.ThrottledError", () =>
    Effect.gen(function*() {
      const plain = new TaskThrottler.ThrottledError({ retry: Effect.void })
      expect(plain._tag).toBe("ThrottledError")
      expect(plain.message).toBe("Task throttled: retry after the window")
      expect(new ThrottledError({ retry: Effect.void, retryAfter: "2 seconds" }).message).toBe(
        "Task throttled: retry after 2s"
      )
      expect(yield* Effect.flip(plain)).toBe(plain)
    }))
})

describe("TaskThrottler failures and completion", () => {
  it.effect("other failures are recorded with their input index; the rest goes on", () =>
    Effect.gen(function*() {
      const values: Array<number> = []
      const summary = yield* runFor(TaskThrottler.run({
        tasks: [
          Effect.succeed(0),
          Effect.fail(new Boom({ key: "one" })),
          Effect.zipRight(Effect.sleep(10), Effect.succeed(2)),
          Effect.fail(new Boom({ key: "three" }))
        ],
        consumer: (value) => Effect.sync(() => void values.push(value)),
        window: "1 second",
        perWindow: 10,
        concurrency: 4
      }))
      expect(summary).toEqual({
        processed: 2,
        failed: [{ index: 1, error: new Boom({ key: "one" }) }, { index: 3, error: new Boom({ key: "three" }) }],
        gaveUp: [],
        retries: 0
      })
      expect(values).toEqual([0, 2])
    }))

  it.effect("always completes when the last tasks fail (the seed's hang)", () =>
    Effect.gen(function*() {
      const tasks: Array<Effect.Effect<string, Boom | ThrottledError>> = [
        Effect.succeed("ok"),
        Effect.zipRight(Effect.sleep(100), Effect.fail(new Boom({ key: "late" }))),
        Effect.fail(new ThrottledError({ retry: Effect.fail(new ThrottledError({ retry: Effect.succeed("no") })) })),
        Effect.fail(new Boom({ key: "last" }))
      ]
      const summary = yield* runFor(TaskThrottler.run({
        tasks,
        consumer: ignore,
        window: "1 second",
        perWindow: 2,
        concurrency: 1,
        maxRetries: 1
      }))
      expect(summary.processed).toBe(1)
      expect(summary.failed.map((f) => f.index)).toEqual([1, 3])
      expect(summary.gaveUp.map((g) => g.index)).toEqual([2])
      expect(summary.retries).toBe(1)
    }))

  it.effect("completes for inputs of length 0 and 1", () =>
    Effect.gen(function*() {
      const none = yield* TaskThrottler.run({
        tasks: [],
        consumer: ignore,
        window: "1 second",
        perWindow: 1,
        concurrency: 1
      })
      expect(none).toEqual({ processed: 0, failed: [], gaveUp: [], retries: 0 })
      const seen: Array<string> = []
      const one = yield* TaskThrottler.run({
        tasks: [Effect.succeed("only")],
        consumer: (value) => Effect.sync(() => void seen.push(value)),
        window: "1 second",
        perWindow: 1,
        concurrency: 1
      })
      expect(one).toEqual({ processed: 1, failed: [], gaveUp: [], retries: 0 })
      expect(seen).toEqual(["only"])
      const oneFailing = yield* TaskThrottler.run({
        tasks: [Effect.fail("nope")],
        consumer: ignore,
        window: "1 second",
        perWindow: 1,
        concurrency: 1
      })
      expect(oneFailing).toEqual({ processed: 0, failed: [{ index: 0, error: "nope" }], gaveUp: [], retries: 0 })
    }))

  it.effect("a task's defect fails the run with that defect and interrupts the others", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const exit = yield* runFor(Effect.exit(TaskThrottler.run({
        tasks: [
          Effect.onInterrupt(Effect.sleep(1000), () => Effect.sync(() => void interrupted.push(0))),
          Effect.zipRight(Effect.sleep(10), Effect.die("bug"))
        ],
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 2
      })))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(interrupted).toEqual([0])
    }))

  it.effect("interrupting the run interrupts the running tasks", () =>
    Effect.gen(function*() {
      const interrupted: Array<number> = []
      const fiber = yield* Effect.fork(TaskThrottler.run({
        tasks: range(3).map((i) => Effect.onInterrupt(Effect.never, () => Effect.sync(() => void interrupted.push(i)))),
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 2
      }))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(fiber)
      expect(interrupted.sort()).toEqual([0, 1])
    }))

  it.effect.prop(
    "every input is accounted for exactly once; window, concurrency and maxRetries hold",
    {
      outcomes: fc.array(
        fc.record({
          ms: fc.integer({ min: 0, max: 400 }),
          throttles: fc.integer({ min: 0, max: 4 }),
          end: fc.constantFrom("ok", "fail")
        }),
        { maxLength: 25 }
      ),
      perWindow: fc.integer({ min: 1, max: 5 }),
      concurrency: fc.integer({ min: 1, max: 4 }),
      maxRetries: fc.integer({ min: 0, max: 3 }),
      consumerMs: fc.integer({ min: 0, max: 300 })
    },
    ({ concurrency, consumerMs, maxRetries, outcomes, perWindow }) =>
      Effect.gen(function*() {
        const base = yield* now
        const starts: Array<number> = []
        let running = 0
        let peak = 0
        const consumed: Array<number> = []
        const attempt = (index: number, left: number): Effect.Effect<number, ThrottledError | Boom> =>
          Effect.gen(function*() {
            starts.push((yield* now) - base)
            peak = Math.max(peak, ++running)
            yield* Effect.sleep(outcomes[index]!.ms)
            running--
            if (left > 0) return yield* Effect.fail(new ThrottledError({ retry: attempt(index, left - 1) }))
            if (outcomes[index]!.end === "fail") return yield* Effect.fail(new Boom({ key: String(index) }))
            return index
          })
        const summary = yield* runFor(
          TaskThrottler.run({
            tasks: outcomes.map((o, i) => attempt(i, o.throttles)),
            consumer: (value) => Effect.zipRight(Effect.sleep(consumerMs), Effect.sync(() => void consumed.push(value))),
            window: "1 second",
            perWindow,
            concurrency,
            maxRetries
          }),
          "1 day"
        )
        // exactly once
        const seen = [...consumed, ...summary.failed.map((f) => f.index), ...summary.gaveUp.map((g) => g.index)]
        expect(seen.sort((a, b) => a - b)).toEqual(range(outcomes.length))
        expect(summary.processed).toBe(consumed.length)
        const expectedGaveUp = range(outcomes.length).filter((i) => outcomes[i]!.throttles > maxRetries)
        expect(summary.gaveUp.map((g) => g.index)).toEqual(expectedGaveUp)
        const expectedFailed = range(outcomes.length).filter((i) =>
          outcomes[i]!.throttles <= maxRetries && outcomes[i]!.end === "fail"
        )
        expect(summary.failed.map((f) => f.index)).toEqual(expectedFailed)
        expect(summary.retries).toBe(outcomes.reduce((n, o) => n + Math.min(o.throttles, maxRetries), 0))
        // every attempt counts: never more than perWindow starts in any window [t, t + 1000)
        expect(starts.length).toBe(outcomes.length + summary.retries)
        for (let i = perWindow; i < starts.length; i++) {
          expect(starts[i]! - starts[i - perWindow]!).toBeGreaterThanOrEqual(1000)
        }
        expect(peak).toBeLessThanOrEqual(concurrency)
      }),
    { fastCheck: { numRuns: 40 } }
  )
})

describe("TaskThrottler options", () => {
  it.effect("invalid options are defects naming the option, raised before any task starts", () =>
    Effect.gen(function*() {
      let started = 0
      const tasks = [Effect.sync(() => void started++)]
      const base = { tasks, consumer: ignore, window: "1 second", perWindow: 1, concurrency: 1 } as const
      const cases: Array<[Partial<TaskThrottler.Options<void>>, string]> = [
        [{ perWindow: 0 }, "Expected option perWindow to be an integer >= 1, got 0"],
        [{ perWindow: 1.5 }, "Expected option perWindow to be an integer >= 1, got 1.5"],
        [{ concurrency: 0 }, "Expected option concurrency to be an integer >= 1, got 0"],
        [{ concurrency: -2 }, "Expected option concurrency to be an integer >= 1, got -2"],
        [{ window: 0 }, "Expected option window to be a positive finite duration, got 0"],
        [{ window: -5 }, "Expected option window to be a positive finite duration, got -5"],
        [{ window: "soon" as Duration.DurationInput }, `Expected option window to be a positive finite duration, got "soon"`],
        [{ maxRetries: -1 }, "Expected option maxRetries to be an integer >= 0, got -1"],
        [{ name: 7 as unknown as string }, "Expected option name to be a string, got 7"],
        [{ metrics: "no" as unknown as boolean }, `Expected option metrics to be true or false, got "no"`]
      ]
      for (const [override, message] of cases) {
        const exit = yield* Effect.exit(TaskThrottler.run({ ...base, ...override }))
        expect(defectMessage(exit)).toBe(message)
      }
      expect(started).toBe(0)
    }))

  it("public signature: ThrottledError is excluded from the failures' type", () => {
    const tasks: Array<Effect.Effect<number, Boom | ThrottledError<number, Boom>>> = []
    const run = TaskThrottler.run({
      tasks,
      consumer: (n: number) => Effect.log(n),
      window: "1 second",
      perWindow: 1,
      concurrency: 1
    })
    expectTypeOf(run).toEqualTypeOf<Effect.Effect<TaskThrottler.Summary<Boom>>>()
  })
})

describe("TaskThrottler metrics", () => {
  const retries = (name: string) => Effect.map(Metric.value(Metric.tagged(TaskThrottler.retriesTotal, "name", name)), (s) => s.count)

  /** Task `label` is throttled `times` times (each retry 100 ms later), then succeeds. */
  const flaky = (log: ReturnType<typeof makeLog>, label: string, times: number): Effect.Effect<string, ThrottledError> =>
    Effect.zipRight(
      log.mark(label),
      times === 0
        ? Effect.succeed(label)
        : Effect.fail(new ThrottledError({ retry: flaky(log, `${label}'`, times - 1), retryAfter: "100 millis" }))
    )

  it.effect("retries_total counts each queued replacement, in the step that queues it", () =>
    Effect.gen(function*() {
      const name = "tt-metrics-scripted"
      const log = makeLog()
      const fiber = yield* Effect.fork(TaskThrottler.run({
        tasks: [flaky(log, "a", 2), flaky(log, "b", 0), flaky(log, "c", 5)],
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1,
        maxRetries: 2,
        name
      }))
      // a at 0 is throttled: one retry queued, nothing started until the pause ends at 100.
      yield* TestClock.adjust("50 millis")
      expect(log.entries).toEqual(["a@0"])
      expect(yield* retries(name)).toBe(1)
      yield* TestClock.adjust("50 millis")
      expect(log.entries).toEqual(["a@0", "a'@100"])
      expect(yield* retries(name)).toBe(2)
      yield* TestClock.adjust("1 second")
      const summary = yield* Fiber.join(fiber)
      // a'' succeeds at 200, b at 200; c is throttled at 200, 300, 400 and given up after 2 retries.
      expect(log.entries).toEqual(["a@0", "a'@100", "a''@200", "b@200", "c@200", "c'@300", "c''@400"])
      expect(summary.retries).toBe(4)
      expect(summary.gaveUp.map((g) => g.index)).toEqual([2])
      expect(yield* retries(name)).toBe(4)
      // A second run under the same name adds to the same series.
      yield* runFor(TaskThrottler.run({
        tasks: [flaky(log, "d", 1)],
        consumer: ignore,
        window: "1 second",
        perWindow: 10,
        concurrency: 1,
        name
      }))
      expect(yield* retries(name)).toBe(5)
    }))

  it.effect("the default name is \"default\"; metrics: false records nothing", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const before = yield* retries("default")
      const options = { consumer: ignore, window: "1 second", perWindow: 10, concurrency: 1 } as const
      yield* runFor(TaskThrottler.run({ ...options, tasks: [flaky(log, "a", 1)] }))
      expect((yield* retries("default")) - before).toBe(1)
      const name = "tt-metrics-off"
      const summary = yield* runFor(TaskThrottler.run({ ...options, tasks: [flaky(log, "b", 3)], name, metrics: false }))
      expect(summary.retries).toBe(3)
      expect(yield* retries(name)).toBe(0)
    }))
})
