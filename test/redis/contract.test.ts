/**
 * The shared Throttle contract (test/contract/throttleContract.ts) run against the Redis backend's client logic
 * over the in-memory store — the script's TypeScript twin, checked against the Lua script by script.test.ts — so
 * every timing is exact under TestClock. (Against a real Redis the same behaviours are tested in Redis.test.ts,
 * where each fiber must reach Redis before the clock moves.)
 */
import { Effect } from "effect"
import type { Throttle } from "effect-throttles"
import { makeMemoryStore } from "../../src/internal/redisStore.js"
import { makeWithStore, resolve } from "../../src/internal/redisThrottle.js"
import { type MakeThrottle, throttleContract } from "../contract/throttleContract.js"

const make: MakeThrottle = (rate, options) =>
  Effect.gen(function*() {
    const resolved = yield* resolve({ key: "contract", rate, ...options } as never)
    return (yield* makeWithStore(makeMemoryStore(resolved.config), resolved)) as unknown as Throttle.Service
  })

throttleContract("Redis client on the in-memory store", make)
