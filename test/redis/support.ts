/**
 * Shared pieces of the Redis integration tests: the server of a test file, throttles with the test clock mode,
 * and "wait until the forked fibers have reached Redis" under TestClock.
 */
import { Clock, Effect, Fiber, type Scope } from "effect"
import { Redis, ThrottleRedis } from "effect-throttles/redis"
import type { Redis as IORedis } from "ioredis"
import { ClockMode, OnSettle } from "../../src/internal/redisThrottle.js"
import { afterAll, beforeAll } from "vitest"
import { client, type RedisServer, startServer } from "./server.js"

let counter = 0
/** A key no other test uses. */
export const freshKey = (label: string): string => `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`

/** How many callers of the test throttles have reached Redis and started waiting. */
let settledCount = 0

/**
 * A throttle whose script reads the caller's Effect Clock (the TestClock) instead of `TIME`, and that counts the
 * callers that started waiting (so a test knows their store calls are done).
 */
export const makeOnTestClock = (options: ThrottleRedis.Options<"fail">) =>
  ThrottleRedis.make(
    {
      ...options,
      onStoreError: "fail",
      [ClockMode]: "client",
      [OnSettle]: noteSettled
    } as ThrottleRedis.Options<"fail">
  )

/** The hook of the hidden option `OnSettle` that `forkSettled` and `waitSettled` count on. */
export function noteSettled(): void {
  settledCount++
}

/** Real time passes (a store call is real I/O even under TestClock). */
export const realSleep = (ms: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Waits (in real time) until `count` more callers started waiting than `since`, or `fiber` is done. */
export const waitSettled = (since: number, count: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 5000; i++) {
      if (settledCount >= since + count) return
      if (fiber !== undefined && (yield* Fiber.poll(fiber))._tag === "Some") return
      yield* realSleep(2)
    }
    return yield* Effect.die(new Error("callers did not reach Redis"))
  })

/** How many callers of the test throttles have started waiting so far. */
export const settledSoFar = (): number => settledCount

/** Forks `self` and waits (in real time) until it has reached Redis: finished, or waiting. */
export const forkSettled = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> =>
  Effect.gen(function*() {
    const before = settledCount
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < 5000; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") return fiber
      if (settledCount > before) return fiber
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

/**
 * A server for the tests of one `describe` (started before them, stopped after them) and a plain client to it:
 * `const redis = useServer()`, then `redis.server()` / `redis.admin()` inside the tests. `own`: never the
 * `REDIS_URL` one (for tests that kill and restart it).
 */
export const useServer = (own = false): { readonly server: () => RedisServer; readonly admin: () => IORedis } => {
  let server: RedisServer | undefined
  let admin: IORedis | undefined
  beforeAll(async () => {
    server = await startServer(own)
  })
  afterAll(async () => {
    admin?.disconnect()
    await server?.stop()
  })
  return {
    server: () => server as RedisServer,
    admin: () => (admin ??= client((server as RedisServer).url))
  }
}
