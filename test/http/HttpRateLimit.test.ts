import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, TestClock } from "effect"
import { Throttle } from "effect-throttles"
import * as KeyedThrottle from "effect-throttles/KeyedThrottle"
import { HttpRateLimit } from "effect-throttles/http"
import { expectTypeOf } from "vitest"

/** Runs the app for one constructed request from `address` (no socket): status and the rate-limit headers. */
const call = <E>(app: HttpApp.Default<E, HttpServerRequest.HttpServerRequest>, address: string, path = "/") =>
  Effect.map(
    Effect.provideService(
      app,
      HttpServerRequest.HttpServerRequest,
      HttpServerRequest.fromWeb(new Request(`http://localhost${path}`)).modify({ remoteAddress: address })
    ),
    (response) => ({
      status: response.status,
      ratelimit: response.headers["ratelimit"],
      policy: response.headers["ratelimit-policy"],
      retryAfter: response.headers["retry-after"]
    })
  )

const hello = HttpServerResponse.text("hello")

describe("HttpRateLimit.middleware (TestClock, no socket)", () => {
  it.scoped("3/s: 3 × 200 then 2 × 429 with exact headers; a second later 200 again", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({ rate: "3/s" })
      const app = rateLimit(hello)
      // the app keeps its error and context types (the request is added)
      expectTypeOf(app).toEqualTypeOf<
        Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
      >()
      const first = yield* Effect.forEach([1, 2, 3, 4, 5], () => call(app, "10.0.0.1"))
      expect(first).toEqual([
        { status: 200, ratelimit: `"default";r=2;t=1`, policy: `"default";q=3;w=1`, retryAfter: undefined },
        { status: 200, ratelimit: `"default";r=1;t=1`, policy: `"default";q=3;w=1`, retryAfter: undefined },
        { status: 200, ratelimit: `"default";r=0;t=1`, policy: `"default";q=3;w=1`, retryAfter: undefined },
        { status: 429, ratelimit: `"default";r=0;t=1`, policy: `"default";q=3;w=1`, retryAfter: "1" },
        { status: 429, ratelimit: `"default";r=0;t=1`, policy: `"default";q=3;w=1`, retryAfter: "1" }
      ])
      yield* TestClock.adjust("400 millis")
      // 600 ms left: whole seconds, rounded up
      expect(yield* call(app, "10.0.0.1")).toEqual({
        status: 429,
        ratelimit: `"default";r=0;t=1`,
        policy: `"default";q=3;w=1`,
        retryAfter: "1"
      })
      yield* TestClock.adjust("600 millis")
      expect(yield* call(app, "10.0.0.1")).toMatchObject({ status: 200, ratelimit: `"default";r=2;t=1` })
    }))

  it.scoped("keys are independent: each client address has its own quota", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({ rate: "2/10s", policy: "per-ip" })
      const app = rateLimit(hello)
      const a = yield* Effect.forEach([1, 2, 3], () => Effect.map(call(app, "10.0.0.1"), (r) => r.status))
      const b = yield* Effect.forEach([1, 2, 3], () => Effect.map(call(app, "10.0.0.2"), (r) => r.status))
      expect(a).toEqual([200, 200, 429])
      expect(b).toEqual([200, 200, 429])
      yield* TestClock.adjust("3 seconds")
      expect(yield* call(app, "10.0.0.1")).toEqual({
        status: 429,
        ratelimit: `"per-ip";r=0;t=7`,
        policy: `"per-ip";q=2;w=10`,
        retryAfter: "7"
      })
    }))

  it.scoped("a custom key, and an HttpRouter behind the middleware", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({
        rate: "1/s",
        key: (request) => request.headers["x-api-key"] ?? "anonymous"
      })
      const router = HttpRouter.empty.pipe(HttpRouter.get("/items", hello))
      const app = rateLimit(router)
      const withKey = (key: string) =>
        Effect.map(
          Effect.provideService(
            app,
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request("http://localhost/items", { headers: { "x-api-key": key } }))
          ),
          (response) => response.status
        )
      expect(yield* Effect.all([withKey("a"), withKey("a"), withKey("b")])).toEqual([200, 429, 200])
    }))

  it.scoped("the permit is released when the response is produced (maxConcurrent 1), also on failure", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({ rate: "100/s", options: { maxConcurrent: 1 } })
      const slow = Effect.as(Effect.sleep("1 second"), HttpServerResponse.text("slow"))
      const app = rateLimit(slow)
      const first = yield* Effect.fork(call(app, "10.0.0.1"))
      yield* TestClock.adjust("10 millis")
      // while the first is in flight, the second is refused
      expect((yield* call(app, "10.0.0.1")).status).toBe(429)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(first)).status).toBe(200)
      // a failing app gives its permit back too
      const failing = rateLimit(Effect.fail("boom"))
      expect(Exit.isFailure(yield* Effect.exit(call(failing, "10.0.0.1")))).toBe(true)
      const after = yield* Effect.fork(call(app, "10.0.0.1"))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(after)).status).toBe(200)
    }))

  it.scoped("an interrupted request gives its permit back", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({ rate: "100/s", options: { maxConcurrent: 1 } })
      const app = rateLimit(Effect.as(Effect.never, HttpServerResponse.text("never")))
      const hung = yield* Effect.fork(call(app, "10.0.0.1"))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(hung)
      const ok = rateLimit(hello)
      expect((yield* call(ok, "10.0.0.1")).status).toBe(200)
    }))

  it.scoped("a shared Throttle: one quota for every key", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make("2/s")
      const rateLimit = yield* HttpRateLimit.middleware({ throttle })
      const app = rateLimit(hello)
      const statuses = yield* Effect.forEach(
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        (address) => Effect.map(call(app, address), (r) => r.status)
      )
      expect(statuses).toEqual([200, 200, 429])
    }))

  it.scoped("a given KeyedThrottle: per-key decisions, and every permit given back (the idle keys are dropped)", () =>
    Effect.gen(function*() {
      const keyed: KeyedThrottle.KeyedThrottle<string> = yield* KeyedThrottle.make({ rate: "2/s", idleTimeToLive: 0 })
      const rateLimit = yield* HttpRateLimit.middleware({ throttle: keyed })
      const app = rateLimit(hello)
      const statuses = yield* Effect.forEach(
        ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"],
        (address) => Effect.map(call(app, address), (r) => r.status)
      )
      expect(statuses).toEqual([200, 200, 429, 200])
      expect(yield* keyed.size).toBe(2)
      yield* TestClock.adjust("2 seconds")
      // nothing left in flight: both keys became idle and were dropped
      expect(yield* keyed.size).toBe(0)
    }))

  it.scoped("a bad per-key rate is a defect of that request only (500), other keys are served", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({
        rate: (key) => key === "10.0.0.9" ? "0/s" : "5/s"
      })
      const app = rateLimit(hello)
      const bad = yield* Effect.exit(call(app, "10.0.0.9"))
      expect(Exit.isFailure(bad) && Exit.causeOption(bad)._tag === "Some").toBe(true)
      expect(String(bad)).toContain("InvalidRateError")
      expect((yield* call(app, "10.0.0.1")).status).toBe(200)
    }))

  it.scoped("a bad constant rate fails the middleware with InvalidRateError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(HttpRateLimit.middleware({ rate: "3/x" as string }))
      expect(error._tag).toBe("InvalidRateError")
    }))

  it.scoped("several windows (\"5/min, 2/s\"): the headers are those of the window with the fewest remaining", () =>
    Effect.gen(function*() {
      const rateLimit = yield* HttpRateLimit.middleware({ rate: "5/min, 2/s" })
      const app = rateLimit(hello)
      const at0 = yield* Effect.forEach([1, 2, 3], () => call(app, "10.0.0.1"))
      expect(at0).toEqual([
        { status: 200, ratelimit: `"default";r=1;t=1`, policy: `"default";q=2;w=1`, retryAfter: undefined },
        { status: 200, ratelimit: `"default";r=0;t=1`, policy: `"default";q=2;w=1`, retryAfter: undefined },
        { status: 429, ratelimit: `"default";r=0;t=1`, policy: `"default";q=2;w=1`, retryAfter: "1" }
      ])
      yield* TestClock.adjust("1 second")
      yield* call(app, "10.0.0.1")
      yield* call(app, "10.0.0.1")
      yield* TestClock.adjust("1 second")
      // the 5th grant empties the minute window's quota: it decides now; the 6th waits for its first slot (60 s)
      const at2000 = yield* Effect.forEach([1, 2], () => call(app, "10.0.0.1"))
      expect(at2000).toEqual([
        { status: 200, ratelimit: `"default";r=0;t=60`, policy: `"default";q=5;w=60`, retryAfter: undefined },
        { status: 429, ratelimit: `"default";r=0;t=60`, policy: `"default";q=5;w=60`, retryAfter: "58" }
      ])
    }))

  it.scoped("invalid options are defects: neither rate nor throttle, both, a bad key", () =>
    Effect.gen(function*() {
      const defect = (options: HttpRateLimit.Options) =>
        Effect.map(Effect.exit(HttpRateLimit.middleware(options)), (exit) =>
          Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "no defect")
      expect(yield* defect({})).toContain("Expected a rate or a throttle")
      const throttle = yield* Throttle.make("1/s")
      expect(yield* defect({ rate: "1/s", throttle })).toContain("either throttle or rate")
      expect(yield* defect({ rate: "1/s", key: "ip" as never })).toContain("Expected key to be a function")
    }))
})
