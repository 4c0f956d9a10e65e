/**
 * The Throttle benchmarks of issues 10 and 11 (wave 2), each a ratio measured within one run:
 *
 * - `multiwindow` — uncontended `withPermit` with two windows (`["1000000/s", "100000000/min"]`) over one window
 *   (`"1000000/s"`); target ≤ 1.2×.
 * - `keyed` — `KeyedThrottle.withPermit(key)` cycling over 10 000 live keys over a single throttle's `withPermit`;
 *   target ≤ 1.5×.
 * - `smooth` — achieved rate of `smooth: true` (GCRA) against window mode at 1 000/s and 10 000/s (target: within
 *   2 points), and the smallest gap between smooth grants at 50/s (target ≥ interval − 1 ms).
 * - `metrics` — uncontended `withPermit` with metrics on over `metrics: false` (target ≤ 1.10×); and 10 000 waiters
 *   (at most 10 at a time) with events and no subscriber, with one subscriber, and with metrics on.
 *
 * Like bench/throttle.ts, every `run*` returns JSON-serializable data and a printable report.
 */
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as KeyedThrottle from "../src/KeyedThrottle.js"
import { Throttle } from "../src/Throttle.js"
import type { Sample } from "./harness.js"
import { analyzeStarts, collectGarbage, delay, fmt, now, pct, range, ratio, roundRobin, table } from "./harness.js"
import type { Options, ScenarioResult } from "./throttle.js"
import { UNLIMITED } from "./throttle.js"


/** "Effectively unlimited": no window ever fills. */

/** One measured case: its name, its median ns (or µs) per operation, every run. */
export interface CaseRow {
  readonly name: string
  readonly ops: number
  readonly median: number
  readonly runs: ReadonlyArray<number>
}

/** A ratio with its target. */
export interface Ratio {
  readonly name: string
  readonly value: number
  readonly target: number
  readonly met: boolean
}

const ratioRow = (name: string, value: number, target: number): Ratio => ({ name, value, target, met: value <= target })

/**
 * Times `ops` operations `op(i)` run one after another in one Effect program (after `setup`, outside the timing);
 * returns ns per op.
 */
export const sequential = <S>(
  setup: Effect.Effect<S, never, Scope.Scope>,
  op: (s: S, i: number) => Effect.Effect<void>,
  ops: number
) => {
  const indices = range(ops)
  return () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const s = yield* setup
      const start = now()
      yield* Effect.forEach(indices, (i) => op(s, i), { discard: true })
      return ((now() - start) * 1e6) / ops
    })))
}

const measureCases = async (
  options: Options,
  cases: ReadonlyArray<readonly [string, number, () => Promise<number>]>
): Promise<ReadonlyArray<CaseRow>> => {
  const samples = await roundRobin(
    { warmup: 1, repetitions: options.quick ? 3 : 7 },
    cases.map(([, , once]) => once)
  )
  return cases.map(([name, ops], i) => {
    const s = samples[i] as Sample
    return { name, ops, median: s.median, runs: s.runs }
  })
}

const caseTable = (rows: ReadonlyArray<CaseRow>, unit: string): string =>
  table(
    ["case", "ops", `median ${unit}`, "× first", `runs (${unit})`],
    rows.map((r) => [
      r.name,
      fmt(r.ops),
      fmt(r.median, unit === "ns/op" ? 0 : 3),
      ratio(r.median / (rows[0] as CaseRow).median),
      r.runs.map((x) => fmt(x, unit === "ns/op" ? 0 : 3)).join(" ")
    ])
  )

const ratioLine = (r: Ratio): string =>
  `${r.name}: ${ratio(r.value)} (target ≤ ${r.target.toFixed(2)}×) — ${r.met ? "MET" : "MISSED"}`

// ===============================================================================================================
// Multi-window overhead
// ===============================================================================================================

export interface MultiWindowData {
  readonly rows: ReadonlyArray<CaseRow>
  readonly ratio: Ratio
}

/**
 * Uncontended `withPermit(Effect.void)` in sequence, 200 000 ops per run: one window `"1000000/s"` against two
 * windows `["1000000/s", "100000000/min"]`. A run lasts well under a second at a few hundred ns per op, so fewer
 * than 10^6 permits fall in any second: nothing ever waits, the figure is the bookkeeping of one vs two windows.
 */
export const runMultiWindow = async (options: Options): Promise<ScenarioResult<MultiWindowData>> => {
  const ops = options.quick ? 50_000 : 200_000
  const one = Effect.orDie(Throttle.make("1000000/s"))
  const two = Effect.orDie(Throttle.make(["1000000/s", "100000000/min"]))
  const rows = await measureCases(options, [
    ["withPermit, one window \"1000000/s\"", ops, sequential(one, (t) => t.withPermit(Effect.void), ops)],
    [
      "withPermit, two windows [\"1000000/s\", \"100000000/min\"]",
      ops,
      sequential(two, (t) => t.withPermit(Effect.void), ops)
    ]
  ])
  const r = ratioRow("two windows / one window", (rows[1] as CaseRow).median / (rows[0] as CaseRow).median, 1.2)
  const report = [
    "### Multi-window overhead — uncontended withPermit(Effect.void) in sequence",
    "",
    caseTable(rows, "ns/op"),
    "",
    ratioLine(r)
  ].join("\n")
  return { data: { rows, ratio: r }, report }
}

// ===============================================================================================================
// Keyed throttle
// ===============================================================================================================

export interface KeyedData {
  readonly keys: number
  readonly rows: ReadonlyArray<CaseRow>
  readonly ratio: Ratio
  /** Creating the keys (first use of each), µs per key. */
  readonly createUsPerKey: number
}

/**
 * `KeyedThrottle.withPermit(key)(Effect.void)` cycling over 10 000 live keys (string keys `"host-<i>"`, created
 * before the timing) against a single throttle's `withPermit(Effect.void)`, both uncontended, rate effectively
 * unlimited, 200 000 ops per run in sequence.
 */
export const runKeyed = async (options: Options): Promise<ScenarioResult<KeyedData>> => {
  const ops = options.quick ? 50_000 : 200_000
  const count = 10_000
  const keys = range(count).map((i) => `host-${i}`)
  // One keyed throttle for every repetition: its 10 000 keys are created once (a key's first use builds a throttle,
  // which is not what is measured here), outside the timing.
  const scope = Effect.runSync(Scope.make())
  const start = now()
  const keyed = await Effect.runPromise(Effect.tap(
    Scope.extend(KeyedThrottle.make({ rate: UNLIMITED }), scope),
    (k) => Effect.forEach(keys, (key) => k.withPermit(key)(Effect.void), { discard: true })
  ))
  const createUsPerKey = ((now() - start) * 1e3) / count
  const rows = await measureCases(options, [
    [
      "single throttle withPermit",
      ops,
      sequential(Effect.orDie(Throttle.make(UNLIMITED)), (t) => t.withPermit(Effect.void), ops)
    ],
    [
      `KeyedThrottle withPermit over ${fmt(count)} live keys`,
      ops,
      sequential(Effect.succeed(keyed), (k, i) => k.withPermit(keys[i % count] as string)(Effect.void), ops)
    ]
  ])
  await Effect.runPromise(Scope.close(scope, Exit.void))
  const r = ratioRow(
    `keyed (${fmt(count)} keys) / single`,
    (rows[1] as CaseRow).median / (rows[0] as CaseRow).median,
    1.5
  )
  const report = [
    `### Keyed throttle — uncontended withPermit, ${fmt(count)} live keys`,
    "",
    caseTable(rows, "ns/op"),
    "",
    ratioLine(r),
    `Creating a key (its first use: a new throttle) took ${fmt(createUsPerKey, 1)} µs.`
  ].join("\n")
  return { data: { keys: count, rows, ratio: r, createUsPerKey }, report }
}

// ===============================================================================================================
// Smooth vs window
// ===============================================================================================================

export interface SmoothRow {
  readonly rate: string
  /** How the tasks arrive: all forked at once, or a pool of callers each taking permits in a loop. */
  readonly driver: string
  /** The longest gap between consecutive smooth starts, ms (a stall of the event loop shows here). */
  readonly smoothMaxGapMs: number
  readonly limit: number
  readonly tasks: number
  readonly windowAchieved: number
  readonly smoothAchieved: number
  readonly burst: number
  /** smooth − window, in percentage points. */
  readonly differencePoints: number
  /** Whether the 2-point target applies (not to the driver whose own fork stall is measured). */
  readonly targeted: boolean
  /** The queued driver: whether every task was queued before the pause ended, in both runs (else the row is void). */
  readonly queuedInTime: boolean
  readonly met: boolean
}

export interface SmoothData {
  readonly rows: ReadonlyArray<SmoothRow>
  /** At 50/s smooth: the smallest gap between consecutive starts, ms, and the interval. */
  readonly gaps: { readonly minGapMs: number; readonly intervalMs: number; readonly met: boolean }
}

/** Runs `tasks` trivial tasks through `throttle`, all submitted at once; returns the starts and submission. */
const runStarts = (throttle: Throttle.Service, tasks: number) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const record = Effect.sync(() => {
      starts.push(now())
    })
    const t0 = now()
    yield* Effect.forEach(range(tasks), () => throttle.withPermit(record), { concurrency: "unbounded", discard: true })
    return { starts, t0 }
  })

/**
 * Runs `tasks` trivial tasks through `throttle`, every one of them queued before the first grant: the throttle is
 * paused for `holdMs`, the tasks are forked (each waits in the throttle's queue), and the pause ends with the whole
 * queue in place and the event loop idle. Returns the starts, and how long queueing took (it must end before the
 * pause does, or the row is void).
 */
const runQueued = (throttle: Throttle.Service, tasks: number, holdMs: number) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const record = Effect.sync(() => {
      starts.push(now())
    })
    yield* throttle.pause(Duration.millis(holdMs))
    const t0 = now()
    const all = yield* Effect.fork(
      Effect.forEach(range(tasks), () => throttle.withPermit(record), { concurrency: "unbounded", discard: true })
    )
    while ((yield* throttle.stats).waiting < tasks && now() - t0 < holdMs) yield* Effect.sleep(Duration.millis(5))
    const queuedMs = now() - t0
    yield* Fiber.join(all)
    return { starts, t0, queuedMs }
  })

/** Runs `tasks` trivial tasks through `throttle` from `callers` fibers, each taking permits in a loop. */
const runCallers = (throttle: Throttle.Service, tasks: number, callers: number) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const record = Effect.sync(() => {
      starts.push(now())
    })
    let left = tasks
    const t0 = now()
    yield* Effect.forEach(
      range(callers),
      () => Effect.whileLoop({ while: () => left-- > 0, body: () => throttle.withPermit(record), step: () => {} }),
      { concurrency: "unbounded", discard: true }
    )
    return { starts, t0 }
  })

/**
 * The callers of the pool driver: enough to keep 10 000/s busy, few enough that forking them (~40 µs a fiber on the
 * 2-core machine of the README's figures) does not stall the loop beyond the GCRA burst (1 000 callers: ~50 ms).
 */
const CALLERS = 100

/** How long the queued driver holds the throttle paused while it queues its tasks (50 000 fibers: ~1.5 s here). */
const QUEUE_HOLD_MS = 4000

/**
 * Achieved rate on the real clock, window mode against `smooth: true`, at 1 000/s and 10 000/s, 5 s of tasks
 * (2 s with `--quick`), with three drivers:
 * - all queued, then released: every task is in the throttle's queue before the first grant (see `runQueued`);
 * - callers: a pool of 100 fibers, each taking permits in a loop (a crawler's workers);
 * - forked while running (no target): every task forked at once, the first grant comes while the rest are being
 *   forked. Forking 5 000–50 000 fibers blocks the event loop for 0.1–1.4 s right after the first grant; window
 *   mode makes that up (its window admits the missed grants at once), GCRA by its contract cannot (lateness beyond
 *   `burst − 1` intervals is lost), so this row measures the driver's stall (its longest gap is shown).
 * Window mode's achieved rate is the accuracy scenario's (the initial burst of `limit` discounted); smooth mode's
 * discounts its initial burst the same way: `(started − burst) × interval / (last − first)`. Both are 100% on
 * their ideal schedule.
 */
export const runSmooth = async (options: Options): Promise<ScenarioResult<SmoothData>> => {
  const seconds = options.quick ? 2 : 5
  // Gaps at 50/s: 100 tasks, smooth; first, on a quiet heap (after the 50 000-fiber rows below, a collection
  // between a grant and its task's first step shows as a short gap)
  collectGarbage()
  const fifty = await Effect.runPromise(Effect.scoped(Effect.flatMap(
    Throttle.make("50/s", { smooth: true }),
    (t) => runStarts(t, options.quick ? 50 : 100)
  )))
  const sorted = Float64Array.from(fifty.starts).sort()
  let minGapMs = Number.POSITIVE_INFINITY
  for (let i = 1; i < sorted.length; i++) minGapMs = Math.min(minGapMs, (sorted[i] as number) - (sorted[i - 1] as number))
  const gaps = { minGapMs, intervalMs: 20, met: minGapMs >= 19 }
  const rows: Array<SmoothRow> = []
  const drivers = [
    ["all queued, then released", (t: Throttle.Service, tasks: number) => runQueued(t, tasks, QUEUE_HOLD_MS), true],
    [`${fmt(CALLERS)} callers`, (t: Throttle.Service, tasks: number) => runCallers(t, tasks, CALLERS), true],
    // measures the driver's own stall: no target
    ["forked while running (no target)", runStarts, false]
  ] as const
  for (const [driver, drive, targeted] of drivers) {
    for (const limit of [1000, 10_000]) {
      const tasks = limit * seconds
      const rate = { limit, period: "1 second" } as const
      collectGarbage()
      await delay(50)
      const windowRun: { starts: Array<number>; t0: number; queuedMs?: number } = await Effect.runPromise(
        Effect.scoped(Effect.flatMap(Throttle.make(rate), (t) => drive(t, tasks)))
      )
      const windowReport = analyzeStarts({ starts: windowRun.starts, submitted: tasks, t0: windowRun.t0, limit, period: 1000 })
      collectGarbage()
      await delay(50)
      const smooth = await Effect.runPromise(Effect.scoped(Effect.flatMap(
        Throttle.make(rate, { smooth: true }),
        (t) => Effect.map(drive(t, tasks), (r): { starts: Array<number>; queuedMs?: number; burst: number } => ({ ...r, burst: t.burst }))
      )))
      const queuedInTime = [windowRun.queuedMs, smooth.queuedMs].every((ms) => ms === undefined || ms < QUEUE_HOLD_MS)
      const sorted = Float64Array.from(smooth.starts).sort()
      const interval = 1000 / limit
      const span = (sorted[sorted.length - 1] as number) - (sorted[0] as number)
      let smoothMaxGapMs = 0
      for (let i = 1; i < sorted.length; i++) {
        smoothMaxGapMs = Math.max(smoothMaxGapMs, (sorted[i] as number) - (sorted[i - 1] as number))
      }
      const smoothAchieved = ((sorted.length - smooth.burst) * interval) / span
      const differencePoints = (smoothAchieved - windowReport.achieved) * 100
      rows.push({
        rate: `${fmt(limit)}/s`,
        driver,
        smoothMaxGapMs,
        limit,
        tasks,
        windowAchieved: windowReport.achieved,
        smoothAchieved,
        burst: smooth.burst,
        differencePoints,
        targeted,
        queuedInTime,
        met: queuedInTime && differencePoints >= -2
      })
    }
  }
  const report = [
    `### Smooth (GCRA) vs window — achieved rate on the real clock, ${seconds} s of tasks`,
    "",
    table(
      [
        "rate",
        "driver",
        "tasks",
        "window achieved",
        "smooth achieved",
        "smooth burst",
        "smooth longest gap",
        "smooth − window",
        "target ≥ −2 pts"
      ],
      rows.map((r) => [
        r.rate,
        r.driver,
        fmt(r.tasks),
        pct(r.windowAchieved),
        pct(r.smoothAchieved),
        fmt(r.burst),
        `${fmt(r.smoothMaxGapMs, 1)} ms`,
        `${r.differencePoints >= 0 ? "+" : ""}${r.differencePoints.toFixed(1)} pts`,
        !r.targeted ? "—" : !r.queuedInTime ? "VOID (queueing outlasted the pause)" : r.met ? "MET" : "MISSED"
      ])
    ),
    "",
    "achieved = (started − initial burst) / (last start − first start) × the spacing the rate allows (window: " +
    "limit per period, burst = limit; smooth: one per interval, burst = the GCRA burst).",
    "All queued, then released: the throttle is paused while every task is forked into its queue; the pause ends " +
    "with the queue full and the event loop idle. Callers: a pool of fibers taking permits in a loop. Forked while " +
    "running: every task forked after the first grant; forking blocks the event loop (its longest gap), window " +
    "mode admits what it missed at once, GCRA by its contract cannot (lateness beyond burst − 1 intervals is " +
    "lost), so that row measures the driver's stall and has no target.",
    `Smooth at 50/s: smallest gap between starts ${fmt(minGapMs, 2)} ms (interval 20 ms; target ≥ 19 ms) — ` +
    `${gaps.met ? "MET" : "MISSED"}.`
  ].join("\n")
  return { data: { rows, gaps }, report }
}

// ===============================================================================================================
// Metrics and events
// ===============================================================================================================

export interface MetricsData {
  readonly uncontended: ReadonlyArray<CaseRow>
  readonly contended: ReadonlyArray<CaseRow>
  readonly metricsRatio: Ratio
  readonly contendedMetricsRatio: number
  readonly subscriberRatio: number
}

/**
 * - Uncontended `withPermit(Effect.void)` in sequence (200 000 ops, rate effectively unlimited): `metrics: false`
 *   against the default (metrics and spans on). Target: on ≤ 1.10× off.
 * - 10 000 tasks of `Effect.yieldNow()` at most 10 at a time (`maxConcurrent: 10`; ~10 000 waiters queue), µs per
 *   task: `metrics: false` with no `events` subscriber (the events' only cost then is a subscriber-count check per
 *   event), the same with one subscriber draining `events`, and the default (metrics on, no subscriber).
 *   Events cannot be switched off, so "no subscriber vs no events at all" is not measurable from outside; the
 *   report gives what a subscriber costs and what metrics cost under contention.
 */
export const runMetrics = async (options: Options): Promise<ScenarioResult<MetricsData>> => {
  const ops = options.quick ? 50_000 : 200_000
  const uncontended = await measureCases(options, [
    [
      "withPermit, metrics: false",
      ops,
      sequential(Effect.orDie(Throttle.make(UNLIMITED, { metrics: false })), (t) => t.withPermit(Effect.void), ops)
    ],
    [
      "withPermit, metrics on (default)",
      ops,
      sequential(Effect.orDie(Throttle.make(UNLIMITED, { name: "bench" })), (t) => t.withPermit(Effect.void), ops)
    ]
  ])
  const waiters = 10_000
  const indices = range(waiters)
  const contendedCase = (metrics: boolean, subscribe: boolean) => () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const t = yield* Effect.orDie(Throttle.make(UNLIMITED, { maxConcurrent: 10, metrics, name: "bench" }))
      let events = 0
      const subscriber = subscribe
        ? yield* Effect.fork(Stream.runForEach(t.events, () => Effect.sync(() => void events++)))
        : undefined
      if (subscriber !== undefined) yield* Effect.yieldNow()
      const start = now()
      yield* Effect.forEach(indices, () => t.withPermit(Effect.yieldNow()), { concurrency: "unbounded", discard: true })
      const usPerTask = ((now() - start) * 1e3) / waiters
      if (subscriber !== undefined) yield* Fiber.interrupt(subscriber)
      return usPerTask
    })))
  const contended = await measureCases(options, [
    ["10 000 waiters, metrics: false, no subscriber", waiters, contendedCase(false, false)],
    ["10 000 waiters, metrics: false, one events subscriber", waiters, contendedCase(false, true)],
    ["10 000 waiters, metrics on, no subscriber", waiters, contendedCase(true, false)]
  ])
  const metricsRatio = ratioRow(
    "uncontended withPermit, metrics on / off",
    (uncontended[1] as CaseRow).median / (uncontended[0] as CaseRow).median,
    1.1
  )
  const base = (contended[0] as CaseRow).median
  const subscriberRatio = (contended[1] as CaseRow).median / base
  const contendedMetricsRatio = (contended[2] as CaseRow).median / base
  const report = [
    "### Metrics and events — their cost on the throttle",
    "",
    caseTable(uncontended, "ns/op"),
    "",
    ratioLine(metricsRatio),
    "",
    caseTable(contended, "µs/task"),
    "",
    `With 10 000 waiters: one events subscriber ${ratio(subscriberRatio)}, metrics on ${ratio(contendedMetricsRatio)} ` +
    "(vs metrics off, no subscriber). Events without a subscriber cost one subscriber-count check per event; they " +
    "cannot be switched off, so their ratio to \"no events at all\" (target ≤ 1.05×) is not measurable from here."
  ].join("\n")
  return {
    data: { uncontended, contended, metricsRatio, contendedMetricsRatio, subscriberRatio },
    report
  }
}
