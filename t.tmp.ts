import { Effect } from "effect"
import { Redis, ThrottleRedis } from "effect-throttles/redis"
import { startServer } from "./test/redis/server.ts"
const s = await startServer(true)
const prog = Effect.gen(function*() {
  const t = yield* ThrottleRedis.make({ key: "x", rate: { limit: 1_000_000, period: "1000 seconds" } })
  for (const c of [64]) {
    let n = 0
    const t0 = performance.now()
    yield* Effect.all(Array.from({ length: c }, () => Effect.gen(function*() {
      while (performance.now() - t0 < 6000) { yield* t.acquire(); n++ }
    })), { concurrency: "unbounded" })
    console.log("conc", c, "grants/s", Math.round(n / ((performance.now() - t0) / 1000)))
  }
})
await Effect.runPromise(Effect.scoped(Effect.provide(prog, Redis.layer(s.url))))
await s.stop()
