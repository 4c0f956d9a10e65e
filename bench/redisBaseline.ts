/**
 * Before and after for the Redis client: this checkout's `dist/` against the `dist/` of older checkouts, each build
 * in processes of its own, on one `redis-server` started here (the same helper as the tests and `bench/redis.ts`).
 *
 *   git worktree add --detach ../before <commit> && ln -s "$PWD/node_modules" ../before/node_modules
 *   (cd ../before && npx tsc -p tsconfig.build.json) && npm run build
 *   npx tsx bench/redisBaseline.ts ../before [more checkouts…] [--rounds=8] [--callers=8] [--seconds=2]
 *
 * Each round runs every build once, in a child process of its own, the order rotating from round to round: the
 * child makes a `ThrottleRedis` on a fresh key (the limit out of reach), runs `callers` fibers taking permits one
 * after another for 1 s of warm-up and then `seconds` measured, and reports grants/s, p50, p99 and the CPU per grant
 * (`process.cpuUsage`, user + system, and user alone). Reported: each build's medians, and its CPU per grant over
 * this checkout's, paired by round, with a 95% bootstrap interval.
 *
 * Why processes: loaded into one process, two builds share `effect`'s and ioredis' code and the JIT's feedback on
 * it, and the build loaded second paid for it. Such a harness, run with the same build loaded twice, measured the
 * second copy at 55.4 µs of CPU per grant and the first at 35.6.
 */
import { Context, Effect, Layer, ManagedRuntime } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { startServer } from "../test/redis/server.js"
import { fmt, median, option, pairedRatio, percentile, sample, table } from "./harness.js"

interface Report {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly cpu: number
  readonly user: number
}


/** A child: one build's closed loop, printed as one line of JSON. */
const child = async (dist: string, url: string, callers: number, seconds: number): Promise<void> => {
  const M = (await import(pathToFileURL(path.join(dist, "redis.js")).href)) as {
    readonly Redis: { readonly layer: (url: string) => Layer.Layer<never> }
    readonly ThrottleRedis: { readonly make: (options: unknown) => Effect.Effect<{ acquire(): Effect.Effect<void> }> }
  }
  class T extends Context.Tag("bench/redisBaseline/T")<T, { acquire(): Effect.Effect<void> }>() {}
  const layer = Layer.scoped(
    T,
    M.ThrottleRedis.make({
      key: `baseline-${process.pid}-${Date.now()}`,
      rate: { limit: 1_000_000_000, period: "1000 seconds" },
      onStoreError: "fail"
    })
  ).pipe(Layer.provide(M.Redis.layer(url)))
  const managed = ManagedRuntime.make(layer)
  const throttle = await managed.runPromise(T)
  const loop = (ms: number) =>
    Effect.gen(function*() {
      const latencies = new Float64Array(1 << 22)
      let n = 0
      const end = performance.now() + ms
      yield* Effect.all(
        Array.from({ length: callers }, () =>
          Effect.whileLoop({
            while: () => performance.now() < end && n < latencies.length,
            body: () => {
              const t0 = performance.now()
              return Effect.map(throttle.acquire(), () => {
                latencies[n++] = performance.now() - t0
              })
            },
            step: () => {}
          })),
        { concurrency: "unbounded", discard: true }
      )
      return latencies.subarray(0, n)
    })
  await managed.runPromise(loop(1000))
  const cpu0 = process.cpuUsage()
  const latencies = await managed.runPromise(loop(seconds * 1000))
  const cpu = process.cpuUsage(cpu0)
  const report: Report = {
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu: (cpu.user + cpu.system) / latencies.length,
    user: cpu.user / latencies.length
  }
  console.log(JSON.stringify(report))
  await managed.dispose()
}

const main = async (): Promise<void> => {
  const childArg = process.argv.find((a) => a.startsWith("--child="))
  const callers = option("callers", 8)
  const seconds = option("seconds", 2)
  if (childArg !== undefined) {
    const [dist, url] = childArg.slice("--child=".length).split("|") as [string, string]
    await child(dist, url, callers, seconds)
    return
  }
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const checkouts = [here, ...process.argv.slice(2).filter((a) => !a.startsWith("--")).map((a) => path.resolve(a))]
  if (checkouts.length < 2) {
    console.error("usage: npx tsx bench/redisBaseline.ts <older checkout> [more…] [--rounds=N] [--callers=C] [--seconds=S]")
    process.exitCode = 2
    return
  }
  const dists = checkouts.map((c) => path.join(c, "dist"))
  for (const d of dists) {
    if (!existsSync(path.join(d, "redis.js"))) throw new Error(`${d}/redis.js is missing (build that checkout first)`)
  }
  const rounds = option("rounds", 8)
  const server = await startServer(true)
  const script = fileURLToPath(import.meta.url)
  const reports: Array<Array<Report>> = dists.map(() => [])
  try {
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < dists.length; k++) {
        const i = (k + r) % dists.length
        const args = [
          ...process.execArgv,
          script,
          `--child=${dists[i]}|${server.url}`,
          `--callers=${callers}`,
          `--seconds=${seconds}`
        ]
        const out = spawnSync(process.execPath, args, { encoding: "utf8" })
        if (out.status !== 0) throw new Error(`child for ${dists[i]} failed: ${out.stderr}`)
        const report = JSON.parse(out.stdout.trim().split("\n").pop() as string) as Report
        ;(reports[i] as Array<Report>).push(report)
        console.log(
          `round ${r + 1}: ${checkouts[i]}: ${fmt(report.perSecond)} grants/s, p99 ${report.p99.toFixed(2)} ms, ` +
            `${report.cpu.toFixed(1)} µs CPU per grant`
        )
      }
    }
  } finally {
    await server.stop()
  }
  const base = sample((reports[0] as Array<Report>).map((x) => x.cpu))
  const rows = checkouts.map((c, i) => {
    const xs = reports[i] as Array<Report>
    const r = pairedRatio(base, sample(xs.map((x) => x.cpu)))
    return [
      i === 0 ? `${c} (this checkout)` : c,
      fmt(median(xs.map((x) => x.perSecond))),
      median(xs.map((x) => x.p50)).toFixed(3),
      median(xs.map((x) => x.p99)).toFixed(2),
      `${median(xs.map((x) => x.cpu)).toFixed(1)} (${median(xs.map((x) => x.user)).toFixed(1)})`,
      i === 0 ? "1" : `${r.median.toFixed(3)} (${r.low.toFixed(3)}–${r.high.toFixed(3)})`
    ]
  })
  console.log(`\n${callers} callers, ${rounds} rounds of ${seconds} s, each build in processes of its own (medians):\n`)
  console.log(table(
    ["build", "grants/s", "p50 ms", "p99 ms", "CPU µs/grant (user)", "CPU / this checkout's, paired (95%)"],
    rows
  ))
}

await main()
