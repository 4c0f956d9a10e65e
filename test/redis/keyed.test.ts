/**
 * KeyedThrottleRedis against a real redis-server: one Redis throttle per key, shared by every keyed throttle (every
 * process) using the same `key`. Timing tests pass the TestClock's time to the script (the internal clock mode), so
 * grant times are exact virtual timestamps.
 */
import { HttpClient, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, MetricLabel, Option, Scope, TestClock } from "effect"
import { InvalidRateError, ThrottleReleaseError } from "effect-throttles"
import { HttpRateLimit, ThrottledHttpClient } from "effect-throttles/http"
import { KeyedThrottleRedis, Redis } from "effect-throttles/redis"
import { main as replicas } from "../../examples/redis-replicas.js"
import { ClockMode, OnSettle } from "../../src/internal/redisThrottle.js"
import { localServer } from "../http/localServer.js"
import { redisAvailable } from "./server.js"
import { forkSettled, freshKey, noteSettled, nowMillis, realSleep, settledSoFar, useServer, withRedis, waitSettled } from "./support.js"

/** A keyed Redis throttle on the TestClock (the script is given the TestClock's time). */
const makeOnTestClock = <R>(options: KeyedThrottleRedis.Options<R>) =>
  KeyedThrottleRedis.make({
    onStoreError: "wait",
    ...options,
    [ClockMode]: "client",
    [OnSettle]: noteSettled
  } as KeyedThrottleRedis.Options<any>)

describe.skipIf(!redisAvailable)("KeyedThrottleRedis on a real Redis", () => {
  const redis = useServer()
  const provide = withRedis(redis.server)

  it.effect("one throttle per key, shared by two keyed throttles on the same key; keys are independent", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed")
      const a = yield* makeOnTestClock({ key, rate: "2/s" })
      const b = yield* makeOnTestClock({ key, rate: "2/s" })
      const at = (k: typeof a, user: string) => k.withPermit(user)(nowMillis)
      // "alice" takes 2 through a: b's next one for "alice" waits a second; "bob" is not affected
      expect([yield* at(a, "alice"), yield* at(a, "alice")]).toEqual([0, 0])
      const waiting = yield* forkSettled(at(b, "alice"))
      expect([yield* at(b, "bob"), yield* at(a, "bob")]).toEqual([0, 0])
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(waiting)).toBe(1000)
      expect(yield* a.size).toBe(2)
      expect(yield* b.size).toBe(2)
    }).pipe(provide))

  it.effect("an interrupted waiter of a key gives its reservation back", () =>
    Effect.gen(function*() {
      const k = yield* makeOnTestClock({ key: freshKey("keyed-refund"), rate: "1/s" })
      const at = k.withPermit("u")(nowMillis)
      yield* at
      const victim = yield* forkSettled(at)
      yield* Fiber.interrupt(victim)
      const next = yield* forkSettled(at)
      yield* TestClock.adjust("3 seconds")
      // granted in the interrupted one's slot, not a second after it
      expect(yield* Fiber.join(next)).toBe(1000)
    }).pipe(provide))

  it.effect("a key is dropped idleTimeToLive after its last use here, and its windows stay in Redis", () =>
    Effect.gen(function*() {
      const k = yield* makeOnTestClock({ key: freshKey("keyed-ttl"), rate: "2/10s", idleTimeToLive: "1 second" })
      expect((yield* k.attempt("u")).granted).toBe(true)
      yield* k.release("u")
      expect(yield* k.attempt("u")).toMatchObject({ granted: true, remaining: 0 })
      yield* k.release("u")
      expect(yield* k.size).toBe(1)
      yield* TestClock.adjust("999 millis")
      expect(yield* k.size).toBe(1)
      yield* TestClock.adjust("1 milli")
      expect(yield* k.size).toBe(0)
      // made again: the window still holds the two grants (at 0) until 10 s
      const refused = yield* k.attempt("u")
      expect(refused.granted).toBe(false)
      expect(Duration.toMillis(refused.retryAfter)).toBe(9000)
      expect(yield* k.size).toBe(1)
      // used again before its time is up: kept a full idleTimeToLive after that use
      yield* TestClock.adjust("500 millis")
      yield* k.attempt("u")
      yield* TestClock.adjust("500 millis")
      expect(yield* k.size).toBe(1)
      yield* TestClock.adjust("499 millis")
      expect(yield* k.size).toBe(1)
      yield* TestClock.adjust("1 milli")
      expect(yield* k.size).toBe(0)
    }).pipe(provide))

  it.effect("a waiter interrupted mid-wait lets go of its key", () =>
    Effect.gen(function*() {
      const k = yield* makeOnTestClock({ key: freshKey("keyed-letgo"), rate: "1/s", idleTimeToLive: 0 })
      // the first one holds its permit (and the key) until released; the second waits for the next second
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const first = yield* Effect.fork(k.withPermit("u")(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release))))
      yield* Deferred.await(started)
      const waiter = yield* forkSettled(k.withPermit("u")(Effect.void))
      expect(yield* k.size).toBe(1)
      yield* Fiber.interrupt(waiter)
      expect(yield* k.size).toBe(1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      expect(yield* k.size).toBe(0)
    }).pipe(provide))

  it.effect("permits granted by attempt hold the key until released; releasing more than held fails", () =>
    Effect.gen(function*() {
      const k = yield* makeOnTestClock({ key: freshKey("keyed-held"), rate: "5/s", idleTimeToLive: 0 })
      expect((yield* k.attempt("u", 2)).granted).toBe(true)
      expect((yield* k.attempt("u")).granted).toBe(true)
      expect(yield* k.size).toBe(1)
      const tooMany = yield* Effect.flip(k.release("u", 4))
      expect(tooMany).toBeInstanceOf(ThrottleReleaseError)
      expect(tooMany).toMatchObject({ requested: 4, inFlight: 3 })
      yield* k.release("u", 2)
      expect(yield* k.size).toBe(1)
      yield* k.release("u")
      // nothing in flight, time to live 0: dropped at once
      expect(yield* k.size).toBe(0)
      const unknown = yield* Effect.flip(k.release("nobody"))
      expect(unknown).toMatchObject({ requested: 1, inFlight: 0 })
      // a refused attempt holds nothing
      const full = yield* makeOnTestClock({ key: freshKey("keyed-full"), rate: "1/s", idleTimeToLive: 0 })
      yield* full.attempt("u")
      expect((yield* full.attempt("u")).granted).toBe(false)
      yield* full.release("u")
      expect(yield* full.size).toBe(0)
    }).pipe(provide))

  it.live("any string is a key: '{', '}' and '%' are escaped and every Redis key stays in the key's hash tag", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-escape")
      const k = yield* KeyedThrottleRedis.make({ key, rate: "3/s", onStoreError: "wait" })
      const users = ["{a}", "a%7B", "%", ""]
      for (const user of users) yield* k.withPermit(user)(Effect.void)
      const keys = yield* Effect.promise(() => redis.admin().keys(`*${key}*`))
      // one window key per user key (one rate: meta hash + window), in four different hash tags
      const tags = new Set(keys.map((k) => k.slice(k.indexOf("{"), k.indexOf("}") + 1)))
      expect([...tags].sort()).toEqual(
        [`{effect-throttles:${key}:%7Ba%7D}`, `{effect-throttles:${key}:a%257B}`, `{effect-throttles:${key}:%25}`, `{effect-throttles:${key}:}`]
          .sort()
      )
      // "{a}" and "a%7B" (which would both read "a{" unescaped, if escaping were ambiguous) are two keys
      expect((yield* k.attempt("{a}")).remaining).toBe(1)
      expect((yield* k.attempt("a%7B")).remaining).toBe(1)
    }).pipe(provide))

  it.effect("a rate function: each key its rate; a bad rate fails that key with InvalidRateError naming it", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const k = yield* makeOnTestClock({
        key: freshKey("keyed-fn"),
        rate: (user: string) => {
          asked.push(user)
          return user === "bad" ? "often" : user === "vip" ? "3/s" : "1/s"
        }
      })
      expect((yield* k.attempt("vip")).remaining).toBe(2)
      expect((yield* k.attempt("basic")).remaining).toBe(0)
      const error = yield* Effect.flip(k.attempt("bad"))
      expect(error).toBeInstanceOf(InvalidRateError)
      expect(error.message).toContain(`"bad"`)
      // not kept: asked again on the next use
      yield* Effect.flip(k.withPermit("bad")(Effect.void))
      expect(asked).toEqual(["vip", "basic", "bad", "bad"])
      expect(yield* k.size).toBe(2)
    }).pipe(provide))

  it.effect("a rate function that throws is a defect naming the key", () =>
    Effect.gen(function*() {
      const k = yield* makeOnTestClock({
        key: freshKey("keyed-throw"),
        rate: (user: string): string => {
          throw new Error(`no plan for ${user}`)
        }
      })
      const exit = yield* Effect.exit(k.attempt("carol"))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(String(Cause.squash(exit.cause))).toContain(
          `KeyedThrottleRedis: the rate function threw for key "carol": no plan for carol`
        )
      }
    }).pipe(provide))

  it.effect("metrics are per keyed throttle: grants counted over the keys, the waiting gauge a sum", () =>
    Effect.gen(function*() {
      const name = freshKey("keyed-metrics")
      const k = yield* makeOnTestClock({ key: name, rate: "1/s", name })
      const tags = [MetricLabel.make("name", name)]
      const granted = Metric.counter("effect_throttles_throttle_granted_total").pipe(Metric.taggedWithLabels(tags))
      const waiting = Metric.gauge("effect_throttles_throttle_waiting").pipe(Metric.taggedWithLabels(tags))
      yield* k.withPermit("a")(Effect.void)
      yield* k.withPermit("b")(Effect.void)
      const w1 = yield* forkSettled(k.withPermit("a")(Effect.void))
      const w2 = yield* forkSettled(k.withPermit("b")(Effect.void))
      expect((yield* Metric.value(waiting)).value).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(w1)
      yield* Fiber.join(w2)
      expect((yield* Metric.value(waiting)).value).toBe(0)
      expect((yield* Metric.value(granted)).count).toBe(4)
      // in flight: a sum too (two keys, one permit each, then none)
      const inFlight = Metric.gauge("effect_throttles_throttle_in_flight").pipe(Metric.taggedWithLabels(tags))
      yield* TestClock.adjust("1 second")
      yield* k.attempt("a")
      yield* k.attempt("b")
      expect((yield* Metric.value(inFlight)).value).toBe(2)
      yield* k.release("a")
      yield* k.release("b")
      expect((yield* Metric.value(inFlight)).value).toBe(0)
    }).pipe(provide))

  it.effect("bad input is refused before anything touches Redis", () =>
    Effect.gen(function*() {
      const defect = (options: unknown) =>
        Effect.map(Effect.exit(KeyedThrottleRedis.make(options as KeyedThrottleRedis.Options<string>)), (exit) =>
          Exit.isFailure(exit) && Cause.isDie(exit.cause) ? String(Cause.squash(exit.cause)) : "no defect")
      expect(yield* defect({ key: "", rate: "1/s" })).toContain("Expected option key to be a non-empty string")
      expect(yield* defect({ key: "a{b}", rate: "1/s" })).toContain("without \"{\" or \"}\"")
      expect(yield* defect({ key: "k", rate: "1/s", onStoreError: "deny" })).toContain(
        `Expected option onStoreError to be "local" or "allow" or "wait" or "fail", got "deny"`
      )
      expect(yield* defect({ key: "k", rate: "1/s", idleTimeToLive: -1 })).toContain("option idleTimeToLive")
      expect(yield* defect({ key: "k", rate: (u: string) => u, leaseTtl: 0 })).toContain("option leaseTtl")
      const bad = yield* Effect.flip(KeyedThrottleRedis.make({ key: "k", rate: "lots" as string }))
      expect(bad).toBeInstanceOf(InvalidRateError)
      const k = yield* KeyedThrottleRedis.make({ key: freshKey("keyed-bad"), rate: "1/s" })
      const notString = yield* Effect.exit(k.attempt(3 as never))
      expect(Exit.isFailure(notString) && String(Cause.squash(notString.cause))).toContain(
        "Expected a string key, got 3"
      )
    }).pipe(provide))

  it.effect("HttpRateLimit across two replicas: one quota per client address, shared through Redis", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-http")
      const replica = Effect.flatMap(
        makeOnTestClock({ key, rate: "2/10s", name: key }),
        (throttle) => HttpRateLimit.middleware({ throttle, policy: "per-ip" })
      )
      const one = yield* replica
      const two = yield* replica
      const hello = HttpServerResponse.text("hello")
      const call = (app: typeof one, address: string) =>
        Effect.map(
          Effect.provideService(
            app(hello),
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request("http://localhost/")).modify({ remoteAddress: address })
          ),
          (response) => [response.status, response.headers["ratelimit"], response.headers["retry-after"]]
        )
      expect(yield* call(one, "10.0.0.1")).toEqual([200, `"per-ip";r=1;t=10`, undefined])
      expect(yield* call(two, "10.0.0.1")).toEqual([200, `"per-ip";r=0;t=10`, undefined])
      // the third request of 10.0.0.1, on either replica, is refused until the window frees a slot
      expect(yield* call(one, "10.0.0.1")).toEqual([429, `"per-ip";r=0;t=10`, "10"])
      expect(yield* call(two, "10.0.0.2")).toEqual([200, `"per-ip";r=1;t=10`, undefined])
      yield* TestClock.adjust("10 seconds")
      expect(yield* call(two, "10.0.0.1")).toEqual([200, `"per-ip";r=1;t=10`, undefined])
    }).pipe(provide))

  it.live("examples/redis-replicas.ts: two node:http replicas share one quota per client through Redis", () =>
    Effect.gen(function*() {
      const lines = yield* replicas(redis.server().url, freshKey("example-replicas"))
      expect(lines).toEqual([
        `alice → replica 1: 200  RateLimit: "per-client";r=2;t=10`,
        `alice → replica 2: 200  RateLimit: "per-client";r=1;t=10`,
        `alice → replica 1: 200  RateLimit: "per-client";r=0;t=10`,
        `alice → replica 2: 429  RateLimit: "per-client";r=0;t=10`,
        `alice → replica 1: 429  RateLimit: "per-client";r=0;t=10`,
        `bob → replica 2: 200  RateLimit: "per-client";r=2;t=10`
      ])
    }), 30_000)

  it.live("ThrottledHttpClient in two processes' stead: two clients share each host's quota through Redis", () =>
    Effect.gen(function*() {
      const server = yield* localServer(() => ({ status: 200 }))
      const key = freshKey("keyed-client")
      // two clients, each with its own keyed throttle and its own Redis connection, as two replicas would have
      const clientOf = Effect.gen(function*() {
        const connection = yield* Layer.build(Redis.layer(redis.server().url))
        const throttle = yield* KeyedThrottleRedis.make({ key, rate: "2/s", onStoreError: "wait" }).pipe(
          Effect.provide(connection)
        )
        return yield* Effect.flatMap(HttpClient.HttpClient, ThrottledHttpClient.wrap({ throttle }))
      })
      const a = yield* clientOf
      const b = yield* clientOf
      const statuses = yield* Effect.all(
        [a, b, a, b].map((client, i) => Effect.map(client.get(`${server.url}/${i}`), (r) => r.status)),
        { concurrency: "unbounded" }
      )
      expect(statuses).toEqual([200, 200, 200, 200])
      // the host's key is shared: two requests at once, the other two about a period later. Each client alone is
      // within its quota, so unshared throttles would have sent all four at once. (Exact times are tested under
      // TestClock above; here a first request's arrival also carries its connection's setup, so the gap between
      // arrivals can be a few milliseconds short of the period.)
      const arrivals = server.seen.map((s) => s.at).sort((x, y) => x - y)
      expect(arrivals).toHaveLength(4)
      expect(arrivals[1]! - arrivals[0]!).toBeLessThan(500)
      expect(arrivals[2]! - arrivals[0]!).toBeGreaterThan(900)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layer)), 30_000)

  it.live("the keys share one wake-up channel: one subscription for 50 live keys, none once the scope closes", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-channels")
      const channels = Effect.promise(() => redis.admin().pubsub("CHANNELS", `*${key}*`) as Promise<Array<string>>)
      /** Waits (real time, SUBSCRIBE and UNSUBSCRIBE are sent without waiting) until `count` channels are left. */
      const channelsReach = (count: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 200 && (yield* channels).length !== count; i++) yield* realSleep(10)
          return yield* channels
        })
      const users = Array.from({ length: 50 }, (_, i) => `u${i}`)
      // kept an hour: the keyed throttle listens on its channel until its scope closes
      const scope = yield* Scope.make()
      const kept = yield* Scope.extend(
        KeyedThrottleRedis.make({ key, rate: "10/s", onStoreError: "wait", idleTimeToLive: "1 hour" }),
        scope
      )
      yield* Effect.forEach(users, (user) => kept.withPermit(user)(Effect.void), { concurrency: 10, discard: true })
      expect(yield* kept.size).toBe(50)
      expect(yield* channelsReach(1)).toEqual([`{effect-throttles:${key}}:wake:keys`])
      yield* Scope.close(scope, Exit.void)
      expect(yield* channelsReach(0)).toEqual([])
      // dropped at once after each use, one after another: one subscriber connection for all of them, not one each
      const connections = Effect.promise(async () =>
        Number(/total_connections_received:(\d+)/.exec(await redis.admin().info("stats"))?.[1])
      )
      const before = yield* connections
      const dropping = yield* KeyedThrottleRedis.make({ key, rate: "10/s", onStoreError: "wait", idleTimeToLive: 0 })
      yield* Effect.forEach(users, (user) => dropping.withPermit(user)(Effect.void), { discard: true })
      expect(yield* dropping.size).toBe(0)
      expect(yield* channelsReach(1)).toEqual([`{effect-throttles:${key}}:wake:keys`])
      expect((yield* connections) - before).toBeLessThanOrEqual(1)
    }).pipe(provide))

  it.effect("a release in one keyed throttle wakes the key's waiter in another, through the shared channel", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-wake")
      const a = yield* makeOnTestClock({ key, rate: "100/s", maxConcurrent: 1 })
      const b = yield* makeOnTestClock({ key, rate: "100/s", maxConcurrent: 1 })
      expect((yield* a.attempt("alice")).granted).toBe(true)
      // b's waiter for "alice" queues behind a's permit; the clock never moves, so its own re-check never comes
      const waiter = yield* forkSettled(b.withPermit("alice")(nowMillis))
      // a permit of another key in between: its messages are not for "alice"
      expect((yield* a.attempt("bob")).granted).toBe(true)
      yield* a.release("bob")
      expect(yield* Fiber.poll(waiter)).toEqual(Option.none())
      yield* a.release("alice")
      for (let i = 0; i < 1000 && Option.isNone(yield* Fiber.poll(waiter)); i++) yield* realSleep(2)
      expect(yield* Fiber.poll(waiter)).toEqual(Option.some(Exit.succeed(0)))
    }).pipe(provide))

  it.effect("a pause of a key in one keyed throttle reaches the key's reserved waiter in another; other keys keep their times", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-pause")
      const a = yield* makeOnTestClock({ key, rate: "1/s" })
      const b = yield* makeOnTestClock({ key, rate: "1/s" })
      yield* b.withPermit("alice")(Effect.void)
      yield* b.withPermit("bob")(Effect.void)
      const alice = yield* forkSettled(b.withPermit("alice")(nowMillis)) // reserved at 1000
      const bob = yield* forkSettled(b.withPermit("bob")(nowMillis)) // reserved at 1000
      yield* TestClock.adjust("500 millis")
      yield* a.pause("alice", "3 seconds") // until 3500
      yield* realSleep(100) // the pub/sub message reaches b
      const before = settledSoFar()
      yield* TestClock.adjust("500 millis") // alice's waiter wakes at 1000, asks Redis, and waits again
      yield* waitSettled(before, 1, alice)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(alice)).toBe(3500)
      expect(yield* Fiber.join(bob)).toBe(1000)
    }).pipe(provide))

  it.live("idleTimeToLive 0: a key dropped at once and the keyed throttle closed in the same step leave nothing behind", () =>
    Effect.gen(function*() {
      const key = freshKey("keyed-closed-at-once")
      const channels = Effect.promise(() => redis.admin().pubsub("CHANNELS", `*${key}*`) as Promise<Array<string>>)
      const scope = yield* Scope.make()
      const keyed = yield* Scope.extend(KeyedThrottleRedis.make({ key, rate: "10/s", idleTimeToLive: 0 }), scope)
      yield* keyed.withPermit("u")(Effect.void)
      // the dropped key's scope is closed by the keyed throttle's own fiber, right after: here the keyed throttle
      // closes first (no yield in between), and closes it itself
      expect(yield* keyed.size).toBe(0)
      yield* Scope.close(scope, Exit.void)
      for (let i = 0; i < 200 && (yield* channels).length > 0; i++) yield* realSleep(10)
      expect(yield* channels).toEqual([])
    }).pipe(provide))
})
