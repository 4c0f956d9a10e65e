import { HttpClient, HttpClientError } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer } from "effect"
import { Throttle } from "effect-throttles"
import { HttpRateLimitedError, ThrottledHttpClient } from "effect-throttles/http"
import { leaky, localServer, TIMER_SLACK_MS } from "./localServer.js"

/** The node:http client wrapped with `options` (scoped). */
const throttledClient = (options: ThrottledHttpClient.Options) =>
  Effect.flatMap(HttpClient.HttpClient, ThrottledHttpClient.wrap(options))

const status = (client: HttpClient.HttpClient.With<any>, url: string) =>
  Effect.map(client.get(url), (response) => response.status)

const live = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | import("effect/Scope").Scope>) =>
  effect.pipe(Effect.provide(NodeHttpClient.layer))

describe("ThrottledHttpClient against real node:http servers", () => {
  it.scopedLive("per-key throttling: each host has its own 2/s quota; one host's wait does not hold up another", () =>
    live(Effect.gen(function*() {
      const a = yield* localServer(() => ({ status: 200 }))
      const b = yield* localServer(() => ({ status: 200 }))
      const client = yield* throttledClient({ rate: "2/s" })
      const statuses = yield* Effect.all(
        [a, a, a, b, b, b].map((server, i) => status(client, `${server.url}/${i}`)),
        { concurrency: "unbounded" }
      )
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200])
      for (const server of [a, b]) {
        expect(server.seen).toHaveLength(3)
        // measure "release": the third request is sent a full period after an earlier response was sent
        const firstResponse = Math.min(server.seen[0]!.sentAt, server.seen[1]!.sentAt)
        expect(server.seen[2]!.at).toBeGreaterThanOrEqual(firstResponse + 1000 - TIMER_SLACK_MS)
      }
      // b's first two were not held up behind a's third
      expect(Math.max(b.seen[0]!.at, b.seen[1]!.at)).toBeLessThan(a.seen[2]!.at)
    })))

  it.scopedLive("429 + Retry-After: 1 pauses the key (every request waits) and the retry succeeds", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer((n) => n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 })
      const client = yield* throttledClient({ rate: "100/s" })
      const first = yield* Effect.fork(status(client, `${server.url}/first`))
      // a second request for the same host, sent while the key is paused
      yield* Effect.sleep("200 millis")
      const second = yield* status(client, `${server.url}/second`)
      expect([yield* first, second]).toEqual([200, 200])
      expect(server.seen.map((s) => s.status)).toEqual([429, 200, 200])
      const pausedAt = server.seen[0]!.sentAt
      for (const later of server.seen.slice(1)) {
        expect(later.at).toBeGreaterThanOrEqual(pausedAt + 1000 - TIMER_SLACK_MS)
      }
    })))

  it.scopedLive("Retry-After as an HTTP-date: nothing is sent before that date", () =>
    live(Effect.gen(function*() {
      let retryAt = 0
      const server = yield* localServer((n) => {
        if (n > 0) return { status: 200 }
        retryAt = (Math.floor(Date.now() / 1000) + 2) * 1000
        return { status: 503, headers: { "retry-after": new Date(retryAt).toUTCString() } }
      })
      const client = yield* throttledClient({})
      expect(yield* status(client, server.url)).toBe(200)
      expect(server.seen.map((s) => s.status)).toEqual([503, 200])
      // the retry arrived at or after the date (epoch time, read on the server side)
      const retryArrivedEpoch = Date.now() - (performance.now() - server.seen[1]!.at)
      expect(retryArrivedEpoch).toBeGreaterThanOrEqual(retryAt - TIMER_SLACK_MS)
    })))

  it.scopedLive("RateLimit r=0 on a success pauses the key until the reset: the server sees nothing before it", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer((n) =>
        n === 0
          ? { status: 200, headers: { "ratelimit": `"default";r=0;t=1`, "ratelimit-policy": `"default";q=1;w=1` } }
          : { status: 200 }
      )
      const client = yield* throttledClient({ rate: "100/s" })
      expect(yield* status(client, `${server.url}/1`)).toBe(200)
      expect(yield* status(client, `${server.url}/2`)).toBe(200)
      expect(server.seen.map((s) => s.status)).toEqual([200, 200])
      expect(server.seen[1]!.at).toBeGreaterThanOrEqual(server.seen[0]!.sentAt + 1000 - TIMER_SLACK_MS)
    })))

  it.scopedLive("X-RateLimit-Remaining: 0 with an epoch reset pauses a shared Throttle (stats.pausedUntil)", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer(() => ({
        status: 200,
        headers: {
          "x-ratelimit-limit": "60",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 30)
        }
      }))
      const throttle = yield* Throttle.make("100/s")
      const client = yield* throttledClient({ throttle })
      expect(yield* status(client, server.url)).toBe(200)
      const { pausedUntil } = yield* throttle.stats
      expect(pausedUntil).toBeDefined()
      expect(pausedUntil! - Date.now()).toBeGreaterThan(20_000)
    })))

  it.scopedLive("maxRetries exceeded: a ResponseError whose cause is HttpRateLimitedError; attempts counts every request", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer(() => ({ status: 429, headers: { "retry-after": "0" } }))
      const client = yield* throttledClient({ rate: "100/s", maxRetries: 2 })
      const error = yield* Effect.flip(client.get(`${server.url}/x`))
      expect(server.seen).toHaveLength(3)
      expect(error).toBeInstanceOf(HttpClientError.ResponseError)
      if (error._tag !== "ResponseError") throw new Error("expected a ResponseError")
      expect(error.reason).toBe("StatusCode")
      expect(error.response.status).toBe(429)
      expect(error.cause).toBeInstanceOf(HttpRateLimitedError)
      const cause = error.cause as HttpRateLimitedError
      expect({ key: cause.key, status: cause.status, attempts: cause.attempts }).toEqual({
        key: server.host,
        status: 429,
        attempts: 3
      })
      expect(Duration.toMillis(cause.retryAfter)).toBe(0)
      expect(error.message).toContain(JSON.stringify(server.host))
      expect(error.message).toContain("after 3 attempts")
      expect(error.message).toContain("retry after")
    })))

  it.scopedLive("maxRetries: 0 fails on the first throttled answer; retryOn decides what is throttled", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer(() => ({ status: 418, headers: { "retry-after": "7" } }))
      const plain = yield* throttledClient({ maxRetries: 0 })
      expect(yield* status(plain, server.url)).toBe(418) // not in retryOn: returned as is
      const teapot = yield* throttledClient({ maxRetries: 0, retryOn: [418] })
      const error = yield* Effect.flip(teapot.get(server.url))
      const cause = (error as HttpClientError.ResponseError).cause as HttpRateLimitedError
      expect({ attempts: cause.attempts, status: cause.status, retryAfter: Duration.toMillis(cause.retryAfter) })
        .toEqual({ attempts: 1, status: 418, retryAfter: 7000 })
      expect(server.seen).toHaveLength(2)
    })))

  it.scopedLive("malformed headers are ignored: a throttled answer without a usable one is retried after 1 s", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer((n) =>
        n === 0
          ? {
            status: 429,
            headers: { "retry-after": "soon", "ratelimit": "r=0;t=x", "x-ratelimit-reset": "tomorrow" }
          }
          : { status: 200, headers: { "ratelimit": "remaining=0", "x-ratelimit-remaining": "none" } }
      )
      const throttle = yield* Throttle.make("100/s")
      const client = yield* throttledClient({ throttle })
      expect(yield* status(client, server.url)).toBe(200)
      expect(server.seen.map((s) => s.status)).toEqual([429, 200])
      expect(server.seen[1]!.at).toBeGreaterThanOrEqual(server.seen[0]!.sentAt + 1000 - TIMER_SLACK_MS)
      // the success's malformed "remaining" did not pause the key again
      const before = (yield* throttle.stats).pausedUntil ?? 0
      expect(yield* status(client, server.url)).toBe(200)
      expect((yield* throttle.stats).pausedUntil ?? 0).toBe(before)
    })))

  it.scopedLive("a bad rate for one key fails that request with a RequestError caused by InvalidRateError", () =>
    live(Effect.gen(function*() {
      const good = yield* localServer(() => ({ status: 200 }))
      const bad = yield* localServer(() => ({ status: 200 }))
      const client = yield* throttledClient({ rate: (key) => key === bad.host ? "10/sx" : "10/s" })
      const error = yield* Effect.flip(client.get(bad.url))
      expect(error._tag).toBe("RequestError")
      expect((error as HttpClientError.RequestError).cause).toMatchObject({ _tag: "InvalidRateError" })
      expect(bad.seen).toHaveLength(0)
      expect(yield* status(client, good.url)).toBe(200)
    })))

  it.scopedLive("a bad constant rate fails the layer with InvalidRateError", () =>
    Effect.gen(function*() {
      const layer = ThrottledHttpClient.layer({ rate: "ten per second" }).pipe(Layer.provide(NodeHttpClient.layer))
      const result = yield* Effect.either(Layer.build(layer))
      expect(Either.isLeft(result) && result.left._tag).toBe("InvalidRateError")
    }))

  it.scopedLive("adaptive: against a server enforcing 10/s, the 429 share falls run over run", () =>
    live(Effect.gen(function*() {
      const server = yield* localServer(leaky(100))
      // starts 4 times too fast, and is told only by refusals
      const client = yield* throttledClient({ adaptive: { initialRate: 40 }, maxRetries: 50 })
      const shares: Array<number> = []
      for (let run = 0; run < 3; run++) {
        const before = server.seen.length
        yield* Effect.forEach(
          Array.from({ length: 15 }, (_, i) => i),
          (i) => status(client, `${server.url}/${run}/${i}`),
          { concurrency: 4 }
        )
        const seen = server.seen.slice(before)
        shares.push(seen.filter((s) => s.status === 429).length / seen.length)
      }
      expect(shares[0]!).toBeGreaterThan(0.2)
      expect(shares[2]!).toBeLessThan(shares[0]!)
      expect(shares[2]!).toBeLessThan(0.2)
    })), 30_000)
})
