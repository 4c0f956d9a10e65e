/**
 * Shared pieces of the Redis integration tests: the server of a test file, throttles with the test clock mode,
 * and "wait until the forked fibers have reached Redis" under TestClock.
 */
import { Clock, Duration, Effect, Fiber, type Scope, TestClock, TestServices } from "effect"
import { Redis, ThrottleRedis } from "effect-throttles/redis"
import { ClockMode } from "../../src/internal/redisThrottle.js"
import type { RedisServer } from "./server.js"

let counter = 0
/** A key no other test uses. */
export const freshKey = (label: string): string => `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`

/** A throttle whose script reads the caller's Effect Clock (the TestClock) instead of `TIME`. */
export const makeOnTestClock = (options: ThrottleRedis.Options<"fail">) =>
  ThrottleRedis.make({ ...options, onStoreError: "fail", [ClockMode]: "client" } as ThrottleRedis.Options<"fail">)

/** Real time passes (a store call is real I/O even under TestClock). */
export const realSleep = (ms: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Waits (in real time) until every fiber has either finished or is asleep on the TestClock: the fibers' store calls
 * are done, so their reservations are made in order.
 */
export const settled = (fibers: ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>, sleepers: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      let done = 0
      for (const f of fibers) if ((yield* Fiber.poll(f))._tag === "Some") done++
      const sleeps = (yield* TestClock.sleeps()).length
      if (done + sleeps >= fibers.length && sleeps >= sleepers) return
      yield* realSleep(2)
    }
    return yield* Effect.die(new Error("fibers did not settle"))
  })

/** Forks `self` and waits until it has reached Redis (finished, or asleep on the TestClock). */
export const forkSettled = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> =>
  Effect.gen(function*() {
    const before = (yield* TestClock.sleeps()).length
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < 2000; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") return fiber
      if ((yield* TestClock.sleeps()).length > before) return fiber
      yield* realSleep(2)
    }
    return yield* Effect.die(new Error("fiber did not reach Redis"))
  })

/** The TestClock time in milliseconds. */
export const nowMillis = Clock.currentTimeMillis

/** Provides a fresh connection to `server` for one test. */
export const withRedis = (server: () => RedisServer) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Redis | Scope.Scope>> =>
  Effect.scoped(Effect.provide(self, Redis.layer(server().url))) as any

/** Runs `self` with the live clock (for real-time parts inside an otherwise TestClock test). */
export const live = TestServices.provideLive

/** A duration in ms. */
export const ms = (d: Duration.Duration): number => Duration.toMillis(d)
