/**
 * Scheduler benchmarks, on the real clock, in-process.
 *
 * 1. Overhead of `maxAtOnce`: `Scheduler.runAll` over 200k trivial effects with `maxAtOnce: 100` against a bare
 *    `Effect.forEach(..., { concurrency: 100 })` in the same run (target: <= 1.3x).
 * 2. No thundering herd: 1e5 tasks that each `Effect.yieldNow()`, `maxAtOnce: 10` against `forEach` with
 *    concurrency 10 (target: <= 1.3x).
 * 3. For reference, p-limit and p-queue (concurrency 100) over the same 200k trivial tasks (p-queue: 20k, scaled
 *    to 200k, as its queue is superlinear). Their tasks are
 *    promise-returning functions; each runs the same trivial effect through its own `Effect.runPromise` (the
 *    boundary a user mixing Effect with those libraries pays), and, separately, as a bare `async` function (the
 *    libraries' own floor).
 * 4. `maxPerSecond: 1000` over 5000 tasks: start times taken with `performance.now()`; a violation is any window
 *    of one second holding more than 1000 starts; the achieved rate must be >= 99% of 1000/s.
 *
 * Each timed case runs once to warm up, then REPEAT times; the median is reported. Scheduler and its forEach
 * baseline are measured alternately.
 *
 * Run alone: npx tsx bench/scheduler.ts (or through bench/index.ts, which calls `main()`).
 */
import { Effect } from "effect"
import { pathToFileURL } from "node:url"
import pLimit from "p-limit"
import PQueue from "p-queue"
import * as Scheduler from "../src/Scheduler.js"

const REPEAT = 3

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Median wall time of `run` in milliseconds (after one warm-up run). */
const time = async (run: () => Promise<unknown>): Promise<number> => {
  await run()
  const samples: Array<number> = []
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now()
    await run()
    samples.push(performance.now() - start)
  }
  return median(samples)
}

/** Median wall times of two runs measured alternately (so drift and GC hit both alike), after one warm-up each. */
const timePair = async (
  a: () => Promise<unknown>,
  b: () => Promise<unknown>
): Promise<readonly [number, number]> => {
  await a()
  await b()
  const as: Array<number> = []
  const bs: Array<number> = []
  for (let i = 0; i < REPEAT; i++) {
    let start = performance.now()
    await a()
    as.push(performance.now() - start)
    start = performance.now()
    await b()
    bs.push(performance.now() - start)
  }
  return [median(as), median(bs)]
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits))

interface Row {
  readonly case: string
  readonly ms: number
  readonly vs: string
}

/** Runs every scenario, prints a table, and returns the figures. */
export async function main(): Promise<Record<string, unknown>> {
  const rows: Array<Row> = []

  // 1. 200k trivial effects, maxAtOnce 100
  const N = 200_000
  const trivial = Array.from({ length: N }, (_, i) => Effect.succeed(i))
  const [forEach100, runAll100] = await timePair(
    () => Effect.runPromise(Effect.forEach(trivial, (e) => e, { concurrency: 100 })),
    () => Effect.runPromise(Scheduler.runAll(trivial, { maxAtOnce: 100 }))
  )
  const runEach100 = await time(() =>
    Effect.runPromise(Scheduler.runEach(trivial, (e) => e, { maxAtOnce: 100 }))
  )
  const pLimitEffect = await time(() => {
    const limit = pLimit(100)
    return Promise.all(trivial.map((e) => limit(() => Effect.runPromise(e))))
  })
  const pLimitBare = await time(() => {
    const limit = pLimit(100)
    return Promise.all(trivial.map((_, i) => limit(async () => i)))
  })
  // p-queue's queue is superlinear in the number of queued tasks (200k bare tasks took ~23 s in a one-off run), so
  // it gets 20k tasks; the figure is scaled to 200k linearly, which flatters it.
  const PQ = 20_000
  const pqTasks = trivial.slice(0, PQ)
  const pQueueEffect20k = await time(() => {
    const queue = new PQueue({ concurrency: 100 })
    return Promise.all(pqTasks.map((e) => queue.add(() => Effect.runPromise(e))))
  })
  const pQueueBare20k = await time(() => {
    const queue = new PQueue({ concurrency: 100 })
    return Promise.all(pqTasks.map((_, i) => queue.add(async () => i)))
  })
  const pQueueEffect = (pQueueEffect20k * N) / PQ
  const pQueueBare = (pQueueBare20k * N) / PQ
  const ratio1 = runAll100 / forEach100
  rows.push(
    { case: "200k trivial: Effect.forEach concurrency 100", ms: round(forEach100), vs: "1.00x (baseline)" },
    { case: "200k trivial: Scheduler.runAll maxAtOnce 100", ms: round(runAll100), vs: `${ratio1.toFixed(2)}x` },
    {
      case: "200k trivial: Scheduler.runEach maxAtOnce 100",
      ms: round(runEach100),
      vs: `${(runEach100 / forEach100).toFixed(2)}x`
    },
    {
      case: "200k trivial: p-limit 100 (Effect.runPromise per task)",
      ms: round(pLimitEffect),
      vs: `${(pLimitEffect / forEach100).toFixed(2)}x`
    },
    { case: "200k trivial: p-limit 100 (bare async fn)", ms: round(pLimitBare), vs: `${(pLimitBare / forEach100).toFixed(2)}x` },
    {
      case: "20k trivial x10: p-queue 100 (Effect.runPromise per task)",
      ms: round(pQueueEffect),
      vs: `${(pQueueEffect / forEach100).toFixed(2)}x`
    },
    { case: "20k trivial x10: p-queue 100 (bare async fn)", ms: round(pQueueBare), vs: `${(pQueueBare / forEach100).toFixed(2)}x` }
  )

  // 2. 1e5 yielding tasks, maxAtOnce 10
  const M = 100_000
  const yielding = Array.from({ length: M }, (_, i) => Effect.as(Effect.yieldNow(), i))
  const [forEach10, runAll10] = await timePair(
    () => Effect.runPromise(Effect.forEach(yielding, (e) => e, { concurrency: 10 })),
    () => Effect.runPromise(Scheduler.runAll(yielding, { maxAtOnce: 10 }))
  )
  const ratio2 = runAll10 / forEach10
  rows.push(
    { case: "1e5 yielding: Effect.forEach concurrency 10", ms: round(forEach10), vs: "1.00x (baseline)" },
    { case: "1e5 yielding: Scheduler.runAll maxAtOnce 10", ms: round(runAll10), vs: `${ratio2.toFixed(2)}x` }
  )

  // 3. maxPerSecond 1000 over 5000 tasks, real clock. Starts are stamped with performance.now() (sub-ms) and with
  // Date.now() (the 1 ms clock Effect's Clock and so the Throttle use), to tell quantization from real excess.
  const R = 1000
  const K = 5000
  const rateRun = async (maxAtOnce: number | undefined) => {
    const starts: Array<number> = []
    const coarse: Array<number> = []
    const began = performance.now()
    await Effect.runPromise(
      Scheduler.runEach(
        Array.from({ length: K }, (_, i) => i),
        () =>
          Effect.sync(() => {
            starts.push(performance.now())
            coarse.push(Date.now())
          }),
        maxAtOnce === undefined ? { maxPerSecond: R } : { maxPerSecond: R, maxAtOnce }
      )
    )
    const wall = performance.now() - began
    const violationsOf = (times: ReadonlyArray<number>, tolerance = 0) => {
      let count = 0
      for (let i = R; i < times.length; i++) if (times[i]! - times[i - R]! < 1000 - tolerance) count++
      return count
    }
    let worstEarly = 0
    for (let i = R; i < starts.length; i++) worstEarly = Math.max(worstEarly, 1000 - (starts[i]! - starts[i - R]!))
    const span = (starts[starts.length - 1]! - starts[0]!) / 1000
    // K starts spaced 1/R apart take (K - 1) / R seconds: the achieved rate is (K - 1) / span.
    const achieved = (K - 1) / span
    return {
      wall,
      violations: violationsOf(starts),
      beyondTolerance: violationsOf(starts, 1),
      worstEarly,
      violationsMs: violationsOf(coarse),
      achieved,
      share: achieved / R
    }
  }
  const plain = await rateRun(undefined)
  const capped = await rateRun(100)
  for (const [label, r] of [["", plain], [" + maxAtOnce 100", capped]] as const) {
    rows.push({
      case: `maxPerSecond ${R}${label}, ${K} tasks: ${r.violations} violations (${r.beyondTolerance} beyond 1 ms` +
        `${r.violations > 0 ? `, worst ${r.worstEarly.toFixed(2)} ms early` : ""}; ${r.violationsMs} on Date.now)`,
      ms: round(r.wall),
      vs: `${r.achieved.toFixed(1)}/s = ${(r.share * 100).toFixed(2)}%`
    })
  }
  const { share, violations } = plain

  console.log("\nScheduler benchmarks (median of %d runs after a warm-up; real clock)", REPEAT)
  console.table(rows)
  console.log(
    `runAll/forEach (200k, 100): ${ratio1.toFixed(2)}x ${ratio1 <= 1.3 ? "OK" : "OVER"} (target <= 1.3x); ` +
      `yielding (1e5, 10): ${ratio2.toFixed(2)}x ${ratio2 <= 1.3 ? "OK" : "OVER"}; ` +
      `maxPerSecond: ${violations} violations, ${(share * 100).toFixed(2)}% ${
        violations === 0 && share >= 0.99 ? "OK" : "FAIL"
      } (target 0, >= 99%)`
  )

  return {
    trivial200k: {
      forEachMs: round(forEach100),
      runAllMs: round(runAll100),
      runEachMs: round(runEach100),
      ratio: round(ratio1, 3),
      pLimitRunPromiseMs: round(pLimitEffect),
      pLimitBareMs: round(pLimitBare),
      pQueueRunPromise20kMs: round(pQueueEffect20k),
      pQueueBare20kMs: round(pQueueBare20k)
    },
    yielding1e5: { forEachMs: round(forEach10), runAllMs: round(runAll10), ratio: round(ratio2, 3) },
    maxPerSecond1000: {
      tasks: K,
      wallMs: round(plain.wall),
      violations: plain.violations,
      violationsBeyond1ms: plain.beyondTolerance,
      worstEarlyMs: round(plain.worstEarly, 3),
      violationsOnDateNow: plain.violationsMs,
      achievedPerSecond: round(plain.achieved, 1),
      shareOfRate: round(plain.share, 4)
    },
    maxPerSecond1000maxAtOnce100: {
      tasks: K,
      wallMs: round(capped.wall),
      violations: capped.violations,
      violationsBeyond1ms: capped.beyondTolerance,
      worstEarlyMs: round(capped.worstEarly, 3),
      violationsOnDateNow: capped.violationsMs,
      achievedPerSecond: round(capped.achieved, 1),
      shareOfRate: round(capped.share, 4)
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (figures) => console.log(JSON.stringify(figures)),
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
