/**
 * One worker of `npm run demo:redis`: shares the Redis throttle "10/s" (key "demo") with its siblings, starts tasks
 * as fast as the throttle lets it for a few seconds, and tells the parent when each one started.
 */
import { Effect, Layer } from "effect"
import { Throttle } from "effect-throttles"
import { Redis, ThrottleRedis } from "effect-throttles/redis"

const [url = "redis://127.0.0.1:6379", key = "demo", seconds = "5"] = process.argv.slice(2)

const ThrottleLayer = ThrottleRedis.layer({ key, rate: "10/s" }).pipe(Layer.provide(Redis.layer(url)))

const program = Effect.gen(function*() {
  const deadline = Date.now() + Number(seconds) * 1000
  const task = Throttle.withPermit(Effect.sync(() => process.send?.({ start: Date.now() })))
  const worker = Effect.gen(function*() {
    while (Date.now() < deadline) yield* task
  })
  yield* Effect.all([worker, worker, worker, worker, worker], { concurrency: "unbounded" })
})

Effect.runPromise(Effect.provide(program, ThrottleLayer)).then(
  () => process.disconnect?.(),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
