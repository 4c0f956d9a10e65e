/**
 * A server protected by `HttpRateLimit`: an `HttpRouter` on node:http (127.0.0.1, an ephemeral port) allowing
 * 3 requests per second per client address. The program sends itself 5 requests at once, prints each status with
 * its `RateLimit` / `RateLimit-Policy` / `Retry-After` headers (3 × 200, then 2 × 429), waits for the window to
 * pass, shows that the quota is back, and exits.
 *
 * Run: npx tsx examples/server.ts
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { createServer } from "node:http"
import { pathToFileURL } from "node:url"
import { HttpRateLimit } from "effect-throttles/http"

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/hello", HttpServerResponse.text("hello")),
  HttpRouter.get("/time", Effect.sync(() => HttpServerResponse.text(new Date().toISOString())))
)

/** One request with fetch: `200 RateLimit: "default";r=2;t=1 ...`. */
const show = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    await response.text()
    const header = (name: string) => response.headers.get(name)
    return [
      String(response.status),
      `RateLimit: ${header("ratelimit")}`,
      `RateLimit-Policy: ${header("ratelimit-policy")}`,
      ...(header("retry-after") === null ? [] : [`Retry-After: ${header("retry-after")}`])
    ].join("  ")
  })

/** Serves, sends itself requests, prints what came back; returns the lines. */
export const main = Effect.gen(function*() {
  const rateLimit = yield* HttpRateLimit.middleware({ rate: "3/s" })
  // serves in the background until the scope closes
  yield* HttpServer.serveEffect(router, rateLimit)
  const base = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
  const lines: Array<string> = []
  const log = (line: string) => Effect.zipRight(Console.log(line), Effect.sync(() => lines.push(line)))
  const burst = yield* Effect.all([1, 2, 3, 4, 5].map(() => show(`${base}/hello`)))
  for (const line of burst) yield* log(line)
  yield* Console.log("... one second later")
  yield* Effect.sleep("1 second")
  yield* log(yield* show(`${base}/time`))
  return lines
}).pipe(
  Effect.scoped,
  Effect.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(main)
}
