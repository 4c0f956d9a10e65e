/**
 * The client's logic under TestClock, against a fake HttpClient (no socket): exact virtual timestamps.
 */
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Layer, TestClock } from "effect"
import type { InvalidRateError } from "effect-throttles"
import { expectTypeOf } from "vitest"
import { Throttle } from "effect-throttles"
import { HttpRateLimitedError, ThrottledHttpClient } from "effect-throttles/http"
import { keyStates } from "../../src/internal/httpClient.js"

interface Sent {
  readonly at: number
  readonly url: string
}

/** A fake server: `answer(n)` decides the n-th answer; `latency` is how long each takes; every request is logged. */
const fake = (
  answer: (n: number) => { status: number; headers?: Record<string, string> },
  latency: Duration.DurationInput = 0
) => {
  const sent: Array<Sent> = []
  const client = HttpClient.make((request) =>
    Effect.gen(function*() {
      const n = sent.length
      sent.push({ at: yield* Clock.currentTimeMillis, url: request.url })
      yield* Effect.sleep(latency)
      const { headers = {}, status } = answer(n)
      return HttpClientResponse.fromWeb(request, new Response(status === 200 ? "ok" : "slow down", { status, headers }))
    })
  )
  return { client, sent }
}

const get = (client: HttpClient.HttpClient.With<any>, url = "http://api.test/x") =>
  Effect.map(client.get(url), (response) => response.status)

describe("ThrottledHttpClient under TestClock (fake client)", () => {
  it.scoped("429 + Retry-After: 2 → the retry is sent at exactly 2000 ms; a request arriving meanwhile waits too", () =>
    Effect.gen(function*() {
      const server = fake((n) => n === 0 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 })
      const client = yield* ThrottledHttpClient.wrap({ rate: "100/s" })(server.client)
      const first = yield* Effect.fork(get(client))
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.fork(get(client, "http://api.test/y"))
      yield* TestClock.adjust("1500 millis")
      expect([yield* Fiber.join(first), yield* Fiber.join(second)]).toEqual([200, 200])
      expect(server.sent.map((s) => s.at)).toEqual([0, 2000, 2000])
    }))

  it.scoped("a throttled answer without a usable header: the retry comes 1 s later (the default pause)", () =>
    Effect.gen(function*() {
      const server = fake((n) => n < 2 ? { status: 503, headers: { "retry-after": "later" } } : { status: 200 })
      const client = yield* ThrottledHttpClient.wrap({})(server.client)
      const fiber = yield* Effect.fork(get(client))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe(200)
      expect(server.sent.map((s) => s.at)).toEqual([0, 1000, 2000])
    }))

  it.scoped("RateLimit r=0;t=3 on a success: the next request is sent at 3000 ms, not before", () =>
    Effect.gen(function*() {
      const server = fake((n) => n === 0 ? { status: 200, headers: { "ratelimit": `"d";r=0;t=3` } } : { status: 200 })
      const client = yield* ThrottledHttpClient.wrap({})(server.client)
      expect(yield* get(client)).toBe(200)
      const next = yield* Effect.fork(get(client))
      yield* TestClock.adjust("2999 millis")
      expect(server.sent).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(next)).toBe(200)
      expect(server.sent.map((s) => s.at)).toEqual([0, 3000])
    }))

  it.scoped("draft 07's RateLimit: limit=4, remaining=0, reset=3 (express-rate-limit): the next request at 3000 ms", () =>
    Effect.gen(function*() {
      const server = fake((n) =>
        n === 0 ? { status: 200, headers: { "ratelimit": "limit=4, remaining=0, reset=3" } } : { status: 200 }
      )
      const client = yield* ThrottledHttpClient.wrap({})(server.client)
      expect(yield* get(client)).toBe(200)
      const next = yield* Effect.fork(get(client))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(next)).toBe(200)
      expect(server.sent.map((s) => s.at)).toEqual([0, 3000])
    }))

  it.scoped("the told allowance: remaining 3 → three more go at once, the rest wait for the reset", () =>
    Effect.gen(function*() {
      // a server with a quota of 4 per 2 s, which says so in the older trio of headers
      const server = fake(
        (n) => ({
          status: 200,
          headers: { "ratelimit-limit": "4", "ratelimit-remaining": String(Math.max(0, 3 - n)), "ratelimit-reset": "2" }
        }),
        "10 millis"
      )
      const client = yield* ThrottledHttpClient.wrap({})(server.client)
      const first = yield* Effect.fork(get(client))
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.join(first)).toBe(200)
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 5 }, (_, i) => get(client, `http://api.test/${i}`)), { concurrency: 5 })
      )
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toEqual([200, 200, 200, 200, 200])
      // the first answer (at 10) allows 3 more; the last of them says "0 remaining, reset in 2 s" at 20
      expect(server.sent.map((s) => s.at)).toEqual([0, 10, 10, 10, 2020, 2020])
    }))

  it.scoped("the told allowance counts the requests still in flight (it errs toward sending less)", () =>
    Effect.gen(function*() {
      const server = fake(
        (n) => ({ status: 200, headers: { "x-ratelimit-remaining": String(Math.max(0, 3 - n)), "x-ratelimit-reset": "2" } }),
        "10 millis"
      )
      const client = yield* ThrottledHttpClient.wrap({})(server.client)
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 5 }, (_, i) => get(client, `http://api.test/${i}`)), { concurrency: 3 })
      )
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      // three at once (nothing known); the answer with 1 remaining arrives while 2 others are in flight: no more
      // until the reset
      expect(server.sent.map((s) => s.at)).toEqual([0, 0, 0, 2010, 2010])
    }))

  it.scoped("maxRetries exceeded: ResponseError with HttpRateLimitedError; retries at the told times", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 429, headers: { "ratelimit": `"d";r=0;t=1` } }))
      const client = yield* ThrottledHttpClient.wrap({ maxRetries: 2 })(server.client)
      const fiber = yield* Effect.fork(Effect.flip(client.get("http://api.test:8080/x")))
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      expect(server.sent.map((s) => s.at)).toEqual([0, 1000, 2000])
      expect(error._tag).toBe("ResponseError")
      const cause = (error as { cause: unknown }).cause as HttpRateLimitedError
      expect(cause).toBeInstanceOf(HttpRateLimitedError)
      expect({ key: cause.key, status: cause.status, attempts: cause.attempts }).toEqual({
        key: "api.test:8080",
        status: 429,
        attempts: 3
      })
      expect(Duration.toMillis(cause.retryAfter)).toBe(1000)
    }))

  it.scoped("a shared Throttle is paused by a 429 (stats.pausedUntil) and measured on release by default", () =>
    Effect.gen(function*() {
      const server = fake((n) => n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }, "100 millis")
      const throttle = yield* Throttle.make("1/s", { measure: "release" })
      const client = yield* ThrottledHttpClient.wrap({ throttle })(server.client)
      const fiber = yield* Effect.fork(Effect.all([get(client), get(client)]))
      yield* TestClock.adjust("150 millis")
      expect((yield* throttle.stats).pausedUntil).toBe(1100)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toEqual([200, 200])
      // 429 answered at 100 → paused until 1100 (and the slot is free 1 s after the release at 100): retry at 1100,
      // its answer at 1200, the second request 1 s after that release
      expect(server.sent.map((s) => s.at)).toEqual([0, 1100, 2200])
    }))

  it.scoped("measure 'release' (default) for the throttles it creates: the next start waits a period after the answer", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }), "300 millis")
      const client = yield* ThrottledHttpClient.wrap({ rate: "1/s" })(server.client)
      const fiber = yield* Effect.fork(Effect.all([get(client), get(client), get(client)], { concurrency: 3 }))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      expect(server.sent.map((s) => s.at)).toEqual([0, 1300, 2600])
    }))

  it.scoped("maxConcurrent per key; keys independent", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }), "100 millis")
      const client = yield* ThrottledHttpClient.wrap({ maxConcurrent: 2 })(server.client)
      const urls = ["http://a.test/1", "http://a.test/2", "http://a.test/3", "http://b.test/1"]
      const fiber = yield* Effect.fork(Effect.all(urls.map((url) => get(client, url)), { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(server.sent.map((s) => `${s.url} ${s.at}`).sort()).toEqual([
        "http://a.test/1 0",
        "http://a.test/2 0",
        "http://a.test/3 100",
        "http://b.test/1 0"
      ])
    }))

  it.scoped("interrupted while the key is paused: no trace (the throttle has nothing in flight or waiting)", () =>
    Effect.gen(function*() {
      const server = fake((n) => n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 })
      const throttle = yield* Throttle.make("10/s", { measure: "release" })
      const client = yield* ThrottledHttpClient.wrap({ throttle, maxRetries: 0 })(server.client)
      yield* Effect.flip(get(client))
      const waiting = yield* Effect.fork(get(client))
      yield* TestClock.adjust("500 millis")
      expect((yield* throttle.stats).waiting).toBe(1)
      yield* Fiber.interrupt(waiting)
      const stats = yield* throttle.stats
      expect({ waiting: stats.waiting, inFlight: stats.inFlight }).toEqual({ waiting: 0, inFlight: 0 })
      yield* TestClock.adjust("500 millis")
      expect(yield* get(client)).toBe(200)
      expect(server.sent.map((s) => s.at)).toEqual([0, 1000])
    }))

  it.scoped("adaptive: one cut per overload episode; clean answers raise the rate again", () =>
    Effect.gen(function*() {
      // the first two answers are 429 (both from requests admitted before any cut), then all 200
      const server = fake((n) => n < 2 ? { status: 429, headers: { "retry-after": "0" } } : { status: 200 }, "50 millis")
      const client = yield* ThrottledHttpClient.wrap({ adaptive: { initialRate: 10, jitter: 0, window: 4 } })(
        server.client
      )
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 2 }, () => get(client)), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      // admitted at 0 and 100 (10/s); both 429 (at 50 and 150), but the second was admitted before the cut at 50:
      // one cut (10 → 7/s), so the retries are spaced 1000/7 ms (two cuts would space them 1000/4.9)
      const times = server.sent.map((s) => s.at)
      expect(times.slice(0, 2)).toEqual([0, 100])
      expect(times).toHaveLength(4)
      expect(times[3]! - times[2]!).toBeCloseTo(1000 / 7, 6)
    }))

  it.scoped("interrupted while the request is in flight: its permit is given back", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }), "1 second")
      const throttle = yield* Throttle.make("10/s", { measure: "release" })
      const client = yield* ThrottledHttpClient.wrap({ throttle })(server.client)
      const sending = yield* Effect.fork(get(client))
      yield* TestClock.adjust("100 millis")
      expect((yield* throttle.stats).inFlight).toBe(1)
      yield* Fiber.interrupt(sending)
      expect((yield* throttle.stats).inFlight).toBe(0)
    }))

  it.scoped("the layer form wraps the HttpClient in context and stays an HttpClient", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }))
      const layer = ThrottledHttpClient.layer({ rate: "2/s", measure: "start" }).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, server.client))
      )
      expectTypeOf(layer).toEqualTypeOf<Layer.Layer<HttpClient.HttpClient, InvalidRateError>>()
      const fiber = yield* Effect.fork(
        Effect.flatMap(HttpClient.HttpClient, (client) =>
          Effect.all([get(client), get(client), get(client)], { concurrency: "unbounded" })).pipe(
            Effect.provide(layer)
          )
      )
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toEqual([200, 200, 200])
      expect(server.sent.map((s) => s.at)).toEqual([0, 0, 1000])
    }))

  it.scoped("invalid options are defects naming the option (Expected X, got Y), before any request", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }))
      const defect = (options: ThrottledHttpClient.Options) =>
        Effect.map(
          Effect.exit(ThrottledHttpClient.wrap(options)(server.client)),
          (exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "no defect"
        )
      expect(yield* defect({ maxRetries: -1 })).toContain("Expected maxRetries to be an integer >= 0, got -1")
      expect(yield* defect({ maxConcurrent: 0 })).toContain("Expected maxConcurrent to be an integer >= 1, got 0")
      expect(yield* defect({ measure: "end" as "start" })).toContain(`Expected measure to be "start" or "release"`)
      expect(yield* defect({ adaptive: { jitter: 2 } })).toContain("Expected adaptive.jitter to be a number in [0, 1)")
      const throttle = yield* Throttle.make("1/s")
      expect(yield* defect({ throttle, rate: "2/s" })).toContain("either throttle or rate/maxConcurrent")
      expect(yield* defect({ idleTimeToLive: -1 })).toContain("Expected idleTimeToLive to be a duration >= 0, got -1")
      expect(server.sent).toHaveLength(0)
    }))
})

describe("ThrottledHttpClient: what it keeps per key", () => {
  it.scoped("a key's state is dropped idleTimeToLive after its last request ended, not a millisecond earlier", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }))
      const client = yield* ThrottledHttpClient.wrap({ rate: "100/s", idleTimeToLive: "10 seconds" })(server.client)
      const hosts = Array.from({ length: 1000 }, (_, i) => `http://host-${i}.test/`)
      yield* Effect.forEach(hosts, (url) => get(client, url), { concurrency: "unbounded" })
      expect(keyStates(client)).toBe(1000)
      // Each request looks at the idle keys first: 9 999 ms after the ends nothing goes, at 10 000 ms all of them.
      yield* TestClock.adjust("9999 millis")
      yield* get(client, "http://late.test/")
      expect(keyStates(client)).toBe(1001)
      yield* TestClock.adjust("1 millis")
      yield* get(client, "http://later.test/")
      expect(keyStates(client)).toBe(2)
      expect(server.sent).toHaveLength(1002)
    }))

  it.scoped("a paused key outlives idleTimeToLive until its pause is over, without holding back the others", () =>
    Effect.gen(function*() {
      const server = fake((n) => n === 0 ? { status: 429, headers: { "retry-after": "30" } } : { status: 200 })
      const client = yield* ThrottledHttpClient.wrap({ maxRetries: 0, idleTimeToLive: "1 second" })(server.client)
      // paused.test is told to wait 30 s: its state (the pause) must outlive the idle time
      expect(Exit.isFailure(yield* Effect.exit(get(client, "http://paused.test/")))).toBe(true)
      yield* get(client, "http://a.test/")
      yield* TestClock.adjust("1 second")
      yield* get(client, "http://b.test/") // at 1 000 ms: a.test goes, paused.test stays
      expect(keyStates(client)).toBe(2)
      yield* TestClock.adjust("28999 millis")
      yield* get(client, "http://c.test/") // at 29 999 ms: b.test goes, paused.test still stays
      expect(keyStates(client)).toBe(2)
      yield* TestClock.adjust("1 millis")
      yield* get(client, "http://d.test/") // at 30 000 ms: the pause is over, paused.test goes
      expect(keyStates(client)).toBe(2) // c.test and d.test
      // and the pause held while it lasted: paused.test's next request was not sent before 30 s
      expect(server.sent.map((s) => s.url)).toEqual([
        "http://paused.test/",
        "http://a.test/",
        "http://b.test/",
        "http://c.test/",
        "http://d.test/"
      ])
    }))

  it.scoped("a key with a request running is never dropped, however long it runs", () =>
    Effect.gen(function*() {
      const server = fake(() => ({ status: 200 }), "5 seconds")
      const client = yield* ThrottledHttpClient.wrap({ idleTimeToLive: "1 second" })(server.client)
      const slow = yield* Effect.fork(get(client, "http://slow.test/"))
      yield* TestClock.adjust("3 seconds")
      const probe = yield* Effect.fork(get(client, "http://probe.test/"))
      yield* TestClock.adjust("2 seconds") // slow.test ends at 5 000 ms
      expect(yield* Fiber.join(slow)).toBe(200)
      expect(keyStates(client)).toBe(2)
      yield* TestClock.adjust("3 seconds") // probe.test ends at 8 000 ms; slow.test droppable from 6 000 ms
      expect(yield* Fiber.join(probe)).toBe(200)
      const last = yield* Effect.fork(get(client, "http://last.test/"))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(last)).toBe(200)
      expect(keyStates(client)).toBe(2) // probe.test (until 9 000 ms) and last.test: slow.test went at 8 000 ms
    }))
})
