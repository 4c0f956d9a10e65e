/**
 * `npm run bench` — the benchmark suite (issue 2 § 4), on the real clock, against peers, in one process run.
 *
 * Runs the Throttle scenarios (bench/throttle.ts, then the wave-2 ones of bench/throttle2.ts), then the Scheduler
 * ones (bench/scheduler.ts, if present), prints a table per scenario, a compact markdown summary for the README,
 * writes everything with the machine it ran on to `bench/results.json`, and the charts of the accuracy runs to
 * `bench/results/*.svg` (see bench/charts.ts).
 *
 * Flags (after `npm run bench --`):
 * - `--quick`       fewer operations and repetitions, shorter accuracy runs (a smoke run, ~30 s)
 * - `--sequential`  run the slow accuracy rates one limiter at a time instead of side by side
 * - `--only=a,b`    a subset of `overhead`, `contention`, `memory`, `accuracy`, `multiwindow`, `keyed`, `smooth`,
 *                   `metrics`, `scheduler`
 */
import { fork } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Machine } from "./harness.js"
import { bytes, fmt, machine, pct, ratio, table } from "./harness.js"
import { writeAccuracyCharts } from "./charts.js"
import type { AccuracyData, AccuracyTrace, ContentionData, MemoryRow, Options, OverheadData } from "./throttle.js"
import { allRuns, CEILING, runAccuracy, runContention, runMemory, runOverhead, traceOf } from "./throttle.js"
import type { KeyedData, MetricsData, MultiWindowData, SmoothData } from "./throttle2.js"
import { runKeyed, runMetrics, runMultiWindow, runSmooth } from "./throttle2.js"

/** Runs `bench/redis.ts` in a fresh process (its tables go to this output) and returns its results. */
const runRedisApart = (quick: boolean | undefined): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./redis.ts", import.meta.url)), quick === true ? ["--quick"] : [], {
      execArgv: ["--import", "tsx"]
    })
    let results: Record<string, unknown> | undefined
    child.on("message", (message) => (results = message as Record<string, unknown>))
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0 && results !== undefined ? resolve(results) : reject(new Error(`bench/redis.ts exited with ${code}`))
    )
  })

const SCENARIOS = [
  "overhead",
  "contention",
  "memory",
  "accuracy",
  "multiwindow",
  "keyed",
  "smooth",
  "metrics",
  "scheduler",
  "redis"
] as const
type Scenario = (typeof SCENARIOS)[number]

const parseArgs = (argv: ReadonlyArray<string>): Options & { readonly only: ReadonlySet<Scenario> } => {
  const onlyArg = argv.find((a) => a.startsWith("--only="))
  const only = new Set<Scenario>()
  for (const name of onlyArg === undefined ? SCENARIOS : onlyArg.slice("--only=".length).split(",")) {
    if (!(SCENARIOS as ReadonlyArray<string>).includes(name)) {
      throw new Error(`Unknown scenario ${JSON.stringify(name)}; expected one of ${SCENARIOS.join(", ")}`)
    }
    only.add(name as Scenario)
  }
  return { quick: argv.includes("--quick"), sequential: argv.includes("--sequential"), only }
}

const effectVersion = (): string => {
  const path = fileURLToPath(new URL("../node_modules/effect/package.json", import.meta.url))
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version
}

/** The Scheduler benchmarks live in bench/scheduler.ts (another author); it may not exist yet. */
const runScheduler = async (): Promise<Record<string, unknown>> => {
  // A non-literal specifier keeps this file type-checking whether or not scheduler.ts exists.
  const specifier = "./scheduler.js"
  let scheduler: { readonly main?: () => Promise<Record<string, unknown>> }
  try {
    scheduler = (await import(specifier)) as typeof scheduler
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === "ERR_MODULE_NOT_FOUND" && String(error).includes("bench/scheduler.js")) {
      console.log("\n(bench/scheduler.ts not found: Scheduler benchmarks skipped)")
      return { skipped: "bench/scheduler.ts not found" }
    }
    throw error
  }
  if (typeof scheduler.main !== "function") {
    console.log("\n(bench/scheduler.ts exports no main(): Scheduler benchmarks skipped)")
    return { skipped: "bench/scheduler.ts exports no main()" }
  }
  return scheduler.main()
}

interface Results {
  machine?: Machine
  startedAt: string
  command: string
  options: { quick: boolean; sequential: boolean; only: ReadonlyArray<Scenario> }
  durationSeconds?: number
  sectionSeconds?: Record<string, number>
  overhead?: OverheadData
  contention?: ContentionData
  memory?: ReadonlyArray<MemoryRow>
  accuracy?: AccuracyData
  charts?: ReadonlyArray<string>
  multiwindow?: MultiWindowData
  keyed?: KeyedData
  smooth?: SmoothData
  metrics?: MetricsData
  redis?: Record<string, unknown>
  scheduler?: Record<string, unknown>
}

/** The compact tables for the README: the targets of issue 2 § 4, and accuracy across limiters. */
const readmeSummary = (results: Results): string => {
  const lines: Array<string> = []
  const m = results.machine
  if (m !== undefined) {
    lines.push(
      `Measured on ${m.cpu} (${m.cores} cores), Node ${m.node}, effect ${m.effect}, ` +
        `${results.startedAt.slice(0, 10)}; \`npm run bench\`.`,
      ""
    )
  }
  const rows: Array<ReadonlyArray<string>> = []
  const status = (ok: boolean) => (ok ? "✅" : "❌")
  const o = results.overhead
  if (o !== undefined) {
    const floor = o.effectNative[0]
    const ours = o.effectNative.find((r) => r.name.includes("ours"))
    const sem = o.effectNative.find((r) => r.name.includes("Semaphore"))
    const tb = o.effectNative.find((r) => r.name.includes("token-bucket"))
    const fw = o.effectNative.find((r) => r.name.includes("fixed-window"))
    if (floor !== undefined && ours !== undefined) {
      rows.push([
        "Overhead: uncontended `withPermit(Effect.void)`",
        `${fmt(ours.nsPerOp)} ns/op = ${ratio(ours.ratio)} floor (${fmt(floor.nsPerOp)} ns)`,
        `Semaphore ${ratio(sem?.ratio)}, RateLimiter ${ratio(tb?.ratio)} / ${ratio(fw?.ratio)}`,
        "≤ 3×",
        status(ours.ratio <= 3)
      ])
    }
    const pOurs = o.promiseFacing.find((r) => r.name.includes("ours"))
    const peers = o.promiseFacing.filter((r) => /p-queue|p-limit|bottleneck/.test(r.name))
    if (pOurs !== undefined) {
      rows.push([
        "Overhead via `ManagedRuntime.runPromise`",
        `${fmt(pOurs.nsPerOp)} ns/op`,
        peers.map((r) => `${r.name.split(" ")[0]} ${fmt(r.nsPerOp)}`).join(", "),
        "—",
        ""
      ])
    }
  }
  const c = results.contention
  if (c !== undefined) {
    const small = c.sizes[0] as number
    const large = c.sizes[c.sizes.length - 1] as number
    const ours = c.rows[1]
    const floor = c.rows[0]
    if (ours !== undefined && floor !== undefined) {
      rows.push([
        `Contention: ${fmt(small)} → ${fmt(large)} tasks, maxConcurrent 10`,
        `${fmt(ours.usPerTask[small], 2)} → ${fmt(ours.usPerTask[large], 2)} µs/task (${ratio(c.flatness)})`,
        `forEach(concurrency 10) ${fmt(floor.usPerTask[small], 2)} → ${fmt(floor.usPerTask[large], 2)} µs/task`,
        "flat ≤ 1.2×",
        status(c.flatness <= 1.2)
      ])
      const worst = Math.max(...Object.values(c.ratioToForEach))
      rows.push([
        "Contention vs `Effect.forEach(…, { concurrency: 10 })`",
        `worst ${ratio(worst)}`,
        `same N fibers, no limiter: ours/that ${Object.values(c.ratioToFibers).map((x) => ratio(x)).join(", ")}; ` +
          `Semaphore(10) at ${fmt(small)}: ${
            ratio(
              (c.rows.find((r) => r.name.includes("Semaphore"))?.usPerTask[small] ?? NaN) /
                (floor.usPerTask[small] ?? NaN)
            )
          }`,
        "≤ 1.5×",
        status(worst <= 1.5)
      ])
    }
  }
  const mem = results.memory
  if (mem !== undefined) {
    const ours = mem.find((r) => r.name.includes("ours"))
    const base = mem[0]
    if (ours !== undefined && base !== undefined) {
      rows.push([
        "Heap per queued waiter",
        `${bytes(ours.bytesPerWaiter)} (fiber included)`,
        `fiber on a Deferred ${bytes(base.bytesPerWaiter)}`,
        "—",
        ""
      ])
    }
  }
  const a = results.accuracy
  if (a !== undefined) {
    const ours = a.rows.filter((r) => r.limiter.includes("ours"))
    const violations = allRuns(ours).reduce((s, r) => s + r.violationsBeyondTolerance, 0)
    const rounding = allRuns(ours).reduce((s, r) => s + r.violations - r.violationsBeyondTolerance, 0)
    const worst = Math.min(...ours.map((r) => r.achieved))
    const at50 = ours.find((r) => r.limit === 50)
    rows.push([
      "Accuracy: sliding-window violations (all runs)",
      `${violations}${rounding > 0 ? ` (+${rounding} within 1 ms rounding)` : ""}`,
      "",
      "0",
      status(violations === 0)
    ])
    const ceilings = a.rows.filter((r) => r.limiter === CEILING)
    rows.push([
      "Accuracy: achieved rate, worst over all rates",
      pct(worst),
      `ceiling (zero-cost limiter on Effect fibers): ${ceilings.map((r) => `${r.rate} ${pct(r.achieved)}`).join(", ")}`,
      "≥ 99%",
      status(worst >= 0.99)
    ])
    if (at50 !== undefined) {
      rows.push([
        "Accuracy: p95 start lateness at 50/s (from submission; from the 1st start)",
        `${fmt(at50.lateness.p95, 2)} ms; ${fmt(at50.latenessFromFirst.p95, 2)} ms`,
        a.rows.filter((r) => r.limit === 50 && r !== at50).map((r) =>
          `${r.limiter === CEILING ? "ceiling" : r.limiter.replace("Effect RateLimiter", "RL")} ${fmt(r.lateness.p95, 1)}`
        ).join(", "),
        "≤ 2 ms",
        status(at50.lateness.p95 <= 2)
      ])
    }
  }
  const mw = results.multiwindow
  if (mw !== undefined) {
    rows.push([
      "Multi-window: uncontended `withPermit`, [\"1000000/s\", \"100000000/min\"] vs one window",
      `${fmt(mw.rows[1]?.median)} vs ${fmt(mw.rows[0]?.median)} ns/op = ${ratio(mw.ratio.value)}`,
      "",
      "≤ 1.2×",
      status(mw.ratio.met)
    ])
  }
  const k = results.keyed
  if (k !== undefined) {
    rows.push([
      `Keyed: uncontended \`withPermit\` over ${fmt(k.keys)} live keys vs a single throttle`,
      `${fmt(k.rows[1]?.median)} vs ${fmt(k.rows[0]?.median)} ns/op = ${ratio(k.ratio.value)}`,
      `first use of a key (builds its throttle): ${fmt(k.createUsPerKey, 1)} µs`,
      "≤ 1.5×",
      status(k.ratio.met)
    ])
  }
  const sm = results.smooth
  if (sm !== undefined) {
    for (const r of sm.rows) {
      rows.push([
        `Smooth vs window: achieved rate at ${r.rate}, ${r.driver}`,
        `smooth ${pct(r.smoothAchieved)} vs window ${pct(r.windowAchieved)} ` +
          `(${r.differencePoints >= 0 ? "+" : ""}${r.differencePoints.toFixed(1)} pts)`,
        `GCRA burst ${r.burst}; longest smooth gap ${fmt(r.smoothMaxGapMs, 0)} ms`,
        r.targeted ? "within 2 pts" : "— (the driver's stall)",
        !r.targeted ? "—" : !r.queuedInTime ? "VOID" : status(r.met)
      ])
    }
    rows.push([
      "Smooth at 50/s: smallest gap between starts",
      `${fmt(sm.gaps.minGapMs, 2)} ms`,
      "interval 20 ms",
      "≥ 19 ms",
      status(sm.gaps.met)
    ])
  }
  const me = results.metrics
  if (me !== undefined) {
    rows.push([
      "Metrics on vs `metrics: false`, uncontended `withPermit`",
      `${fmt(me.uncontended[1]?.median)} vs ${fmt(me.uncontended[0]?.median)} ns/op = ${ratio(me.metricsRatio.value)}`,
      "",
      "≤ 1.10×",
      status(me.metricsRatio.met)
    ])
    rows.push([
      "10 000 waiters: events subscriber / metrics on, vs neither",
      `${ratio(me.subscriberRatio)} / ${ratio(me.contendedMetricsRatio)}`,
      "no-subscriber events cannot be switched off (not separable)",
      "≤ 1.05× (events, no subscriber)",
      ""
    ])
  }
  lines.push(table(["scenario", "ours", "reference", "target", ""], rows))
  if (a !== undefined) {
    const rates = [...new Set(a.rows.map((r) => r.rate))]
    const names = [...new Set(a.rows.map((r) => r.limiter))]
    lines.push(
      "",
      "Accuracy per limiter — achieved rate / p95 lateness (ms) / violations beyond 1 ms:",
      "",
      table(
        ["limiter", ...rates],
        names.map((name) => [
          name,
          ...rates.map((rate) => {
            const r = a.rows.find((x) => x.limiter === name && x.rate === rate)
            return r === undefined
              ? "—"
              : `${pct(r.achieved, 0)} / ${fmt(r.lateness.p95, 1)} / ${fmt(r.violationsBeyondTolerance)}` +
                (r.cutShort ? " (cut)" : "")
          })
        ])
      )
    )
  }
  return lines.join("\n")
}

const main = async (): Promise<void> => {
  const options = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const results: Results = {
    startedAt: new Date(started).toISOString(),
    command: ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
    options: { quick: options.quick, sequential: options.sequential, only: [...options.only] }
  }
  results.machine = machine(effectVersion())
  const m = results.machine
  console.log(`# effect-throttles benchmarks${options.quick ? " (--quick)" : ""}`)
  console.log(
    `${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, ${m.platform}; Node ${m.node} (V8 ${m.v8}); effect ${m.effect}; ` +
      `forced GC ${m.gc ? "available" : "NOT available"}; load average ${m.loadavg.join(" ")}`
  )
  const durations: Record<string, number> = {}
  let sectionStart = Date.now()
  const section = (report: string, name: string) => {
    durations[name] = Math.round((Date.now() - sectionStart) / 100) / 10
    console.log(`\n${report}\n\n(${name}: ${durations[name]} s)`)
    sectionStart = Date.now()
  }
  /** Runs one scenario if selected, keeps its data under its name, and prints its report. */
  const run = async <A>(
    name: Scenario,
    scenario: (options: Options) => Promise<{ readonly data: A; readonly report: string }>,
    after: (data: A, report: string) => string = (_, report) => report
  ): Promise<void> => {
    if (!options.only.has(name)) return
    const r = await scenario(options)
    ;(results as unknown as Record<string, unknown>)[name] = r.data
    section(after(r.data, r.report), name)
  }
  await run("overhead", runOverhead)
  await run("contention", runContention)
  await run("memory", runMemory)
  await run("accuracy", runAccuracy, (data, report) => {
    const traces = data.rows.map(traceOf).filter((t): t is AccuracyTrace => t !== undefined)
    const dir = fileURLToPath(new URL("./results", import.meta.url))
    const note = `${results.startedAt.slice(0, 10)}, ${m.cpu} (${m.cores} cores), Node ${m.node}.`
    results.charts = writeAccuracyCharts(traces, dir, note).map((file) => `bench/results/${file}`)
    return `${report}\n\nCharts: ${results.charts.join(", ")}`
  })
  await run("multiwindow", runMultiWindow)
  await run("keyed", runKeyed)
  await run("smooth", runSmooth)
  await run("metrics", runMetrics)
  if (options.only.has("scheduler")) {
    sectionStart = Date.now()
    try {
      results.scheduler = await runScheduler()
    } catch (error) {
      console.error("\nScheduler benchmarks failed:", error)
      results.scheduler = { failed: String(error) }
    }
  }
  if (options.only.has("scheduler")) durations["scheduler"] = Math.round((Date.now() - sectionStart) / 100) / 10
  if (options.only.has("redis")) {
    // Needs redis-server on PATH (it starts its own on a free port); see bench/redis.ts.
    sectionStart = Date.now()
    try {
      // in a process of its own: latency tails measured after minutes of other scenarios in this heap would carry
      // their garbage collections
      results.redis = await runRedisApart(options.quick)
    } catch (error) {
      console.error("\nRedis benchmarks failed:", error)
      results.redis = { failed: String(error) }
    }
    durations["redis"] = Math.round((Date.now() - sectionStart) / 100) / 10
  }
  results.durationSeconds = Math.round((Date.now() - started) / 100) / 10
  results.sectionSeconds = durations

  console.log("\n## Summary for the README\n")
  console.log(readmeSummary(results))
  const out = fileURLToPath(new URL("./results.json", import.meta.url))
  writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
  console.log(
    `\nResults written to bench/results.json (${results.durationSeconds} s: ` +
      Object.entries(durations).map(([k, v]) => `${k} ${v} s`).join(", ") + ")."
  )
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
