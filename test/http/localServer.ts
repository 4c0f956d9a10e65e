import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

/** One request as the server saw it: when it arrived (performance.now ms), its path, the status it got. */
export interface Seen {
  readonly at: number
  readonly path: string
  status: number
  /** When the response was sent (performance.now ms). */
  sentAt: number
}

/** What a handler answers: a status and headers (body "ok" / "slow down"). */
export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
}

export interface LocalServer {
  readonly url: string
  readonly host: string
  readonly seen: Array<Seen>
}

/**
 * A real node:http server on a free 127.0.0.1 port, closed with the scope. `answer(n, request)` decides the
 * answer to the n-th request (0-based).
 */
export const localServer = (
  answer: (n: number, request: http.IncomingMessage) => Answer
): Effect.Effect<LocalServer, never, import("effect/Scope").Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; local: LocalServer }>((resume) => {
      const seen: Array<Seen> = []
      const server = http.createServer((request, response) => {
        const record: Seen = { at: performance.now(), path: request.url ?? "/", status: 0, sentAt: 0 }
        const n = seen.length
        seen.push(record)
        const { headers = {}, status } = answer(n, request)
        record.status = status
        request.resume()
        request.on("end", () => {
          record.sentAt = performance.now()
          response.writeHead(status, { "content-type": "text/plain", ...headers })
          response.end(status === 200 ? "ok" : "slow down")
        })
      })
      server.keepAliveTimeout = 1000
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          local: { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, seen }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ local }) => local))

/**
 * A server enforcing one request per `intervalMs` (nginx's `limit_req` without burst: a request arriving sooner
 * after the last admitted one is refused), answering `429` with `Retry-After: 0` ("refused, but you may try again
 * at once"), so a client learns the rate from refusals alone, without pauses.
 */
export const leaky = (intervalMs: number) => {
  let last = Number.NEGATIVE_INFINITY
  return (): Answer => {
    const now = performance.now()
    if (now - last < intervalMs) return { status: 429, headers: { "retry-after": "0" } }
    last = now
    return { status: 200 }
  }
}

/**
 * Timers may fire up to a millisecond early and the two clocks (Effect's `Clock`, performance.now) round
 * differently: the slack allowed when checking "nothing arrived before the pause ended".
 */
export const TIMER_SLACK_MS = 3
