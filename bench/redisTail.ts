/**
 * Where the Redis closed loop's tail comes from: ours against `rate-limiter-flexible`, 8 callers on one key (the
 * limit out of reach), each run in a process of its own with its own `redis-server`, taking turns:
 *
 *   npm run build && npx tsx bench/redisTail.ts [--rounds=4] [--seconds=3]
 *
 * Per run (after 1.5 s of warm-up): grants/s, p50 and p99; the share of grants whose wait overlapped a GC pause
 * (`PerformanceObserver` "gc" entries) and the p99 of the others; the stretches of more than 0.5 ms in which no
 * grant completed; the CPU per grant of the client and of `redis-server` (`/proc/<pid>/stat`); and, from
 * `/proc/<pid>/schedstat`, how often each process was put on a CPU (a process that sleeps until a reply wakes is
 * put on a CPU once per wake-up) and how long it waited in a run queue. Linux only.
 */
import { Context, Effect, Layer, ManagedRuntime } from "effect"
import { Redis as IORedis } from "ioredis"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { PerformanceObserver } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { RateLimiterRedis } from "rate-limiter-flexible"
import type { Throttle } from "effect-throttles"
import type { ThrottleStoreError } from "effect-throttles/redis"
import { startServer } from "../test/redis/server.js"
import { builtRedis } from "./built.js"
import { fmt, median, option, percentile, table } from "./harness.js"


const KINDS = ["ours", "rate-limiter-flexible"] as const
type Kind = (typeof KINDS)[number]
const CALLERS = 8

interface Report {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly gcShare: number
  readonly p99WithoutGc: number
  readonly gaps: number
  readonly clientCpu: number
  readonly redisCpu: number
  readonly clientSlices: number
  readonly redisSlices: number
  readonly clientQueueMs: number
  readonly redisQueueMs: number
}

/** `[run ns, run-queue wait ns, times put on a CPU]` of a process's main thread. */
const schedstat = (pid: number): ReadonlyArray<number> =>
  readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(" ").map(Number)
/** User + system CPU of a process, µs (clock ticks of 10 ms). */
const cpuOf = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** One run, in this (child) process: prints its `Report` as JSON. */
const child = async (kind: Kind, seconds: number) => {
  const server = await startServer(true)
  const admin = new IORedis(server.url)
  const redisPid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1])
  admin.disconnect()
  const gcs: Array<readonly [number, number]> = []
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.startTime + e.duration])
  }).observe({ entryTypes: ["gc"] })
  const N = 1 << 21
  const starts = new Float64Array(N)
  const ends = new Float64Array(N)
  let n = 0
  const record = (t0: number) => {
    if (n < N) {
      starts[n] = t0
      ends[n++] = performance.now()
    }
  }
  let run: (ms: number, measure: boolean) => Promise<void>
  let close: () => Promise<void>
  if (kind === "ours") {
    const M = await builtRedis()
    class T extends Context.Tag("bench/RedisTail")<T, Throttle.Service<ThrottleStoreError>>() {}
    const layer = Layer.scoped(
      T,
      M.ThrottleRedis.make({
        key: `tail-${Date.now()}`,
        rate: { limit: 1_000_000, period: "1000 seconds" },
        onStoreError: "fail"
      })
    ).pipe(Layer.provide(M.Redis.layer(server.url)))
    const managed = ManagedRuntime.make(layer)
    const throttle = await managed.runPromise(T)
    run = (ms, measure) => {
      const end = performance.now() + ms
      return managed.runPromise(Effect.all(
        Array.from({ length: CALLERS }, () =>
          Effect.whileLoop({
            while: () => performance.now() < end,
            body: () => {
              const t0 = performance.now()
              return Effect.map(throttle.acquire(), () => measure && record(t0))
            },
            step: () => {}
          })),
        { concurrency: "unbounded", discard: true }
      ))
    }
    close = () => managed.dispose()
  } else {
    const client = new IORedis(server.url, { enableOfflineQueue: false })
    await new Promise<void>((resolve) => client.once("ready", () => resolve()))
    const limiter = new RateLimiterRedis({ storeClient: client, points: 1_000_000, duration: 1000, keyPrefix: "tail" })
    run = async (ms, measure) => {
      const end = performance.now() + ms
      await Promise.all(Array.from({ length: CALLERS }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now()
          await limiter.consume("k")
          if (measure) record(t0)
        }
      }))
    }
    close = () => client.quit().then(() => {})
  }
  await run(1500, false)
  gcs.length = 0
  const s0 = [schedstat(process.pid), schedstat(redisPid)]
  const cpu0 = [process.cpuUsage(), cpuOf(redisPid)] as const
  const started = performance.now()
  await run(seconds * 1000, true)
  const elapsed = performance.now() - started
  const clientCpu = process.cpuUsage(cpu0[0])
  const redisCpu = cpuOf(redisPid) - cpu0[1]
  const s1 = [schedstat(process.pid), schedstat(redisPid)]
  await new Promise((resolve) => setTimeout(resolve, 20)) // the last GC entries
  const latencies = new Float64Array(n)
  const clean: Array<number> = []
  let overlapping = 0
  gcs.sort((a, b) => a[0] - b[0])
  for (let i = 0, g = 0; i < n; i++) {
    latencies[i] = ends[i]! - starts[i]!
    while (g < gcs.length && gcs[g]![1] <= starts[i]!) g++ // pauses that ended before this wait began
    let hit = false
    for (let h = g; h < gcs.length && gcs[h]![0] < ends[i]!; h++) {
      if (gcs[h]![1] > starts[i]!) {
        hit = true
        break
      }
    }
    if (hit) overlapping++
    else clean.push(latencies[i]!)
  }
  const completed = Float64Array.from(ends.subarray(0, n)).sort()
  let gaps = 0
  for (let i = 1; i < n; i++) if (completed[i]! - completed[i - 1]! > 0.5) gaps++
  const report: Report = {
    perSecond: (n / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    gcShare: overlapping / n,
    p99WithoutGc: percentile(clean, 99),
    gaps: gaps / (elapsed / 1000),
    clientCpu: (clientCpu.user + clientCpu.system) / n,
    redisCpu: redisCpu / n,
    clientSlices: (s1[0]![2]! - s0[0]![2]!) / (elapsed / 1000),
    redisSlices: (s1[1]![2]! - s0[1]![2]!) / (elapsed / 1000),
    clientQueueMs: (s1[0]![1]! - s0[0]![1]!) / 1e6 / (elapsed / 1000),
    redisQueueMs: (s1[1]![1]! - s0[1]![1]!) / 1e6 / (elapsed / 1000)
  }
  console.log(JSON.stringify(report))
  await close()
  await server.stop()
  process.exit(0)
}

const parent = (rounds: number, seconds: number) => {
  const reports = new Map<Kind, Array<Report>>(KINDS.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < KINDS.length; k++) {
      const kind = KINDS[(k + r) % KINDS.length]!
      const out = spawnSync(
        process.execPath,
        ["--import", "tsx", fileURLToPath(import.meta.url), `--child=${kind}`, `--seconds=${seconds}`],
        { encoding: "utf8" }
      )
      const line = out.stdout.trim().split("\n").pop() ?? ""
      if (out.status !== 0 || !line.startsWith("{")) throw new Error(`the ${kind} run failed: ${out.stderr}`)
      reports.get(kind)!.push(JSON.parse(line) as Report)
    }
  }
  const m = (kind: Kind, f: (r: Report) => number, digits: number) => fmt(median(reports.get(kind)!.map(f)), digits)
  console.log(`\n${CALLERS} callers on one key, ${rounds} rounds of ${seconds} s, each run in a process of its own; medians\n`)
  console.log(table(
    ["", ...KINDS],
    [
      ["grants/s", ...KINDS.map((k) => m(k, (r) => r.perSecond, 0))],
      ["p50 / p99 ms", ...KINDS.map((k) => `${m(k, (r) => r.p50, 2)} / ${m(k, (r) => r.p99, 2)}`)],
      ["grants whose wait overlapped a GC pause", ...KINDS.map((k) => `${m(k, (r) => r.gcShare * 100, 2)}%`)],
      ["p99 of the others, ms", ...KINDS.map((k) => m(k, (r) => r.p99WithoutGc, 2))],
      ["stretches > 0.5 ms with no grant, per s", ...KINDS.map((k) => m(k, (r) => r.gaps, 0))],
      ["CPU per grant, client / redis-server, µs", ...KINDS.map((k) => `${m(k, (r) => r.clientCpu, 1)} / ${m(k, (r) => r.redisCpu, 1)}`)],
      ["put on a CPU per s, client / redis-server", ...KINDS.map((k) => `${m(k, (r) => r.clientSlices, 0)} / ${m(k, (r) => r.redisSlices, 0)}`)],
      ["run-queue wait, ms per s, client / redis-server", ...KINDS.map((k) => `${m(k, (r) => r.clientQueueMs, 1)} / ${m(k, (r) => r.redisQueueMs, 1)}`)]
    ]
  ))
}

const childArg = process.argv.find((a) => a.startsWith("--child="))
if (childArg !== undefined) await child(childArg.slice("--child=".length) as Kind, option("seconds", 3))
else parent(option("rounds", 4), option("seconds", 3))
