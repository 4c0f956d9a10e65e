/**
 * The Redis throttle against a real redis-server (started here on a free port, or REDIS_URL). Timing tests pass the
 * TestClock's time to the script (the internal clock mode), so grant times are exact virtual timestamps; the rest
 * uses the server's clock and asserts outcomes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Config, ConfigProvider, Duration, Effect, Exit, Fiber, Layer, TestClock } from "effect"
import { InvalidRateError, Throttle, ThrottleReleaseError } from "effect-throttles"
import { Redis, ThrottleRedis, ThrottleStoreError } from "effect-throttles/redis"
import { test } from "vitest"
import { preciseNowOf } from "../../src/internal/liveTimer.js"
import * as core from "../../src/internal/redisCore.js"
import { makeRedisStore, StoreFailure } from "../../src/internal/redisStore.js"
import { resolve, wakeChannel } from "../../src/internal/redisThrottle.js"
import { redisAvailable, redisRequired, skipLine } from "./server.js"
import {
  forkSettled,
  freshKey,
  makeOnTestClock,
  nowMillis,
  realSleep,
  settledSoFar,
  useServer,
  waitSettled,
  withRedis
} from "./support.js"

if (!redisAvailable) {
  if (redisRequired) {
    test("redis-server is required (EFFECT_THROTTLES_REQUIRE_REDIS=1)", () => {
      expect.fail("redis-server is not on PATH and REDIS_URL is not set")
    })
  } else {
    // the one line that says the Redis tests were skipped (the other Redis test files skip silently)
    console.log(skipLine)
  }
}

describe.skipIf(!redisAvailable)("ThrottleRedis on a real Redis", () => {
  const redis = useServer()
  const provide = withRedis(redis.server)

  /** Every key of the throttle `key` and its PTTL. */
  const ttls = (key: string) =>
    Effect.promise(async () => {
      const out: Array<[string, number]> = []
      let cursor = "0"
      do {
        const [next, keys] = await redis.admin().scan(cursor, "MATCH", `{effect-throttles:${key}}*`, "COUNT", 1000)
        cursor = next
        for (const k of keys) out.push([k, await redis.admin().pttl(k)])
      } while (cursor !== "0")
      return out
    })

  it.effect("attempt, tryAcquire, acquire, release and stats", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("basic"), rate: "3/s" })
      const d1 = yield* t.attempt()
      const d2 = yield* t.attempt()
      expect([d1.granted, d1.remaining, d2.granted, d2.remaining]).toEqual([true, 2, true, 1])
      expect(yield* t.tryAcquire()).toBe(true)
      const refused = yield* t.attempt()
      expect(refused.granted).toBe(false)
      expect(refused.limit).toBe(3)
      expect(refused.remaining).toBe(0)
      expect(Duration.toMillis(refused.retryAfter)).toBe(1000)
      expect(Duration.toMillis(refused.resetAfter)).toBe(1000)
      expect(yield* t.tryAcquire()).toBe(false)
      expect(yield* t.locked).toBe(true)
      const stats = yield* t.stats
      expect(stats).toMatchObject({ inFlight: 3, granted: 3, available: 0, waiting: 0, pausedUntil: undefined })
      const fiber = yield* forkSettled(Effect.zipRight(t.acquire(), nowMillis))
      expect((yield* t.stats).waiting).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(1000)
      yield* t.release(4)
      const error = yield* Effect.flip(t.release(1))
      expect(error).toBeInstanceOf(ThrottleReleaseError)
    }).pipe(provide))

  it.effect("FIFO across two services on one key, weights counted: a heavy waiter is not overtaken", () =>
    Effect.gen(function*() {
      const key = freshKey("fifo")
      const a = yield* makeOnTestClock({ key, rate: "2/s" })
      const b = yield* makeOnTestClock({ key, rate: "2/s" })
      const stamp = (label: string, self: Effect.Effect<void, unknown>) =>
        Effect.zipRight(self, Effect.map(nowMillis, (t) => `${label}@${t}`))
      const fibers = [
        yield* forkSettled(stamp("a1", a.acquire(1))),
        yield* forkSettled(stamp("b1", b.acquire(2))),
        yield* forkSettled(stamp("a2", a.acquire(1))),
        yield* forkSettled(stamp("b2", b.acquire(1)))
      ]
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual(["a1@0", "b1@1000", "a2@2000", "b2@2000"])
    }).pipe(provide))

  it.effect("several windows: \"2/s, 3/3s\" grants at 0, 0, 1000, 3000, 3000", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("windows"), rate: "2/s, 3/3s" })
      const fibers = []
      for (let i = 0; i < 5; i++) fibers.push(yield* forkSettled(Effect.zipRight(t.acquire(), nowMillis)))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([0, 0, 1000, 3000, 3000])
    }).pipe(provide))

  it.effect("an interrupted waiter gives its reservation back: the next arrival is granted in its slot", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("refund"), rate: "2/s" })
      const at = Effect.zipRight(t.acquire(), nowMillis)
      yield* t.acquire(2)
      const victim = yield* forkSettled(at)
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(victim)
      // two grants still fit in [1000, 2000): the interrupted one's slot was given back
      const fibers = [yield* forkSettled(at), yield* forkSettled(at), yield* forkSettled(at)]
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([1000, 1000, 2000])
    }).pipe(provide))

  it.effect("a waiter interrupted in the middle of the queue never lets anyone in early", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("middle"), rate: "1/s" })
      const at = Effect.zipRight(t.acquire(), nowMillis)
      yield* t.acquire()
      const middle = yield* forkSettled(at) // 1000
      const last = yield* forkSettled(at) // 2000
      yield* Fiber.interrupt(middle)
      const next = yield* forkSettled(at) // after the last reservation: 3000
      yield* TestClock.adjust("5 seconds")
      expect([yield* Fiber.join(last), yield* Fiber.join(next)]).toEqual([2000, 3000])
    }).pipe(provide))

  it.effect("maxWait: fails at once when the reservation would be too late, leaving nothing behind", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("maxwait"), rate: "1/s" })
      yield* t.acquire()
      const error = yield* Effect.flip(t.acquire(1, { maxWait: "500 millis" }))
      expect(error._tag).toBe("ThrottleTimeoutError")
      if (error._tag === "ThrottleTimeoutError") expect(Duration.toMillis(error.retryAfter)).toBe(1000)
      // nothing reserved: the next caller is due at 1000
      const fiber = yield* forkSettled(Effect.zipRight(t.acquire(1, { maxWait: "1 second" }), nowMillis))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe(1000)
    }).pipe(provide))

  it.effect("pause: no grant before now + duration, stats.pausedUntil on the caller's clock", () =>
    Effect.gen(function*() {
      const t = yield* makeOnTestClock({ key: freshKey("pause"), rate: "10/s" })
      yield* TestClock.adjust("100 millis")
      yield* t.pause("2 seconds")
      yield* t.pause("1 second") // never shortens
      expect((yield* t.stats).pausedUntil).toBe(2100)
      const fiber = yield* forkSettled(Effect.zipRight(t.acquire(), nowMillis))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(fiber)).toBe(2100)
    }).pipe(provide))

  it.effect("a pause in one process reaches a waiter already reserved in another: it is moved after the pause", () =>
    Effect.gen(function*() {
      const key = freshKey("pause-across")
      const a = yield* makeOnTestClock({ key, rate: "1/s" })
      const b = yield* makeOnTestClock({ key, rate: "1/s" })
      yield* b.acquire()
      const waiter = yield* forkSettled(Effect.zipRight(b.acquire(), nowMillis)) // reserved at 1000
      yield* TestClock.adjust("500 millis")
      yield* a.pause("3 seconds") // until 3500
      yield* realSleep(100) // the pub/sub message reaches b's process
      const before = settledSoFar()
      yield* TestClock.adjust("500 millis") // b wakes at 1000, asks Redis, and waits again
      yield* waitSettled(before, 1, waiter)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(waiter)).toBe(3500)
    }).pipe(provide))

  it.effect("measure \"release\" across services: at most limit in flight, a slot taken until a period after its release", () =>
    Effect.gen(function*() {
      const key = freshKey("release")
      const a = yield* makeOnTestClock({ key, rate: "2/s", measure: "release" })
      const b = yield* makeOnTestClock({ key, rate: "2/s", measure: "release" })
      yield* a.acquire()
      yield* b.acquire()
      expect(yield* a.tryAcquire()).toBe(false) // two in flight
      const waiter = yield* forkSettled(Effect.zipRight(a.acquire(), nowMillis))
      expect((yield* a.stats).waiting).toBe(1)
      yield* TestClock.adjust("300 millis")
      // b's release wakes a's waiter (pub/sub): it asks again and is told 1300, when b's slot frees
      const before = settledSoFar()
      yield* b.release()
      yield* waitSettled(before, 1, waiter)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(waiter)).toBe(1300)
      expect((yield* a.stats).inFlight).toBe(2)
    }).pipe(provide))

  it.effect("smooth: GCRA spacing across services", () =>
    Effect.gen(function*() {
      const key = freshKey("smooth")
      const a = yield* makeOnTestClock({ key, rate: "4/s", smooth: true })
      const b = yield* makeOnTestClock({ key, rate: "4/s", smooth: true })
      const fibers = []
      for (let i = 0; i < 4; i++) {
        fibers.push(yield* forkSettled(Effect.zipRight((i % 2 === 0 ? a : b).acquire(), nowMillis)))
      }
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([0, 250, 500, 750])
    }).pipe(provide))

  it.live("every key has a TTL at every moment, and the keyspace empties after the TTLs pass", () =>
    Effect.gen(function*() {
      const key = freshKey("ttl")
      const t = yield* ThrottleRedis.make({ key, rate: "20/200ms, 30/300ms", maxConcurrent: 5, leaseTtl: "300 millis" })
      yield* everyKeyHasATtl(key, t)
    }).pipe(provide))

  it.live("without leases too (the script's fast path keeps the TTL it set while it lasts)", () =>
    Effect.gen(function*() {
      const key = freshKey("ttl-fast")
      const t = yield* ThrottleRedis.make({ key, rate: "20/200ms, 30/300ms", leaseTtl: "300 millis" })
      yield* everyKeyHasATtl(key, t)
    }).pipe(provide))

  /** 60 grants through `t` in 10 callers: every key of `key` has a TTL whenever looked at; none is left 2 s after. */
  const everyKeyHasATtl = (key: string, t: Throttle.Service<ThrottleStoreError>) =>
    Effect.gen(function*() {
      const work = Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        () => t.withPermit(realSleep(5)),
        { concurrency: 10 }
      )
      const fiber = yield* Effect.fork(work)
      let checks = 0
      while ((yield* Fiber.poll(fiber))._tag === "None") {
        const entries = yield* ttls(key)
        // -2: the key was deleted (emptied) between SCAN and PTTL; -1 would be a key without a TTL
        for (const [k, pttl] of entries) expect([k, pttl > 0 || pttl === -2]).toEqual([k, true])
        checks += entries.length
        yield* realSleep(3)
      }
      yield* Fiber.join(fiber)
      expect(checks).toBeGreaterThan(0)
      yield* realSleep(2000)
      expect(yield* ttls(key)).toEqual([])
    })

  it.live("SCRIPT FLUSH mid-run: the next call reloads the script and succeeds", () =>
    Effect.gen(function*() {
      const t = yield* ThrottleRedis.make({ key: freshKey("flush"), rate: "100/s", onStoreError: "fail" })
      yield* t.acquire()
      yield* Effect.promise(() => redis.admin().script("FLUSH"))
      yield* t.acquire()
      expect(yield* t.tryAcquire()).toBe(true)
      expect((yield* t.stats).granted).toBe(3)
    }).pipe(provide))

  it.live("a key outside ASCII: the script's keys carry it byte for byte, and its window counts", () =>
    Effect.gen(function*() {
      // the store writes the command's bytes itself (the lengths are byte counts, not string lengths)
      const key = `${freshKey("clé")}-日本-🚀`
      const t = yield* ThrottleRedis.make({ key, rate: "2/s, 3/10s", maxConcurrent: 2, onStoreError: "fail" })
      yield* t.withPermit(Effect.void)
      expect((yield* t.attempt()).granted).toBe(true)
      expect((yield* t.attempt()).granted).toBe(false)
      const [, found] = yield* Effect.promise(() =>
        redis.admin().scan("0", "MATCH", `{effect-throttles:${key}}*`, "COUNT", 1000)
      )
      // the meta hash, the lease held by the granted attempt, and the two windows' logs
      expect(found.sort()).toEqual([":l", ":m", ":w1", ":w2"].map((suffix) => `{effect-throttles:${key}}${suffix}`))
    }).pipe(provide))

  it.live("a client with a keyPrefix: every key of the throttle carries the prefix, none is left without it", () =>
    Effect.gen(function*() {
      const key = freshKey("prefix")
      const t = yield* ThrottleRedis.make({ key, rate: "2/s", maxConcurrent: 1, onStoreError: "fail" })
      expect((yield* t.attempt()).granted).toBe(true)
      yield* t.release()
      yield* t.withPermit(Effect.void)
      yield* Effect.promise(() => redis.admin().script("FLUSH"))
      expect((yield* t.attempt()).granted).toBe(false)
      expect((yield* t.stats).granted).toBe(2)
      const scan = (pattern: string) => Effect.promise(() => redis.admin().scan("0", "MATCH", pattern, "COUNT", 1000))
      const [, prefixed] = yield* scan(`pfx:{effect-throttles:${key}}*`)
      const [, bare] = yield* scan(`{effect-throttles:${key}}*`)
      expect(prefixed.length).toBeGreaterThan(0)
      expect(bare).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: redis.server().url, keyPrefix: "pfx:" }))))

  it.live("a client clock shifted by an hour changes nothing", () =>
    Effect.gen(function*() {
      const key = freshKey("skew")
      const shifted: Clock.Clock = (() => {
        const base = Clock.make()
        return Object.assign(Object.create(base) as Clock.Clock, {
          unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + 3_600_000,
          currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + 3_600_000),
          unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + 3_600_000_000_000n,
          currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + 3_600_000_000_000n)
        })
      })()
      const a = yield* ThrottleRedis.make({ key, rate: "2/s", onStoreError: "fail" })
      const b = yield* Effect.withClock(ThrottleRedis.make({ key, rate: "2/s", onStoreError: "fail" }), shifted)
      expect((yield* a.attempt()).granted).toBe(true)
      const decision = yield* Effect.withClock(b.attempt(), shifted)
      expect(decision.granted).toBe(true)
      const refused = yield* Effect.withClock(b.attempt(), shifted)
      expect(refused.granted).toBe(false)
      expect(Duration.toMillis(refused.retryAfter)).toBeGreaterThan(0)
      expect(Duration.toMillis(refused.retryAfter)).toBeLessThanOrEqual(1000)
      yield* Effect.withClock(b.pause("10 seconds"), shifted)
      const until = (yield* Effect.withClock(b.stats, shifted)).pausedUntil ?? 0
      const shiftedNow = shifted.unsafeCurrentTimeMillis()
      expect(until - shiftedNow).toBeGreaterThan(9000)
      // (+ 1: this reading is in whole milliseconds, `Date.now()`'s; the throttle reads the same clock finer, from
      // an origin taken in whole milliseconds, so the two differ by less than a millisecond either way)
      expect(until - shiftedNow).toBeLessThan(10_000 + 1)
    }).pipe(provide))

  it.live("the server's time maps to the caller's no earlier than it happened, however stale the call's own reading", () =>
    Effect.gen(function*() {
      // A waiter sleeps until `toClientTime(slot)`. The call's `now` can be read some time before the call goes out
      // (a collection, other fibers' turns): here 50 ms. The script ran after the call was sent, so its time must
      // map to no earlier than the sending, and to no later than the reply's handling.
      const client = yield* Redis
      const resolved = yield* resolve({ key: freshKey("offset"), rate: "10/s" })
      const read = preciseNowOf(yield* Effect.clock)
      const store = makeRedisStore({
        client,
        keys: core.keys(resolved.prefix, resolved.key, 1),
        config: resolved.config,
        channel: wakeChannel(resolved.prefix, resolved.key),
        timeout: resolved.storeTimeout,
        clock: "server",
        now: read,
        name: "offset"
      })
      const request = [{ n: 1, id: "a", maxWait: -1, mode: "w" as const }]
      const sentAt = read()
      const reply = yield* Effect.async<core.Reply | StoreFailure>((resume) =>
        store.send("acquire", core.acquireArgs(request), sentAt - 50, (result) => resume(Effect.succeed(result)))
      )
      const handledBy = read()
      if (reply instanceof StoreFailure) return yield* Effect.die(reply)
      const scriptRanAt = store.toClientTime(Number(reply[0]))
      expect(scriptRanAt).toBeGreaterThanOrEqual(sentAt)
      expect(scriptRanAt).toBeLessThanOrEqual(handledBy)
    }).pipe(provide))

  it.live("throttles made one by one while the subscriber connection opens each listen on their channel", () =>
    Effect.gen(function*() {
      // a SUBSCRIBE sent while the subscriber connection was between its connect and its ready failed and was lost
      // (ioredis 5.8.2 and later, redis/ioredis#2037): 20 throttles, a millisecond apart
      const tag = freshKey("channels")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => `${tag}-${i}`), (key) =>
        Effect.zipRight(ThrottleRedis.make({ key, rate: "1/s", maxConcurrent: 1 }), realSleep(1)), { discard: true })
      const channels = Effect.promise(() => redis.admin().pubsub("CHANNELS", `*${tag}*`) as Promise<Array<string>>)
      for (let i = 0; i < 200 && (yield* channels).length < 20; i++) yield* realSleep(10)
      expect((yield* channels).length).toBe(20)
    }).pipe(provide))

  it.live("ThrottleRedis.make as a forEach callback (the index is not taken for an option)", () =>
    Effect.gen(function*() {
      const throttles = yield* Effect.forEach(
        [{ key: freshKey("each-a"), rate: "2/s" }, { key: freshKey("each-b"), rate: "1/s" }] as const,
        ThrottleRedis.make
      )
      const decisions = yield* Effect.forEach(throttles, (t) => t.attempt())
      expect(decisions.map((d) => [d.granted, d.remaining])).toEqual([[true, 1], [true, 0]])
    }).pipe(provide))

  it.live("a layer provides the Throttle service", () =>
    Effect.gen(function*() {
      const decisions = yield* Effect.forEach([1, 2, 3], () => Throttle.attempt())
      expect(decisions.map((d) => d.granted)).toEqual([true, true, false])
    }).pipe(
      Effect.provide(
        ThrottleRedis.layer({ key: freshKey("layer"), rate: "2/min" }).pipe(Layer.provide(Redis.layer(redis.server().url)))
      )
    ))

  it.live("layerConfig reads every option from Config; a bad rate there is an InvalidRateError", () =>
    Effect.gen(function*() {
      const key = freshKey("config")
      const provider = ConfigProvider.fromMap(new Map([["KEY", key], ["RATE", "2/min"], ["BAD", "2/x"]]))
      const layer = (rate: string) =>
        ThrottleRedis.layerConfig({ key: Config.string("KEY"), rate: Config.string(rate) }).pipe(
          Layer.provide(Redis.layer(redis.server().url))
        )
      const decisions = yield* Effect.forEach([1, 2, 3], () => Throttle.attempt()).pipe(
        Effect.provide(layer("RATE")),
        Effect.withConfigProvider(provider)
      )
      expect(decisions.map((d) => d.granted)).toEqual([true, true, false])
      const bad = yield* Effect.flip(
        Throttle.attempt().pipe(Effect.provide(layer("BAD")), Effect.withConfigProvider(provider))
      )
      expect(bad).toBeInstanceOf(InvalidRateError)
    }))

  it.live("the store error of onStoreError: \"fail\" is typed", () =>
    Effect.gen(function*() {
      const dead = yield* Effect.scoped(
        Effect.gen(function*() {
          const t = yield* ThrottleRedis.make({ key: freshKey("dead"), rate: "1/s", onStoreError: "fail" })
          return yield* Effect.flip(t.acquire())
        }).pipe(Effect.provide(Redis.layer({ port: 1, host: "127.0.0.1", retryStrategy: () => null })))
      )
      expect(dead).toBeInstanceOf(ThrottleStoreError)
      expect(dead.message).toContain("dead")
    }))

  it.effect("bad input fails before anything touches Redis", () =>
    Effect.gen(function*() {
      const bad = (options: unknown) =>
        Effect.exit(Effect.scoped(ThrottleRedis.make(options as ThrottleRedis.Options<"fail">)))
      const rate = yield* bad({ key: "k", rate: "1/x" })
      expect(Exit.isFailure(rate) && rate.cause._tag === "Fail" && rate.cause.error).toBeInstanceOf(InvalidRateError)
      for (
        const [options, text] of [
          [{ key: "", rate: "1/s" }, "key to be a non-empty string"],
          [{ key: "a{b}", rate: "1/s" }, "without \"{\" or \"}\""],
          [{ key: "k", rate: "1/s", leaseTtl: 0 }, "leaseTtl"],
          [{ key: "k", rate: "1/s", leaseTtl: "-1 seconds" }, "leaseTtl"],
          [{ key: "k", rate: "1/s", maxConcurrent: 0 }, "maxConcurrent"],
          [{ key: "k", rate: "1/s", onStoreError: "ignore" }, "onStoreError"]
        ] as const
      ) {
        const exit = yield* bad(options)
        expect(Exit.isFailure(exit) && exit.cause._tag === "Die" && String(exit.cause.defect)).toContain(text)
      }
    }).pipe(Effect.provide(Redis.layerFromClient({ status: "end" } as never))))
})
