/**
 * Store failures for real: redis-server SIGKILLed mid-run and restarted (no persistence). Each `onStoreError`
 * policy does what it says within `storeTimeout`, nothing hangs, and grants resume on Redis once it is back.
 * Outcomes only (real time).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Logger, LogLevel, Metric, Option, Schedule, Scope } from "effect"
import { HttpClient, HttpClientResponse, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpRateLimit, ThrottledHttpClient } from "effect-throttles/http"
import { KeyedThrottleRedis, Redis, ThrottleRedis, ThrottleStoreError } from "effect-throttles/redis"
import { Redis as IORedis } from "ioredis"
import { storeErrors } from "../../src/internal/redisStore.js"
import { serverAvailable } from "./server.js"
import { freshKey, realSleep, useServer } from "./support.js"

/** Retries `self` every 50 ms (real time), at most 100 times. */
const eventually = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.retry(self, { times: 100, schedule: Schedule.spaced("50 millis") })

describe.skipIf(!serverAvailable)("ThrottleRedis when Redis dies", () => {
  const redis = useServer(true)

  /** Runs `body` with Redis killed after `before`, and restarted before `after`. */
  const outage = <A, E, R>(body: (redis: { kill: Effect.Effect<void>; restart: Effect.Effect<void> }) => Effect.Effect<A, E, R>) =>
    body({
      kill: Effect.promise(() => redis.server().kill()),
      restart: Effect.promise(() => redis.server().restart())
    }).pipe(
      Effect.scoped,
      Effect.provide(Redis.layer({ url: redis.server().url, retryStrategy: () => 50 })),
      // the once-per-outage warning is expected here
      Logger.withMinimumLogLevel(LogLevel.Error)
    )

  const options = { rate: "2/s", storeTimeout: "200 millis" } as const

  it.live("\"fail\": typed ThrottleStoreError within storeTimeout, then grants resume", () =>
    outage(({ kill, restart }) =>
      Effect.gen(function*() {
        const name = freshKey("fail")
        const t = yield* ThrottleRedis.make({ ...options, key: name, name, onStoreError: "fail" })
        yield* t.acquire()
        const errors = storeErrors.pipe(Metric.tagged("name", name), Metric.tagged("backend", "redis"))
        yield* kill
        // right after the kill: refused by ioredis (it has not noticed yet) or by us (it has), or a timeout
        const error = yield* Effect.flip(t.acquire()).pipe(Effect.timeout("3 seconds"))
        expect(error).toBeInstanceOf(ThrottleStoreError)
        expect((yield* Metric.value(errors)).count).toBe(1)
        // once ioredis knows the connection is gone, a call is refused before it is sent: typed, and counted too
        const client = yield* Redis
        for (let i = 0; i < 100 && client.status === "ready"; i++) yield* realSleep(20)
        const refused = yield* Effect.flip(t.attempt())
        expect(refused).toBeInstanceOf(ThrottleStoreError)
        expect(refused.message).toContain("Redis connection is")
        expect((yield* Metric.value(errors)).count).toBe(2)
        yield* restart
        yield* waitReady(t.stats)
        expect(yield* t.tryAcquire()).toBe(true)
      })
    ), 30_000)

  it.live("KeyedThrottleRedis \"fail\": each key's operations fail with ThrottleStoreError naming it, then resume", () =>
    outage(({ kill, restart }) =>
      Effect.gen(function*() {
        const key = freshKey("keyed-fail")
        const k = yield* KeyedThrottleRedis.make({ ...options, key, onStoreError: "fail" })
        yield* k.withPermit("alice")(Effect.void)
        yield* kill
        const error = yield* Effect.flip(k.withPermit("alice")(Effect.void)).pipe(Effect.timeout("3 seconds"))
        expect(error).toBeInstanceOf(ThrottleStoreError)
        expect(error.key).toBe(`${key}:alice`)
        // a key made while Redis is down: made, and its first call fails the same way
        const fresh = yield* Effect.flip(k.attempt("bob")).pipe(Effect.timeout("3 seconds"))
        expect(fresh).toBeInstanceOf(ThrottleStoreError)
        expect(fresh.key).toBe(`${key}:bob`)
        // and through get, the key's own throttle
        const service = yield* k.get("carol")
        expect(yield* Effect.flip(service.tryAcquire()).pipe(Effect.timeout("3 seconds"))).toBeInstanceOf(ThrottleStoreError)
        // given to ThrottledHttpClient: the request fails with a RequestError carrying it (nothing is sent)
        let sent = 0
        const answering = HttpClient.make((request) =>
          Effect.sync(() => {
            sent++
            return HttpClientResponse.fromWeb(request, new Response("ok"))
          })
        )
        const client = yield* ThrottledHttpClient.wrap({ throttle: k })(answering)
        const failed = yield* Effect.flip(client.get("http://dave.example/")).pipe(Effect.timeout("3 seconds"))
        expect(failed._tag).toBe("RequestError")
        expect(failed.cause).toBeInstanceOf(ThrottleStoreError)
        expect((failed.cause as ThrottleStoreError).key).toBe(`${key}:dave.example`)
        expect(sent).toBe(0)
        // given to HttpRateLimit: a defect of the request (the app is not run)
        let ran = 0
        const rateLimit = yield* HttpRateLimit.middleware({ throttle: k })
        const app = rateLimit(Effect.sync(() => {
          ran++
          return HttpServerResponse.text("ok")
        }))
        const request = HttpServerRequest.fromWeb(new Request("http://localhost/")).modify({ remoteAddress: "10.0.0.9" })
        const exit = yield* Effect.exit(Effect.provideService(app, HttpServerRequest.HttpServerRequest, request))
          .pipe(Effect.timeout("3 seconds"))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause) && Cause.squash(exit.cause)).toBeInstanceOf(
          ThrottleStoreError
        )
        expect(ran).toBe(0)
        yield* restart
        const alice = yield* k.get("alice")
        yield* waitReady(alice.stats)
        expect((yield* k.attempt("alice")).granted).toBe(true)
        expect((yield* k.attempt("bob")).granted).toBe(true)
      })
    ), 30_000)

  it.live("a Redis that stops answering (SIGSTOP): every call in flight fails within storeTimeout, then grants resume", () =>
    Effect.gen(function*() {
      const name = freshKey("frozen")
      const t = yield* ThrottleRedis.make({ ...options, rate: "100/s", key: name, name, onStoreError: "fail" })
      yield* t.acquire()
      redis.server().freeze(true)
      // one call after another (each its own script call) and eight at once (one call): each times out, none hangs
      const alone = yield* Effect.forEach([1, 2, 3], () => Effect.flip(t.acquire())).pipe(Effect.timeout("5 seconds"))
      const together = yield* Effect.all(Array.from({ length: 8 }, () => Effect.flip(t.acquire())), {
        concurrency: "unbounded"
      }).pipe(Effect.timeout("5 seconds"))
      redis.server().freeze(false)
      for (const error of [...alone, ...together]) {
        expect(error).toBeInstanceOf(ThrottleStoreError)
        expect(error.message).toContain("no answer from Redis within 200ms")
      }
      // the calls Redis reads after SIGCONT are past their deadline and do nothing: one grant so far, then grants
      yield* t.acquire().pipe(Effect.timeout("5 seconds"))
      expect((yield* t.stats).granted).toBe(2)
    }).pipe(
      Effect.scoped,
      Effect.provide(Redis.layer({ url: redis.server().url })),
      Effect.ensuring(Effect.sync(() => redis.server().freeze(false))),
      Logger.withMinimumLogLevel(LogLevel.Error)
    ), 30_000)

  it.live("\"allow\": grants at once while Redis is down", () =>
    outage(({ kill, restart }) =>
      Effect.gen(function*() {
        const t = yield* ThrottleRedis.make({ ...options, key: freshKey("allow"), onStoreError: "allow" })
        yield* t.acquire(2)
        yield* kill
        yield* Effect.all([t.acquire(), t.acquire(), t.acquire()]).pipe(Effect.timeout("3 seconds"))
        expect((yield* t.attempt()).granted).toBe(true)
        yield* restart
        yield* waitReady(t.stats)
        // Redis restarted without its data: the window restarts (documented)
        expect((yield* t.attempt()).granted).toBe(true)
      })
    ), 30_000)

  it.live("\"local\": this process's throttle, seeded with its grants, takes over; Redis takes back", () =>
    outage(({ kill, restart }) =>
      Effect.gen(function*() {
        const t = yield* ThrottleRedis.make({ ...options, rate: "2/10s", key: freshKey("local"), onStoreError: "local" })
        yield* t.acquire(2)
        yield* kill
        // the local throttle knows this window's two grants: refused, not over-admitted
        const refused = yield* t.attempt().pipe(Effect.timeout("3 seconds"))
        expect(refused.granted).toBe(false)
        expect(Duration.toMillis(refused.retryAfter)).toBeGreaterThan(5000)
        yield* restart
        yield* waitReady(t.stats)
        // Redis restarted empty: its window is empty, so Redis (not the local throttle) grants now
        expect(yield* eventually(Effect.flatMap(t.attempt(), (d) => d.granted ? Effect.succeed(d) : Effect.fail(d))))
          .toMatchObject({ granted: true })
      })
    ), 30_000)

  it.live("\"wait\": admits nobody while down, grants once Redis is back", () =>
    outage(({ kill, restart }) =>
      Effect.gen(function*() {
        const t = yield* ThrottleRedis.make({ ...options, key: freshKey("wait"), onStoreError: "wait" })
        yield* t.acquire()
        yield* kill
        expect(yield* t.tryAcquire().pipe(Effect.timeout("3 seconds"))).toBe(false)
        const waiter = yield* Effect.fork(t.acquire())
        yield* realSleep(1000)
        expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
        yield* restart
        yield* Fiber.join(waiter).pipe(Effect.timeout("10 seconds"))
        expect((yield* t.stats).granted).toBe(2)
      })
    ), 30_000)

  it.live("a throttle made while its client waits to reconnect applies its policy at once (new keys of a keyed throttle)", () =>
    Effect.gen(function*() {
      const keyed = yield* KeyedThrottleRedis.make({
        key: freshKey("outage-keys"),
        rate: "2/s",
        onStoreError: "allow",
        storeTimeout: "2 seconds"
      })
      yield* keyed.withPermit("known")(Effect.void)
      yield* Effect.promise(() => redis.server().kill())
      const client = yield* Redis
      for (let i = 0; i < 100 && client.status !== "reconnecting"; i++) yield* realSleep(20)
      expect(client.status).toBe("reconnecting")
      // the client waits 10 s between attempts: a new key does not wait for the next one (nor for storeTimeout)
      const started = performance.now()
      yield* Effect.forEach(["new-1", "new-2", "new-3"], (user) => keyed.withPermit(user)(Effect.void), { discard: true })
      expect(performance.now() - started).toBeLessThan(1000)
      yield* Effect.promise(() => redis.server().restart())
    }).pipe(
      Effect.scoped,
      Effect.provide(Redis.layer({ url: redis.server().url, retryStrategy: () => 10_000 })),
      Logger.withMinimumLogLevel(LogLevel.Error)
    ), 30_000)

  /**
   * A connection opened to the server frozen (SIGSTOP): it stays in "connect", and a new key's throttle waits for it
   * up to storeTimeout. Disconnected with the scope; the server is thawed after the test by `thawed`.
   */
  const frozenClient = Effect.acquireRelease(
    Effect.sync(() => {
      redis.server().freeze(true)
      return new IORedis(redis.server().url, { enableOfflineQueue: false })
    }),
    (c) => Effect.sync(() => c.disconnect())
  )
  const thawed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.ensuring(self, Effect.sync(() => redis.server().freeze(false)))

  it.live("a caller waiting for a new key's throttle leaves at once when interrupted; the key is made all the same", () =>
    Effect.gen(function*() {
      const client = yield* frozenClient
      const keyed = yield* KeyedThrottleRedis.make({
        key: freshKey("interrupted-new-key"),
        rate: "2/s",
        storeTimeout: "10 seconds",
        idleTimeToLive: 0
      }).pipe(Effect.provide(Redis.layerFromClient(client)))
      const leaving = yield* Effect.fork(keyed.withPermit("new")(Effect.succeed("left")))
      const staying = yield* Effect.fork(keyed.withPermit("new")(Effect.succeed("ran")))
      // a key whose only caller leaves while its throttle is being made
      const abandoning = yield* Effect.fork(keyed.withPermit("abandoned")(Effect.succeed("left")))
      yield* realSleep(100)
      expect(client.status).toBe("connect")
      expect(yield* keyed.size).toBe(2)
      // before, the callers waited for the throttle uninterruptibly: here until storeTimeout, 10 s
      const started = performance.now()
      yield* Fiber.interrupt(leaving)
      yield* Fiber.interrupt(abandoning)
      expect(performance.now() - started).toBeLessThan(1000)
      redis.server().freeze(false)
      expect(yield* Fiber.join(staying)).toBe("ran")
      // nobody holds either key now, and idleTimeToLive is 0: both are dropped once made
      expect(yield* eventually(Effect.filterOrFail(keyed.size, (n) => n === 0))).toBe(0)
    }).pipe(Effect.scoped, thawed), 30_000)

  it.live("a keyed throttle closed while a key's throttle is being made: its callers are interrupted, nothing hangs", () =>
    Effect.gen(function*() {
      const client = yield* frozenClient
      const scope = yield* Scope.make()
      const keyed = yield* KeyedThrottleRedis.make({ key: freshKey("closed-new-key"), rate: "2/s", storeTimeout: "10 seconds" })
        .pipe(Effect.provide(Redis.layerFromClient(client)), Scope.extend(scope))
      const waiting = yield* Effect.fork(keyed.withPermit("new")(Effect.succeed("ran")))
      yield* realSleep(100)
      const started = performance.now()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiting)
      expect(performance.now() - started).toBeLessThan(1000)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }).pipe(Effect.scoped, thawed), 30_000)
})

/** Waits (real time) until `stats` answers from Redis again. */
const waitReady = <E>(stats: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const ok = yield* Effect.either(stats)
      if (ok._tag === "Right") return
      yield* realSleep(50)
    }
  })
