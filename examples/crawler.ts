/**
 * A polite crawler: `Scheduler` limits matched to a server's quota, so the server never answers 429.
 *
 * - Starts a local HTTP server (node:http, 127.0.0.1, an ephemeral port) with a quota of QUOTA requests per second
 *   (a sliding window over arrival times) that answers 429 Too Many Requests beyond it, and takes 20–150 ms per
 *   page.
 * - Fetches PAGES pages through `@effect/platform`'s `HttpClient` (the fetch-based layer) with
 *   `Scheduler.runAll(..., { maxAtOnce: 6, maxPerSecond: QUOTA })`, showing a live progress line (`onProgress`)
 *   with the pace the throttle holds.
 * - Reports what the server saw: the busiest one-second window, the pace, and the number of 429s (0).
 * - Then, for contrast, a short burst without `maxPerSecond`: the quota is blown at once.
 *
 * Run: npx tsx examples/crawler.ts
 */
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { Console, Data, Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Scheduler } from "effect-throttles"

const QUOTA = 20 // requests per second the server accepts
const PAGES = 60
/**
 * Arrival times at the server lag the client's start times by a varying few milliseconds (building the request,
 * the event loop, opening a connection), so two starts exactly one second apart may arrive 995 ms apart. Like
 * real APIs, the server is lenient at the edge: its window is this much shorter than a second.
 */
const GRACE_MS = 50

/** The server's view: arrival times of accepted requests, and the 429s it answered. */
interface ServerLog {
  readonly accepted: Array<number>
  rejected: number
}

const startServer = Effect.acquireRelease(
  Effect.async<{ readonly server: http.Server; readonly url: string; readonly log: ServerLog }>((resume) => {
    const log: ServerLog = { accepted: [], rejected: 0 }
    const recent: Array<number> = [] // arrivals in the last second (sliding window)
    const server = http.createServer((req, res) => {
      if (req.url === "/health") { // outside the quota: lets the client warm up (fetch loads lazily)
        res.writeHead(204)
        res.end()
        return
      }
      const now = performance.now()
      while (recent.length > 0 && recent[0]! <= now - (1000 - GRACE_MS)) recent.shift()
      if (recent.length >= QUOTA) {
        log.rejected++
        res.writeHead(429, { "content-type": "application/json", "retry-after": "1" })
        res.end(JSON.stringify({ error: "Too Many Requests" }))
        return
      }
      recent.push(now)
      log.accepted.push(now)
      const id = Number(req.url?.split("/").pop())
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ id, title: `Page ${id}`, words: 100 + ((id * 37) % 400) }))
      }, 20 + ((id * 53) % 130))
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

class TooManyRequests extends Data.TaggedError("TooManyRequests")<{ readonly url: string }> {
  override get message() {
    return `429 Too Many Requests: ${this.url}`
  }
}

interface Page {
  readonly id: number
  readonly title: string
  readonly words: number
}

const fetchPage = (base: string, id: number) =>
  Effect.gen(function*() {
    const url = `${base}/page/${id}`
    const response = yield* HttpClient.get(url)
    if (response.status === 429) return yield* new TooManyRequests({ url })
    return (yield* response.json) as Page
  })

/** The largest number of arrivals in any window of the server's length (one second less the grace). */
const busiestWindow = (times: ReadonlyArray<number>): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= 1000 - GRACE_MS) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}

const program = Effect.gen(function*() {
  const { log, url } = yield* startServer
  yield* Console.log(`server on ${url}: quota ${QUOTA} requests/s, 429 beyond it`)
  // The first fetch of a process loads and sets up the HTTP stack (tens of ms): do it before timing anything.
  yield* HttpClient.get(`${url}/health`)
  yield* Console.log(`crawling ${PAGES} pages with maxAtOnce: 6, maxPerSecond: ${QUOTA}`)

  const began = performance.now()
  const bar = (done: number, total: number) => {
    const width = 30
    const full = Math.round((done / total) * width)
    return `[${"#".repeat(full)}${" ".repeat(width - full)}]`
  }
  const onProgress = (p: Scheduler.Progress) =>
    Effect.sync(() => {
      const seconds = (performance.now() - began) / 1000
      const pace = seconds > 0 ? (p.started / seconds).toFixed(1) : "-"
      const total = p.total ?? PAGES
      process.stdout.write(
        `\r${bar(p.completed + p.failed, total)} ${p.completed}/${total} fetched, ${p.started - p.completed - p.failed} ` +
          `in flight, ${pace} req/s, ${log.rejected} x 429   `
      )
    })

  const pages = yield* Scheduler.runAll(
    Array.from({ length: PAGES }, (_, i) => fetchPage(url, i + 1)),
    { maxAtOnce: 6, maxPerSecond: QUOTA, onProgress }
  )
  const elapsed = (performance.now() - began) / 1000
  process.stdout.write("\n")
  const words = pages.reduce((n, page) => n + page.words, 0)
  yield* Console.log(
    `done: ${pages.length} pages (${words} words) in ${elapsed.toFixed(2)} s = ` +
      `${(pages.length / elapsed).toFixed(1)} req/s; busiest window at the server: ${busiestWindow(log.accepted)} ` +
      `requests (quota ${QUOTA}); 429s: ${log.rejected}`
  )
  if (log.rejected !== 0) return yield* Effect.die(new Error(`expected no 429s, got ${log.rejected}`))

  // For contrast: the same server, 30 pages with only maxAtOnce (no rate limit).
  yield* Effect.sleep("1 second") // let the server's window empty
  const burst = yield* Scheduler.runAll(
    Array.from({ length: 30 }, (_, i) => Effect.either(fetchPage(url, 100 + i))),
    { maxAtOnce: 10 }
  )
  const refused = burst.filter((r) => r._tag === "Left").length
  yield* Console.log(`without maxPerSecond (maxAtOnce: 10 only): ${refused} of 30 requests answered 429`)
})

program.pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer), Effect.runPromise).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
