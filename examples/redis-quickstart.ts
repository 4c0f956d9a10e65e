/**
 * The README snippet of the Redis backend: the same `Throttle` service, its state in Redis, so every process using
 * the key "github" shares "5000/h, 10/s" and at most 20 calls in flight. Run it with a Redis at REDIS_URL
 * (default redis://127.0.0.1:6379): `REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-quickstart.ts`.
 */
import { Effect, Layer } from "effect"
import { Throttle } from "effect-throttles"
import { Redis, ThrottleRedis } from "effect-throttles/redis"

// where ThrottleLive("5000/h, 10/s", { maxConcurrent: 20 }) was:
const ThrottleLayer = ThrottleRedis.layer({ key: "github", rate: "5000/h, 10/s", maxConcurrent: 20 }).pipe(
  Layer.provide(Redis.layer(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"))
)

const callApi = (i: number) => Effect.log(`call ${i}`)

const program = Effect.gen(function*() {
  // 12 calls: 10 in the first second, 2 a second later — in this process and all the others together
  yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) => Throttle.withPermit(callApi(i)), {
    concurrency: "unbounded"
  })
  const decision = yield* Throttle.attempt() // for a server: Retry-After / RateLimit headers
  yield* Effect.log(`granted: ${decision.granted}, retry after ${decision.retryAfter}`)
})

Effect.runPromise(program.pipe(Effect.provide(ThrottleLayer)))
