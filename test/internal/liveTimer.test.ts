import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { isLiveClock, preciseNow } from "../../src/internal/liveTimer.js"

describe("liveTimer: preciseNow", () => {
  it.effect("on TestClock: exactly the test clock's milliseconds, from its origin on", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("250 millis")
      const clock = yield* Effect.clock
      expect(isLiveClock(clock)).toBe(false)
      const now = preciseNow(clock)
      expect(now()).toBe(250)
      yield* TestClock.adjust("1500 millis")
      expect(now()).toBe(1750)
    }))

  it("on the live clock: anchored to the wall clock at creation, never decreasing", () => {
    const clock = Clock.make()
    expect(isLiveClock(clock)).toBe(true)
    const before = Date.now()
    const now = preciseNow(clock)
    const first = now()
    const after = Date.now()
    // the origin is the wall-clock millisecond of creation; the reading adds the time since, on a monotonic clock
    expect(first).toBeGreaterThanOrEqual(before)
    expect(first).toBeLessThanOrEqual(after + 1)
    let last = first
    let fractional = false
    for (let i = 0; i < 10_000; i++) {
      const t = now()
      expect(t >= last).toBe(true)
      if (!Number.isInteger(t - first)) fractional = true
      last = t
    }
    // sub-millisecond resolution
    expect(fractional).toBe(true)
  })
})
