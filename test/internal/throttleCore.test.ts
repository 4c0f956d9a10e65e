import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as core from "../../src/internal/throttleCore.js"

const config = (overrides: Partial<core.Config> = {}): core.Config => ({
  limit: 3,
  period: 1000,
  measure: "start",
  interval: 0,
  maxConcurrent: Number.POSITIVE_INFINITY,
  ...overrides
})

describe("throttleCore: start mode", () => {
  it("grants limit permits, then is due when the oldest slot frees", () => {
    const c = config()
    const s = core.makeState()
    for (let i = 0; i < 3; i++) {
      expect(core.canGrant(c, s, 0, 1)).toBe(true)
      core.grant(c, s, 0, 1)
    }
    expect(core.canGrant(c, s, 0, 1)).toBe(false)
    expect(core.canGrant(c, s, 999, 1)).toBe(false)
    expect(core.dueTime(c, s, 500, 1)).toBe(1000)
    expect(core.canGrant(c, s, 1000, 3)).toBe(true)
    expect(s).toMatchObject({ pending: 0, inFlight: 3, granted: 3 })
  })

  it("weights: the due time walks the records that must expire first", () => {
    const c = config({ limit: 5 })
    const s = core.makeState()
    core.grant(c, s, 0, 2)
    core.grant(c, s, 400, 3)
    expect(core.dueTime(c, s, 500, 1)).toBe(1000)
    expect(core.dueTime(c, s, 500, 2)).toBe(1000)
    expect(core.dueTime(c, s, 500, 3)).toBe(1400)
    expect(core.dueTime(c, s, 500, 5)).toBe(1400)
    expect(core.available(c, s, 1000)).toBe(2)
    expect(core.available(c, s, 1400)).toBe(5)
  })

  it("grants at the same instant share one record; expired records are dropped and storage is reused", () => {
    const c = config({ limit: 10_000 })
    const s = core.makeState()
    for (let i = 0; i < 100; i++) core.grant(c, s, 7, 1)
    expect(s.expiries).toEqual([1007])
    expect(s.weights).toEqual([100])
    for (let t = 0; t < 3000; t++) core.grant(c, s, 1000 + t, 1)
    core.expire(s, 3500)
    expect(s.expiries.length - s.head).toBe(1499) // expiries 3501..4999 remain
    expect(s.head).toBe(0) // the dropped prefix was compacted away
    core.expire(s, 5000)
    expect(s.expiries.length).toBe(0)
    expect(s.pending).toBe(0)
  })

  it("release only changes the in-flight count", () => {
    const c = config({ limit: 1 })
    const s = core.makeState()
    core.grant(c, s, 0, 1)
    core.release(c, s, 10, 1)
    expect(s.inFlight).toBe(0)
    expect(core.canGrant(c, s, 10, 1)).toBe(false)
    expect(core.dueTime(c, s, 10, 1)).toBe(1000)
  })
})

describe("throttleCore: stamping at resume", () => {
  it("a slot granted unstamped is occupied until stamped, then expires period after the stamp", () => {
    const c = config({ limit: 1 })
    const s = core.makeState()
    core.grant(c, s, 0, 1, 0, false)
    expect(core.canGrant(c, s, 5000, 1)).toBe(false)
    expect(core.dueTime(c, s, 5000, 1)).toBe(Number.POSITIVE_INFINITY)
    core.stamp(c, s, 40, 1) // the waiter resumed 40 ms after its grant
    expect(core.dueTime(c, s, 50, 1)).toBe(1040)
    expect(s).toMatchObject({ unstamped: 0, pending: 1, inFlight: 1, granted: 1 })
  })
})

describe("throttleCore: release mode", () => {
  it("holds a slot until period after its release", () => {
    const c = config({ limit: 2, measure: "release" })
    const s = core.makeState()
    core.grant(c, s, 0, 2)
    expect(core.dueTime(c, s, 0, 1)).toBe(Number.POSITIVE_INFINITY)
    core.release(c, s, 500, 1)
    expect(core.canGrant(c, s, 500, 1)).toBe(false)
    expect(core.dueTime(c, s, 500, 1)).toBe(1500)
    expect(core.dueTime(c, s, 500, 2)).toBe(Number.POSITIVE_INFINITY)
    expect(core.canGrant(c, s, 1500, 1)).toBe(true)
  })
})

describe("throttleCore: smooth and maxConcurrent", () => {
  it("smooth spacing: n permits take n intervals", () => {
    const c = config({ limit: 4, interval: 250 })
    const s = core.makeState()
    core.grant(c, s, 0, 1)
    expect(core.canGrant(c, s, 100, 1)).toBe(false)
    expect(core.available(c, s, 100)).toBe(0)
    expect(core.dueTime(c, s, 100, 1)).toBe(250)
    core.grant(c, s, 250, 2)
    expect(core.dueTime(c, s, 250, 1)).toBe(750)
  })

  it("smooth: a late timer does not shift the schedule (floor)", () => {
    const c = config({ limit: 10, interval: 100 })
    const s = core.makeState()
    core.grant(c, s, 0, 1)
    core.grant(c, s, 103, 1, 100) // the timer for 100 fired at 103
    expect(s.nextSmooth).toBe(200)
    core.grant(c, s, 500, 1) // idle: the schedule restarts from the grant
    expect(s.nextSmooth).toBe(600)
  })

  it("maxConcurrent: only a release makes room", () => {
    const c = config({ limit: 100, maxConcurrent: 2 })
    const s = core.makeState()
    core.grant(c, s, 0, 2)
    expect(core.canGrant(c, s, 5000, 1)).toBe(false)
    expect(core.dueTime(c, s, 5000, 1)).toBe(Number.POSITIVE_INFINITY)
    core.release(c, s, 5000, 1)
    expect(core.canGrant(c, s, 5000, 1)).toBe(true)
    expect(core.available(c, s, 5000)).toBe(1)
  })
})

describe("throttleCore: properties", () => {
  const scenario = fc.record({
    limit: fc.integer({ min: 1, max: 5 }),
    period: fc.integer({ min: 1, max: 2000 }),
    measure: fc.constantFrom("start" as const, "release" as const),
    smooth: fc.boolean(),
    steps: fc.array(
      fc.record({ dt: fc.integer({ min: 0, max: 700 }), n: fc.integer({ min: 1, max: 5 }), release: fc.boolean() }),
      { maxLength: 60 }
    )
  })

  it.prop("never more than limit slots in any window; dueTime is the exact earliest grant time", [scenario], ([sc]) => {
    const c = config({ limit: sc.limit, period: sc.period, measure: sc.measure, interval: sc.smooth ? sc.period / sc.limit : 0 })
    const s = core.makeState()
    // brute-force log: every permit's slot interval [from, until)
    const slots: Array<{ from: number; until: number; released: boolean }> = []
    let now = 0
    for (const step of sc.steps) {
      now += step.dt
      const n = Math.min(step.n, sc.limit)
      if (step.release && s.inFlight >= 1) {
        core.release(c, s, now, 1)
        const held = slots.find((slot) => !slot.released)!
        held.released = true
        if (sc.measure === "release") held.until = now + sc.period
        continue
      }
      if (core.canGrant(c, s, now, n)) {
        core.grant(c, s, now, n)
        for (let k = 0; k < n; k++) {
          slots.push({ from: now, until: sc.measure === "start" ? now + sc.period : Number.POSITIVE_INFINITY, released: false })
        }
      } else {
        const due = core.dueTime(c, s, now, n)
        expect(due).toBeGreaterThanOrEqual(now)
        if (Number.isFinite(due)) {
          const probe = structuredClone(s)
          expect(core.canGrant(c, probe, due, n)).toBe(true)
          if (due > now) expect(core.canGrant(c, structuredClone(s), due - 0.001, n)).toBe(false)
        }
      }
      // the window bound, checked at every instant where a slot starts
      for (const slot of slots) {
        const at = slot.from
        const occupied = slots.filter((o) => o.from <= at && at < o.until).length
        expect(occupied).toBeLessThanOrEqual(sc.limit)
      }
      expect(s.granted).toBe(slots.length)
      expect(s.inFlight).toBe(slots.filter((slot) => !slot.released).length)
    }
  })
})
