import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as core from "../../src/internal/throttleCore.js"

interface Overrides {
  readonly limit?: number
  readonly period?: number
  readonly windows?: ReadonlyArray<core.Window>
  readonly measure?: "start" | "release"
  readonly interval?: number
  readonly burst?: number
  readonly maxConcurrent?: number
}

/** One window `limit` per `period` (3 per 1000 ms by default), or the given `windows`. */
const config = (o: Overrides = {}): core.Config => ({
  windows: o.windows ?? [{ limit: o.limit ?? 3, period: o.period ?? 1000 }],
  measure: o.measure ?? "start",
  interval: o.interval ?? 0,
  burst: o.burst ?? (o.interval !== undefined && o.interval > 0 ? 1 : 0),
  maxConcurrent: o.maxConcurrent ?? Number.POSITIVE_INFINITY
})

const log0 = (s: core.State) => s.logs[0]!

describe("throttleCore: start mode", () => {
  it("grants limit permits, then is due when the oldest slot frees", () => {
    const c = config()
    const s = core.makeState(c)
    for (let i = 0; i < 3; i++) {
      expect(core.canGrant(c, s, 0, 1)).toBe(true)
      core.grant(c, s, 0, 1)
    }
    expect(core.canGrant(c, s, 0, 1)).toBe(false)
    expect(core.canGrant(c, s, 999, 1)).toBe(false)
    expect(core.dueTime(c, s, 500, 1)).toBe(1000)
    expect(core.canGrant(c, s, 1000, 3)).toBe(true)
    expect(log0(s).pending).toBe(0)
    expect(s).toMatchObject({ inFlight: 3, granted: 3 })
  })

  it("weights: the due time walks the records that must expire first", () => {
    const c = config({ limit: 5 })
    const s = core.makeState(c)
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
    const s = core.makeState(c)
    for (let i = 0; i < 100; i++) core.grant(c, s, 7, 1)
    expect(core.entries(log0(s))).toEqual({ expiries: [1007], weights: [100] })
    for (let t = 0; t < 3000; t++) core.grant(c, s, 1000 + t, 1)
    core.expire(s, 3500)
    const { expiries, weights } = core.entries(log0(s))
    expect(expiries.length).toBe(1499) // expiries 3501..4999 remain, oldest first
    expect(expiries[0]).toBe(3501)
    expect(expiries[1498]).toBe(4999)
    expect(weights.every((w) => w === 1)).toBe(true)
    expect(log0(s).pending).toBe(1499)
    // the dropped records' storage is reused: as many records again, arriving as old ones expire, fit the same ring
    const ring = core.capacity(log0(s))
    for (let t = 3000; t < 6000; t++) {
      core.expire(s, t + 500)
      core.grant(c, s, 1000 + t, 1)
    }
    expect(core.capacity(log0(s))).toBe(ring)
    expect(core.entries(log0(s)).expiries).toEqual(Array.from({ length: 1500 }, (_, k) => 6500 + k))
    core.expire(s, 8000)
    expect(core.entries(log0(s)).expiries).toEqual([])
    expect(log0(s).pending).toBe(0)
  })

  it("the ring keeps its records in order across wrap-arounds and growth", () => {
    const c = config({ limit: 1_000_000 })
    const s = core.makeState(c)
    const live: Array<number> = []
    const capacities = new Set<number>()
    // batches of a growing size, each followed by an expiry that keeps only the newest 10 records: the ring wraps,
    // and it fills (and grows) while wrapped
    let t = 0
    for (let batch = 1; batch <= 120; batch++) {
      for (let i = 0; i < batch; i++) {
        t += 1
        core.grant(c, s, t, 1 + (t % 3))
        live.push(t + 1000)
        capacities.add(core.capacity(log0(s)))
        if (t % 7 === 0) expect(core.entries(log0(s)).expiries).toEqual(live)
      }
      if (live.length > 10) {
        core.expire(s, live[live.length - 11]!)
        live.splice(0, live.length - 10)
      }
      expect(core.entries(log0(s)).expiries).toEqual(live)
    }
    expect([...capacities].sort((x, y) => x - y)).toEqual([4, 8, 16, 32, 64, 128, 256])
    expect(log0(s).pending).toBe(core.entries(log0(s)).weights.reduce((x, y) => x + y, 0))
    expect(core.entries(log0(s)).weights).toEqual(live.map((e) => 1 + ((e - 1000) % 3)))
  })

  it("release only changes the in-flight count", () => {
    const c = config({ limit: 1 })
    const s = core.makeState(c)
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
    const s = core.makeState(c)
    core.grant(c, s, 0, 1, false)
    expect(core.canGrant(c, s, 5000, 1)).toBe(false)
    expect(core.dueTime(c, s, 5000, 1)).toBe(Number.POSITIVE_INFINITY)
    expect(core.dueTime(c, s, 5000, 1, true)).toBe(5000) // the lower bound counts it as free
    core.stamp(c, s, 40, 1) // the waiter resumed 40 ms after its grant
    expect(core.dueTime(c, s, 50, 1)).toBe(1040)
    expect(log0(s).pending).toBe(1)
    expect(s).toMatchObject({ unstamped: 0, inFlight: 1, granted: 1 })
  })
})

describe("throttleCore: release mode", () => {
  it("holds a slot until period after its release", () => {
    const c = config({ limit: 2, measure: "release" })
    const s = core.makeState(c)
    core.grant(c, s, 0, 2)
    expect(core.dueTime(c, s, 0, 1)).toBe(Number.POSITIVE_INFINITY)
    core.release(c, s, 500, 1)
    expect(core.canGrant(c, s, 500, 1)).toBe(false)
    expect(core.dueTime(c, s, 500, 1)).toBe(1500)
    expect(core.dueTime(c, s, 500, 2)).toBe(Number.POSITIVE_INFINITY)
    expect(core.dueTime(c, s, 500, 2, true)).toBe(1500) // the window's own wait: a lower bound
    expect(core.canGrant(c, s, 1500, 1)).toBe(true)
  })
})

describe("throttleCore: several windows", () => {
  it("[4/s, 6/10s]: a grant needs room in both; the later due time wins", () => {
    const c = config({ windows: [{ limit: 4, period: 1000 }, { limit: 6, period: 10_000 }] })
    const s = core.makeState(c)
    core.grant(c, s, 0, 4)
    expect(core.canGrant(c, s, 500, 1)).toBe(false)
    expect(core.dueTime(c, s, 500, 1)).toBe(1000)
    core.grant(c, s, 1000, 2)
    // the second window is full (6 in 10 s) until the first grants expire at 10 000
    expect(core.canGrant(c, s, 2000, 1)).toBe(false)
    expect(core.dueTime(c, s, 2000, 1)).toBe(10_000)
    expect(core.available(c, s, 2000)).toBe(0)
    expect(core.available(c, s, 10_000)).toBe(4)
    expect(core.available(c, s, 11_000)).toBe(4)
  })

  it("the deciding window of a decision is the one with the fewest permits remaining", () => {
    const c = config({ windows: [{ limit: 4, period: 1000 }, { limit: 60, period: 60_000 }] })
    const s = core.makeState(c)
    core.grant(c, s, 0, 3)
    expect(core.decide(c, s, 0, 1, true, undefined)).toEqual({
      granted: true,
      limit: 4,
      remaining: 1,
      retryAfter: 0,
      resetAfter: 1000
    })
    core.grant(c, s, 0, 1)
    for (let t = 1000; t < 15_000; t += 1000) core.grant(c, s, t, 4)
    // 60 granted by 14 000: the minute window is full until 60 000
    expect(core.decide(c, s, 14_500, 1, false, undefined)).toEqual({
      granted: false,
      limit: 60,
      remaining: 0,
      retryAfter: 60_000 - 14_500,
      resetAfter: 74_000 - 14_500
    })
  })
})

describe("throttleCore: GCRA smooth spacing", () => {
  it("burst 1: n permits take n intervals", () => {
    const c = config({ limit: 4, interval: 250 })
    const s = core.makeState(c)
    core.grant(c, s, 0, 1)
    expect(core.canGrant(c, s, 100, 1)).toBe(false)
    expect(core.available(c, s, 100)).toBe(0)
    expect(core.dueTime(c, s, 100, 1)).toBe(250)
    core.grant(c, s, 250, 2)
    expect(core.dueTime(c, s, 250, 1)).toBe(750)
  })

  it("burst 1: a late grant moves the schedule (tat = max(tat, grantTime) + n * interval)", () => {
    const c = config({ limit: 10, interval: 100 })
    const s = core.makeState(c)
    core.grant(c, s, 0, 1)
    core.grant(c, s, 103, 1) // the timer for 100 fired at 103
    expect(s.tat).toBe(203)
    core.grant(c, s, 500, 1) // idle: the schedule restarts from the grant
    expect(s.tat).toBe(600)
  })

  it("a lateness tolerance: due `tolerance` before the theoretical time, so a wake-up that late keeps the schedule", () => {
    const c: core.Config = { ...config({ limit: 50, interval: 20 }), tolerance: 1 }
    const s = core.makeState(c)
    core.grant(c, s, 0, 1) // tat 20
    expect(core.dueTime(c, s, 0, 1)).toBe(19)
    core.grant(c, s, 19.6, 1) // 0.4 ms before the theoretical 20: tat 40, not 39.6
    expect(s.tat).toBe(40)
    core.grant(c, s, 41, 1) // later than the theoretical time itself: the schedule moves (tat 61)
    expect(s.tat).toBe(61)
    expect(core.available(c, s, 41)).toBe(0)
  })

  it("burst 3: three at once, then one per interval; lateness up to burst - 1 intervals is absorbed", () => {
    const c = config({ limit: 100, interval: 10, burst: 3 })
    const s = core.makeState(c)
    for (let i = 0; i < 3; i++) {
      expect(core.canGrant(c, s, 0, 1)).toBe(true)
      core.grant(c, s, 0, 1)
    }
    expect(core.canGrant(c, s, 0, 1)).toBe(false)
    expect(core.dueTime(c, s, 0, 1)).toBe(10) // tat 30 - 2 * 10
    core.grant(c, s, 15, 1) // 5 ms late: tat 40, not 45
    expect(s.tat).toBe(40)
    expect(core.dueTime(c, s, 15, 1)).toBe(20)
  })

  it("defaultBurst: 1 at or above a 4 ms interval, the grants per 4 ms below it", () => {
    expect(core.defaultBurst(1000)).toBe(1)
    expect(core.defaultBurst(4)).toBe(1)
    expect(core.defaultBurst(1)).toBe(4)
    expect(core.defaultBurst(0.1)).toBe(40)
    expect(core.defaultBurst(4 / 3)).toBe(3)
    expect(core.smoothInterval([{ limit: 4, period: 1000 }, { limit: 60, period: 60_000 }])).toBe(1000)
  })
})

describe("throttleCore: pause and maxConcurrent", () => {
  it("a pause holds grants back until it ends; a shorter one never shortens it", () => {
    const c = config({ limit: 10 })
    const s = core.makeState(c)
    expect(core.pause(s, 500)).toBe(true)
    expect(core.pause(s, 300)).toBe(false)
    expect(core.canGrant(c, s, 499, 1)).toBe(false)
    expect(core.available(c, s, 100)).toBe(0)
    expect(core.dueTime(c, s, 100, 1)).toBe(500)
    expect(core.canGrant(c, s, 500, 1)).toBe(true)
    expect(core.pause(s, 800)).toBe(true)
    expect(core.dueTime(c, s, 600, 1)).toBe(800)
  })

  it("maxConcurrent: only a release makes room", () => {
    const c = config({ limit: 100, maxConcurrent: 2 })
    const s = core.makeState(c)
    core.grant(c, s, 0, 2)
    expect(core.canGrant(c, s, 5000, 1)).toBe(false)
    expect(core.dueTime(c, s, 5000, 1)).toBe(Number.POSITIVE_INFINITY)
    expect(core.dueTime(c, s, 5000, 1, true)).toBe(5000)
    core.release(c, s, 5000, 1)
    expect(core.canGrant(c, s, 5000, 1)).toBe(true)
    expect(core.available(c, s, 5000)).toBe(1)
  })
})

describe("throttleCore: properties", () => {
  const scenario = fc.record({
    windows: fc.array(
      fc.record({ limit: fc.integer({ min: 1, max: 5 }), period: fc.integer({ min: 1, max: 2000 }) }),
      { minLength: 1, maxLength: 3 }
    ),
    measure: fc.constantFrom("start" as const, "release" as const),
    smooth: fc.boolean(),
    burst: fc.integer({ min: 1, max: 3 }),
    steps: fc.array(
      fc.record({
        dt: fc.integer({ min: 0, max: 700 }),
        n: fc.integer({ min: 1, max: 5 }),
        release: fc.boolean(),
        pause: fc.integer({ min: 0, max: 10 })
      }),
      { maxLength: 60 }
    )
  })

  it.prop(
    "never more than any window's limit in any of its windows; dueTime is the exact earliest grant time",
    [scenario],
    ([sc]) => {
      const interval = sc.smooth ? core.smoothInterval(sc.windows) : 0
      const c = config({
        windows: sc.windows,
        measure: sc.measure,
        interval,
        burst: sc.smooth ? sc.burst : 0
      })
      const s = core.makeState(c)
      const smallest = Math.min(...sc.windows.map((w) => w.limit))
      // brute-force log: every permit's slot [from, until) per window, and every grant time
      const slots: Array<{ from: number; released: number | undefined }> = []
      const grants: Array<number> = []
      let now = 0
      for (const step of sc.steps) {
        now += step.dt
        const n = Math.min(step.n, smallest)
        if (step.pause === 10) core.pause(s, now + 300)
        if (step.release && s.inFlight >= 1) {
          core.release(c, s, now, 1)
          slots.find((slot) => slot.released === undefined)!.released = now
          continue
        }
        if (core.canGrant(c, s, now, n)) {
          expect(now).toBeGreaterThanOrEqual(s.pausedUntil)
          core.grant(c, s, now, n)
          for (let k = 0; k < n; k++) slots.push({ from: now, released: undefined })
          grants.push(now)
        } else {
          const due = core.dueTime(c, s, now, n)
          expect(due).toBeGreaterThanOrEqual(now)
          expect(core.dueTime(c, s, now, n, true)).toBeLessThanOrEqual(due)
          if (Number.isFinite(due)) {
            expect(core.canGrant(c, structuredClone(s), due, n)).toBe(true)
            if (due > now + 0.01) expect(core.canGrant(c, structuredClone(s), due - 0.001, n)).toBe(false)
          }
        }
        // every window's bound, checked at every instant where a slot starts
        for (const w of sc.windows) {
          const until = (slot: { from: number; released: number | undefined }) =>
            sc.measure === "start"
              ? slot.from + w.period
              : slot.released === undefined
              ? Number.POSITIVE_INFINITY
              : slot.released + w.period
          for (const slot of slots) {
            const occupied = slots.filter((o) => o.from <= slot.from && slot.from < until(o)).length
            expect(occupied).toBeLessThanOrEqual(w.limit)
          }
        }
        // GCRA: at most `burst` grants closer together than the spacing allows
        if (sc.smooth) {
          for (let i = 0; i + sc.burst < grants.length; i++) {
            expect(grants[i + sc.burst]! - grants[i]!).toBeGreaterThanOrEqual(interval - 1e-6)
          }
        }
        expect(s.granted).toBe(slots.length)
        expect(s.inFlight).toBe(slots.filter((slot) => slot.released === undefined).length)
      }
    }
  )
})
