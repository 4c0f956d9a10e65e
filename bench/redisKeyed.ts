/**
 * What a key of `KeyedThrottleRedis` costs over a `ThrottleRedis` of its own, on one `redis-server` started here:
 *
 *   npm run build && npx tsx bench/redisKeyed.ts [--rounds=3] [--seconds=2]
 *
 * Rows, taking turns in each round, 8 fibers each calling `withPermit(Effect.void)` one after another (the limit out
 * of reach): a `ThrottleRedis` (the floor: the same throttle without the keyed layer), one key of a
 * `KeyedThrottleRedis`, and a new key on every call (`idleTimeToLive: 0`: each key's throttle is made — its
 * first script call — and dropped). Reported per row: grants/s, p50 and p99 (medians over the
 * rounds, and their range), and CPU per call (`process.cpuUsage`, up to the first 50 ms after the run that cost
 * under 5 ms: the work the calls left behind, such as closing dropped keys, counts). One process: the rows share
 * this build's code, and only the keyed layer differs between the first two.
 */
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import { startServer } from "../test/redis/server.js"
import { builtRedis } from "./built.js"
import { fmt, median, option, percentile, table } from "./harness.js"


const rounds = option("rounds", 3)
const seconds = option("seconds", 2)
const CALLERS = 8

const M = await builtRedis()
const server = await startServer(true)
const managed = ManagedRuntime.make(M.Redis.layer(server.url))
const scope = await Effect.runPromise(Scope.make())
const inScope = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> =>
  managed.runPromise(Scope.extend(effect, scope) as Effect.Effect<A, E, never>)

interface Round {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly cpu: number
}

/** `CALLERS` fibers calling `call(fiber, i)` for `ms`. */
const measure = async (call: (fiber: number, i: number) => Effect.Effect<void, unknown>, ms: number): Promise<Round> => {
  const latencies: Array<number> = []
  const end = performance.now() + ms
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  await managed.runPromise(Effect.all(
    Array.from({ length: CALLERS }, (_, fiber) => {
      let i = 0
      return Effect.whileLoop({
        while: () => performance.now() < end,
        body: () => {
          const t0 = performance.now()
          return Effect.map(call(fiber, i++), () => {
            latencies.push(performance.now() - t0)
          })
        },
        step: () => {}
      })
    }),
    { concurrency: "unbounded", discard: true }
  ) as Effect.Effect<void>)
  const elapsed = performance.now() - started
  // and the work the calls left behind (dropped keys still to close): until a 50 ms stretch costs under 5 ms of CPU
  let cpu = process.cpuUsage(cpu0)
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const next = process.cpuUsage(cpu0)
    const spent = next.user + next.system - cpu.user - cpu.system
    if (spent < 5_000) break
    cpu = next
  }
  return {
    perSecond: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu: (cpu.user + cpu.system) / latencies.length
  }
}

const rate = { limit: 1_000_000, period: "1000 seconds" } as const
const tag = `${process.pid}-${Date.now()}`
const plain = await inScope(M.ThrottleRedis.make({ key: `bench-plain-${tag}`, rate, onStoreError: "wait" }))
const keyed = await inScope(M.KeyedThrottleRedis.make({ key: `bench-keyed-${tag}`, rate, onStoreError: "wait" }))
const fresh = await inScope(
  M.KeyedThrottleRedis.make({ key: `bench-fresh-${tag}`, rate, onStoreError: "wait", idleTimeToLive: 0 })
)
const rows: ReadonlyArray<readonly [string, (round: number) => (fiber: number, i: number) => Effect.Effect<void, unknown>]> = [
  ["ThrottleRedis (floor)", () => () => plain.withPermit(Effect.void)],
  ["KeyedThrottleRedis, one key", () => () => keyed.withPermit("user")(Effect.void)],
  ["KeyedThrottleRedis, a new key each call", (r) => (f, i) => fresh.withPermit(`${r}-${f}-${i}`)(Effect.void)]
]

// warm-up, then the rounds (every row once per round, the order rotating)
for (const [, call] of rows) await measure(call(-1), 1000)
const results = rows.map(() => [] as Array<Round>)
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < rows.length; k++) {
    const j = (k + r) % rows.length
    results[j]!.push(await measure(rows[j]![1](r), seconds * 1000))
  }
}
const range = (values: ReadonlyArray<number>, digits: number) =>
  `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`
console.log(`\n${CALLERS} callers, withPermit(Effect.void), ${rounds} rounds of ${seconds} s; medians (range)\n`)
console.log(table(
  ["", "grants/s", "p50 ms", "p99 ms", "CPU µs/call"],
  rows.map(([name], j) => {
    const rs = results[j]!
    return [
      name,
      range(rs.map((x) => x.perSecond), 0),
      range(rs.map((x) => x.p50), 2),
      range(rs.map((x) => x.p99), 2),
      range(rs.map((x) => x.cpu), 1)
    ]
  })
))
await Effect.runPromise(Scope.close(scope, Exit.void))
await managed.dispose()
await server.stop()
process.exit(0)
