/**
 * A polite API client: `ThrottledHttpClient` crawling a local server that behaves like a real API (GitHub-style).
 *
 * - The server (node:http, 127.0.0.1, an ephemeral port) has two quotas: HOURLY requests per hour, reported in
 *   GitHub's `X-RateLimit-Limit / -Remaining / -Reset` (epoch seconds), and PER_SECOND requests per second (fixed
 *   windows), reported in the IETF `RateLimit` / `RateLimit-Policy` headers. Beyond either it answers 429.
 * - The client is given no rate at all: it learns the quota from the first response (`remaining` before `reset`)
 *   and never sends a request the server would refuse; the hourly quota is respected the same way.
 * - Prints the requests sent, the 429s received (0) and the elapsed time.
 *
 * Run: npx tsx examples/github-client.ts
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { pathToFileURL } from "node:url"
import { ThrottledHttpClient } from "effect-throttles/http"

const HOURLY = 100
const PER_SECOND = 5
const REPOS = 16

/** What the server saw. */
export interface ApiLog {
  sent: number
  rejected: number
}

/** The fake API, closed with the scope. */
const startApi = Effect.acquireRelease(
  Effect.async<{ readonly server: http.Server; readonly url: string; readonly log: ApiLog }>((resume) => {
    const log: ApiLog = { sent: 0, rejected: 0 }
    const hourStart = Date.now()
    let hourUsed = 0
    let windowStart = 0
    let windowUsed = 0
    const server = http.createServer((req, res) => {
      log.sent++
      const now = Date.now()
      if (now - windowStart >= 1000) {
        windowStart = now
        windowUsed = 0
      }
      const refused = hourUsed >= HOURLY || windowUsed >= PER_SECOND
      if (!refused) {
        hourUsed++
        windowUsed++
      } else {
        log.rejected++
      }
      const headers = {
        "content-type": "application/json",
        "x-ratelimit-limit": String(HOURLY),
        "x-ratelimit-remaining": String(HOURLY - hourUsed),
        "x-ratelimit-reset": String(Math.ceil((hourStart + 3_600_000) / 1000)),
        "ratelimit": `"burst";r=${PER_SECOND - windowUsed};t=${Math.ceil((windowStart + 1000 - now) / 1000)}`,
        "ratelimit-policy": `"burst";q=${PER_SECOND};w=1`
      }
      const id = req.url?.split("/").pop() ?? "?"
      res.writeHead(refused ? 429 : 200, headers)
      res.end(JSON.stringify(refused ? { message: "API rate limit exceeded" } : { name: `repo-${id}`, stars: 7 }))
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, log }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** Crawls REPOS repositories, 4 at a time; returns what the server saw and how long it took. */
export const main = Effect.scoped(
  Effect.gen(function*() {
    const api = yield* startApi
    // no rate given: the headers of the first response tell the client what it may send
    const client = yield* ThrottledHttpClient.wrap({})(yield* HttpClient.HttpClient)
    const started = Date.now()
    const repos = yield* Effect.forEach(
      Array.from({ length: REPOS }, (_, i) => i),
      (i) => Effect.flatMap(client.get(`${api.url}/repos/effect/${i}`), (response) => response.json),
      { concurrency: 4 }
    )
    const elapsed = Date.now() - started
    yield* Console.log(`fetched ${repos.length} repos`)
    yield* Console.log(`requests sent: ${api.log.sent}, 429s received: ${api.log.rejected}, elapsed: ${elapsed} ms`)
    return { fetched: repos.length, sent: api.log.sent, rejected: api.log.rejected, elapsed }
  })
).pipe(Effect.provide(NodeHttpClient.layer))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(main)
}
