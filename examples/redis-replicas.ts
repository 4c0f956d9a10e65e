/**
 * One quota per client across the replicas of a server: two node:http servers (two "replicas", each with its own
 * Redis connection, on 127.0.0.1 ephemeral ports) protect their routes with `HttpRateLimit` over a
 * `KeyedThrottleRedis` on the same key, "3/10s" per client (the `x-client` header, as a token or user id would be).
 * Client "alice" sends 5 requests, alternating between the replicas: 3 × 200, then 2 × 429, whichever replica she
 * reaches; "bob" is not affected. Prints each answer with its `RateLimit` header, and exits.
 *
 * Run with a Redis at REDIS_URL (default redis://127.0.0.1:6379):
 * `REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-replicas.ts`
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { pathToFileURL } from "node:url"
import { HttpRateLimit } from "effect-throttles/http"
import { KeyedThrottleRedis, Redis } from "effect-throttles/redis"

const router = HttpRouter.empty.pipe(HttpRouter.get("/hello", HttpServerResponse.text("hello")))

/** A replica: its own server and Redis connection, the shared per-client quota. Returns its base URL. */
const replica = (redisUrl: string, key: string) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.merge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), Redis.layer(redisUrl))
    )
    const perClient = yield* KeyedThrottleRedis.make({ key, rate: "3/10s" }).pipe(Effect.provide(context))
    const rateLimit = yield* HttpRateLimit.middleware({
      throttle: perClient,
      key: (request) => request.headers["x-client"] ?? "anonymous",
      policy: "per-client"
    })
    // serves in the background until the scope closes
    yield* HttpServer.serveEffect(router, rateLimit).pipe(Effect.provide(context))
    return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address)).pipe(Effect.provide(context))
  })

/** One request as `client` to `base`: `"alice → replica 1: 200 RateLimit: ..."`. */
const send = (label: string, base: string, client: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/hello`, { headers: { "x-client": client } })
    await response.text()
    return `${client} → ${label}: ${response.status}  RateLimit: ${response.headers.get("ratelimit")}`
  })

/** Starts both replicas, sends the requests, prints and returns the lines. */
export const main = (redisUrl: string, key = `example-per-client-${Date.now()}`) =>
  Effect.gen(function*() {
    const one = yield* replica(redisUrl, key)
    const two = yield* replica(redisUrl, key)
    const lines: Array<string> = []
    for (const [label, base, client] of [
      ["replica 1", one, "alice"],
      ["replica 2", two, "alice"],
      ["replica 1", one, "alice"],
      ["replica 2", two, "alice"],
      ["replica 1", one, "alice"],
      ["replica 2", two, "bob"]
    ] as const) {
      const line = yield* send(label, base, client)
      yield* Console.log(line)
      lines.push(line)
    }
    return lines
  }).pipe(Effect.scoped)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(main(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"))
}
