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

// The Redis backend's documented differences (docs/readme/redis.md):
throttleContract("Redis client on the in-memory store", make, {
  skip: [
    // measure: "release" is not supported yet (a defect says so)
    "measure: start vs release with 500 ms tasks (1/s, sequential)",
    "measure: release holds at most limit in flight",
    "random arrivals, weights and interruptions: window and cap hold, FIFO order, no permit lost or duplicated",
    // reservations: those behind an interrupted waiter keep their reserved times (never earlier)
    "an interrupted waiter leaves no trace; the one behind it is granted on time",
    // one timer per process, but started by a forked fiber: not yet registered at the instant this test looks
    "only the head of the queue holds a timer (no per-waiter timers, no polling)"
  ]
})
