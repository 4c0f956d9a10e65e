import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { isLiveClock, preciseNow, TurnBudget } from "../../src/internal/liveTimer.js"

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

describe("liveTimer: TurnBudget", () => {
  it("allows turns until their time reaches the share of the window, then none until the window is over", () => {
    const budget = new TurnBudget(100, 0.1)
    // a window starts at the first question: 10 ms of turns are allowed in [0, 100)
    expect(budget.allows(0)).toBe(true)
    budget.spend(6)
    expect(budget.allows(40)).toBe(true)
    budget.spend(3.9)
    expect(budget.allows(50)).toBe(true)
    budget.spend(0.1)
    expect(budget.allows(60)).toBe(false)
    expect(budget.allows(99.9)).toBe(false)
    // the next window starts at the first question at or after its start, with nothing spent
    expect(budget.allows(100)).toBe(true)
    budget.spend(10)
    expect(budget.allows(150)).toBe(false)
    expect(budget.allows(199)).toBe(false)
    expect(budget.allows(230)).toBe(true)
  })
})
