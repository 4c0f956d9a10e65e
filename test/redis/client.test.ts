/**
 * The Redis throttle's client logic under TestClock, against the in-memory store (the script's TypeScript twin):
 * reservation → sleep → cancel, leases (renewal, expiry of a dead holder, wake-ups on release), the store-error
 * policies switching on and off. Exact virtual timestamps. No Redis here (see Redis.test.ts for the real one).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Option, TestClock } from "effect"
import { ThrottleStoreError } from "effect-throttles/redis"
import { metrics } from "../../src/Throttle.js"
import { type InputOptions, makeWithStore, resolve } from "../../src/internal/redisThrottle.js"
import { makeMemoryStore, type MemoryStore } from "../../src/internal/redisStore.js"
import { nowMillis } from "./support.js"

/** A throttle over `store` (a fresh one when absent): two throttles on one store are two processes. */
const build = (options: Omit<InputOptions, "key"> & { readonly key?: string }, store?: MemoryStore) =>
  Effect.gen(function*() {
    const resolved = yield* resolve({ key: "k", ...options } as InputOptions)
    const s = store ?? makeMemoryStore(resolved.config)
    const throttle = yield* makeWithStore(s, resolved)
    return { throttle, store: s }
  })

const at = <E>(self: Effect.Effect<void, E>) => Effect.zipRight(self, nowMillis)

describe("ThrottleRedis client (memory store, TestClock)", () => {
  it.scoped("a burst larger than one script call (600 callers: 3 calls) is reserved in the callers' order", () =>
    Effect.gen(function*() {
      const { throttle } = yield* build({ rate: "250/s" })
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 600 }), () => at(throttle.acquire()), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("3 seconds")
      const times = yield* Fiber.join(fiber)
      expect(times.map((t, i) => [i, t])).toEqual(times.map((_, i) => [i, Math.floor(i / 250) * 1000]))
    }))

  it.scoped("callers arriving together go as two calls of half each, and each half comes back on its own", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve({ key: "k", rate: "1000/s" } as InputOptions)
      const memory = makeMemoryStore(resolved.config)
      // a store that holds every acquire call until the test lets it through, recording its requests
      const calls: Array<{ readonly ids: ReadonlyArray<string>; readonly answer: () => void }> = []
      const store: MemoryStore = {
        ...memory,
        send: (op, args, now, done) => {
          if (op !== "acquire") return memory.send(op, args, now, done)
          calls.push({
            ids: Array.from({ length: Number(args[0]) }, (_, r) => args[2 + 4 * r] as string),
            answer: () => memory.send(op, args, now, done)
          })
        }
      }
      const throttle = yield* makeWithStore(store, resolved)
      const settle = Effect.repeatN(Effect.yieldNow(), 50)
      // 8 callers, each acquiring twice
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 8 }), () => Effect.repeatN(throttle.acquire(), 1), {
          concurrency: "unbounded",
          discard: true
        })
      )
      yield* settle
      expect(calls.map((c) => c.ids.length)).toEqual([4, 4])
      // the first half is answered: its callers' next requests go at once, while the second call is in flight
      calls[0]!.answer()
      yield* settle
      expect(calls.map((c) => c.ids.length)).toEqual([4, 4, 4])
      for (const call of calls.slice(1)) call.answer()
      yield* settle
      for (const call of calls.slice(3)) call.answer()
      yield* Fiber.join(fiber)
      expect(calls.reduce((sum, c) => sum + c.ids.length, 0)).toBe(16)
      expect((yield* throttle.stats).granted).toBe(16)
    }))

  it.scoped("reservations: callers sleep exactly until their grant time", () =>
    Effect.gen(function*() {
      const { throttle } = yield* build({ rate: "2/s" })
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.fork(at(throttle.acquire())))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([0, 0, 1000, 1000, 2000])
    }))

  it.scoped("the reserved callers of a process wait on one timer (no per-waiter timers, no polling)", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve({ key: "k", rate: "1/s" } as InputOptions)
      let settled = 0
      const throttle = yield* makeWithStore(makeMemoryStore(resolved.config), resolved, undefined, () => settled++)
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 50 }), () => throttle.acquire(), { concurrency: "unbounded" })
      )
      // the 49 reserved callers are asleep, and the timer fiber has had its turns
      while (settled < 49) yield* Effect.yieldNow()
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect((yield* TestClock.sleeps()).length).toBe(1)
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect((yield* TestClock.sleeps()).length).toBe(1)
      expect((yield* throttle.stats).granted).toBe(2)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect((yield* throttle.stats).granted).toBe(50)
    }))

  it.scoped("an interrupted sleeper cancels its reservation; in the middle of the queue its slot stays unused", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "2/s" })
      yield* throttle.acquire(2)
      const third = yield* Effect.fork(at(throttle.acquire()))
      const fourth = yield* Effect.fork(at(throttle.acquire()))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(third)
      expect(store.state.windows[0]?.length).toBe(2) // the 2-permit record and the fourth's: the third is gone
      const fifth = yield* Effect.fork(at(throttle.acquire()))
      yield* TestClock.adjust("3 seconds")
      expect([yield* Fiber.join(fourth), yield* Fiber.join(fifth)]).toEqual([1000, 2000])
      expect((yield* throttle.stats).granted).toBe(4)
    }))

  it.scoped("the last reservation cancelled: the next arrival takes its slot", () =>
    Effect.gen(function*() {
      const { throttle } = yield* build({ rate: "2/s" })
      yield* throttle.acquire(2)
      const victim = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(victim)
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(at(throttle.acquire())))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([1000, 1000, 2000])
    }))

  it.scoped("leases: renewed while held, the next waiter of another process woken at once by a release", () =>
    Effect.gen(function*() {
      const a = yield* build({ rate: "100/s", maxConcurrent: 1, leaseTtl: "3 seconds" })
      const b = yield* build({ rate: "100/s", maxConcurrent: 1, leaseTtl: "3 seconds" }, a.store)
      yield* a.throttle.acquire()
      const waiter = yield* Effect.fork(at(b.throttle.acquire()))
      yield* TestClock.adjust("10 seconds")
      // renewed every second: still held after 10 s, the waiter still waits
      expect(a.store.state.leases.length).toBe(1)
      expect(yield* Fiber.poll(waiter)).toEqual(expect.objectContaining({ _tag: "None" }))
      yield* a.throttle.release()
      expect(yield* Fiber.join(waiter)).toBe(10_000)
    }))

  it.scoped("a holder that stops renewing (a crashed process): its permit comes back when the lease expires", () =>
    Effect.gen(function*() {
      const store = makeMemoryStore({
        limits: [100],
        periods: [1000],
        interval: 0,
        burst: 0,
        maxConcurrent: 1,
        leaseTtl: 3000
      })
      // the "crashed" process: acquires at 0, renews at 1000 (lease until 4000), and is gone at 1500
      const crashed = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const { throttle } = yield* build({ rate: "100/s", maxConcurrent: 1, leaseTtl: "3 seconds" }, store)
        yield* throttle.acquire()
        yield* Effect.sleep("1500 millis")
      })))
      yield* TestClock.adjust("1500 millis")
      yield* Fiber.join(crashed)
      const { throttle } = yield* build({ rate: "100/s", maxConcurrent: 1, leaseTtl: "3 seconds" }, store)
      const waiter = yield* Effect.fork(at(throttle.acquire()))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(waiter)).toBe(4000)
    }))

  it.scoped("withPermit interrupted while running gives its lease back; a queued waiter interrupted leaves the queue", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "100/s", maxConcurrent: 1 })
      const running = yield* Effect.fork(throttle.withPermit(Effect.never))
      yield* TestClock.adjust("10 millis")
      const queued = yield* Effect.fork(throttle.acquire())
      yield* TestClock.adjust("10 millis")
      expect(store.state.queue.length).toBe(1)
      yield* Fiber.interrupt(queued)
      expect(store.state.queue.length).toBe(0)
      yield* Fiber.interrupt(running)
      expect([store.state.leases.length, store.state.held]).toEqual([0, 0])
      expect(yield* throttle.tryAcquire()).toBe(true)
    }))

  it.scoped("interrupted while its request is in flight and then granted: the permit goes back at once", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve({ key: "k", rate: "100/s", maxConcurrent: 1 } as InputOptions)
      const memory = makeMemoryStore(resolved.config)
      // a store whose acquisitions wait until the test opens it, so that the interruption arrives while the batch
      // is in flight
      const entered = yield* Deferred.make<void>()
      let held: Array<() => void> | undefined = []
      const open = () => {
        const answers = held ?? []
        held = undefined
        for (const answer of answers) answer()
      }
      const store: MemoryStore = {
        ...memory,
        send: (op, args, now, done) => {
          if (held === undefined) return memory.send(op, args, now, done)
          Deferred.unsafeDone(entered, Exit.void)
          held.push(() => memory.send(op, args, now, done))
        }
      }
      const throttle = yield* makeWithStore(store, resolved)
      const fiber = yield* Effect.fork(throttle.acquire())
      yield* Deferred.await(entered)
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* Effect.yieldNow()
      open()
      yield* Fiber.join(interrupting)
      expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      // the store granted it a lease; the interrupted caller gave it back
      expect([memory.state.leases.length, memory.state.held]).toEqual([0, 0])
      // never seen by the caller: not counted as granted
      expect(yield* throttle.stats).toMatchObject({ inFlight: 0, granted: 0 })
      expect(yield* throttle.tryAcquire()).toBe(true)
    }))

  it.scoped("the waiting gauge comes back to 0 after a waiter times out or fails", () =>
    Effect.gen(function*() {
      const name = "redis-client-waiting-gauge"
      const { store, throttle } = yield* build({ rate: "1/s", name, onStoreError: "fail" })
      yield* throttle.acquire()
      const late = yield* Effect.exit(throttle.acquire(1, { maxWait: "10 millis" }))
      expect(Exit.isFailure(late)).toBe(true)
      store.setFailing(true)
      const failed = yield* Effect.exit(throttle.acquire())
      expect(Exit.isFailure(failed)).toBe(true)
      const waiting = yield* Metric.value(Metric.tagged(metrics.waiting, "name", name))
      expect(waiting.value).toBe(0)
    }))

  it.scoped("maxWait in the lease queue: fails at the deadline and leaves no trace", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "100/s", maxConcurrent: 1 })
      yield* throttle.acquire()
      const fiber = yield* Effect.fork(Effect.flip(throttle.acquire(1, { maxWait: "500 millis" })))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("ThrottleTimeoutError")
      expect(store.state.queue.length).toBe(0)
    }))

  it.scoped("onStoreError \"local\": falls back to this process's throttle seeded with its grants, then back to Redis", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "2/s", onStoreError: "local" })
      yield* throttle.acquire(2)
      store.setFailing(true)
      // the local throttle knows the two grants of this window: the next is due at 1000
      const fiber = yield* Effect.fork(at(throttle.acquire()))
      yield* TestClock.adjust("1500 millis")
      expect(yield* Fiber.join(fiber)).toBe(1000)
      expect(store.state.windows[0]?.length).toBe(1) // the shared store did not see it
      store.setFailing(false)
      yield* TestClock.adjust("1 second")
      yield* throttle.acquire()
      expect(store.state.windows[0]?.map((e) => e.score)).toEqual([2500])
    }))

  it.scoped("onStoreError \"local\": the seed is the last grants of the window, in order, after the ring grew and wrapped", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "30/s", onStoreError: "local" })
      // 35 grants, in time order, through a ring of the last 30 that starts small and grows
      for (const [t, n] of [[0, 10], [400, 10], [800, 10], [1200, 5]] as const) {
        yield* TestClock.setTime(t)
        yield* Effect.forEach(Array.from({ length: n }), () => throttle.acquire(), { discard: true })
      }
      yield* TestClock.setTime(1300)
      store.setFailing(true)
      // the window [300, 1300] holds 25 of them (10 at 400, 10 at 800, 5 at 1200): 5 more now, the next at 1400
      const fiber = yield* Effect.fork(Effect.zip(at(throttle.acquire(5)), at(throttle.acquire())))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toEqual([1300, 1400])
    }))

  it.scoped("onStoreError \"local\" with maxConcurrent: the seeded grants take window slots, not permits in flight", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "5/s", maxConcurrent: 2, onStoreError: "local" })
      // 4 grants, each released: nothing is in flight when the store fails
      yield* Effect.forEach([1, 2, 3, 4], () => throttle.withPermit(Effect.void), { discard: true })
      store.setFailing(true)
      // the window has one slot left and both permits are free: one now, the next when the window slides
      const fiber = yield* Effect.fork(Effect.zip(at(throttle.withPermit(Effect.void)), at(throttle.withPermit(Effect.void))))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.poll(fiber)).toEqual(Option.some(Exit.succeed([0, 1000])))
    }))

  it.scoped("onStoreError \"allow\": grants at once while the store is down", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "1/s", onStoreError: "allow" })
      store.setFailing(true)
      const times = yield* Effect.forEach([1, 2, 3], () => at(throttle.acquire()))
      expect(times).toEqual([0, 0, 0])
      expect((yield* throttle.attempt()).granted).toBe(true)
    }))

  it.scoped("onStoreError \"wait\": admits nobody while down, retries with backoff, grants once the store answers", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "1/s", onStoreError: "wait" })
      store.setFailing(true)
      expect(yield* throttle.tryAcquire()).toBe(false)
      const fiber = yield* Effect.fork(at(throttle.acquire()))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.poll(fiber)).toEqual(expect.objectContaining({ _tag: "None" }))
      store.setFailing(false)
      yield* TestClock.adjust("2 seconds")
      // retries at 50, 150, 350, 750 failed; the one at 1550 got through
      expect(yield* Fiber.join(fiber)).toBe(1550)
    }))

  it.scoped("onStoreError \"fail\": every effect fails with ThrottleStoreError", () =>
    Effect.gen(function*() {
      const { store, throttle } = yield* build({ rate: "1/s", onStoreError: "fail" })
      store.setFailing(true)
      for (const effect of [throttle.acquire(), throttle.tryAcquire(), throttle.attempt(), throttle.stats, throttle.pause("1 second")]) {
        const exit = yield* Effect.exit(effect as Effect.Effect<unknown, unknown>)
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error).toBeInstanceOf(ThrottleStoreError)
      }
    }))

  it.scoped("metrics: grants and refusals counted under the throttle's name, as in memory", () =>
    Effect.gen(function*() {
      const { throttle } = yield* build({ rate: "1/s", name: "redis-client-metrics" })
      yield* throttle.acquire()
      expect(yield* throttle.tryAcquire()).toBe(false)
      const granted = yield* Metric.value(Metric.tagged(metrics.granted, "name", "redis-client-metrics"))
      const rejected = yield* Metric.value(
        metrics.rejected.pipe(Metric.tagged("name", "redis-client-metrics"), Metric.tagged("reason", "tryAcquire"))
      )
      expect([granted.count, rejected.count]).toEqual([1, 1])
    }))

  it.scoped("events: granted, rejected, timed out, paused", () =>
    Effect.gen(function*() {
      const { throttle } = yield* build({ rate: "1/s" })
      const { Chunk, Stream } = yield* Effect.promise(() => import("effect"))
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(throttle.events, 4)))
      yield* Effect.yieldNow()
      yield* throttle.acquire()
      yield* throttle.tryAcquire()
      yield* Effect.either(throttle.acquire(1, { maxWait: "10 millis" }))
      yield* throttle.pause("1 second")
      const tags = Chunk.toReadonlyArray(yield* Fiber.join(collected)).map((e) => e._tag)
      expect(tags).toEqual(["Granted", "Rejected", "TimedOut", "Paused"])
    }))
})
