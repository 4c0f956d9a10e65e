import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { validate } from "../../src/internal/dynamicThrottle.js"
import * as dt from "../../src/internal/dynamicThrottleCore.js"

const configOf = (options: Partial<Parameters<typeof validate>[0]> & { initialRate: number }): dt.Config => {
  const v = validate(options)
  if (v._tag === "Invalid") throw new Error(v.message)
  return v.config
}

/** Reserves for each arrival time in turn (jitter draw 0); returns the admission instants. */
const reserveAll = (state0: dt.State, arrivals: ReadonlyArray<number>): [Array<number>, dt.State] => {
  let state = state0
  const ats: Array<number> = []
  for (const now of arrivals) {
    const [ticket, next] = dt.reserve(state, now, 0)
    ats.push(ticket.at)
    expect(ticket.delay).toBe(ticket.at - now)
    state = next
  }
  return [ats, state]
}

describe("internal/dynamicThrottleCore reserve / cancel", () => {
  const config = configOf({ initialRate: 10, jitter: 0 })

  it("first admission is immediate; concurrent callers get successive slots 1000/rate ms apart", () => {
    const [ats] = reserveAll(dt.initial(config), [0, 0, 0, 0])
    expect(ats).toEqual([0, 100, 200, 300])
  })

  it("no burst credit after an idle period; a late arrival is admitted at once", () => {
    const [ats] = reserveAll(dt.initial(config), [0, 50, 1000, 1010, 1500])
    expect(ats).toEqual([0, 100, 1000, 1100, 1500])
  })

  it("the jitter draw multiplies the gap by (1 + u), with the rate at reservation time", () => {
    let state = dt.initial(config)
    const [a, s1] = dt.reserve(state, 0, 0.2) // first: immediate whatever u
    const [b, s2] = dt.reserve(s1, 0, -0.2)
    const s3 = dt.setRate(config, s2, 20)
    const [c, s4] = dt.reserve(s3, 0, 0.1)
    state = s4
    expect([a.at, b.at, c.at]).toEqual([0, 80, 80 + 50 * 1.1])
    expect(state.last).toBe(c.at)
  })

  it("cancelling the latest reservation gives its slot back; cancelling in reverse order cascades", () => {
    const s0 = dt.initial(config)
    const [a, s1] = dt.reserve(s0, 0, 0)
    const [b, s2] = dt.reserve(s1, 0, 0)
    const [c, s3] = dt.reserve(s2, 0, 0)
    expect([a.at, b.at, c.at]).toEqual([0, 100, 200])
    const s4 = dt.cancel(dt.cancel(s3, c), b)
    const [d] = dt.reserve(s4, 10, 0)
    expect(d.at).toBe(100)
  })

  it("cancelling a middle reservation leaves a gap and keeps the later slots where they are", () => {
    const s0 = dt.initial(config)
    const [, s1] = dt.reserve(s0, 0, 0)
    const [b, s2] = dt.reserve(s1, 0, 0)
    const [c, s3] = dt.reserve(s2, 0, 0)
    const s4 = dt.cancel(s3, b)
    expect(s4).toEqual(s3)
    const [d] = dt.reserve(s4, 10, 0)
    expect([c.at, d.at]).toEqual([200, 300])
    // cancelling c afterwards rolls back to b's slot, which stays a gap: the next caller comes 100 ms after it
    const s5 = dt.cancel(s4, c)
    expect(s5.last).toBe(100)
    expect(dt.reserve(s5, 10, 0)[0].at).toBe(200)
  })
})

describe("internal/dynamicThrottleCore record", () => {
  it("the worked example: window 4, rate 10 -> 12.5 -> 12.5 -> 9.375", () => {
    const config = configOf({ initialRate: 10, window: 4, jitter: 0 })
    let s = dt.initial(config)
    for (const ok of [true, true, true]) s = dt.record(config, s, ok)
    expect([s.rate, s.successes, s.failures]).toEqual([10, 3, 0])
    s = dt.record(config, s, true)
    expect([s.rate, s.successes, s.failures]).toEqual([12.5, 0, 0])
    for (const ok of [true, false, false, false]) s = dt.record(config, s, ok)
    expect(s.rate).toBe(12.5) // 0.25 is not < 0.25
    for (const ok of [false, false, false, false]) s = dt.record(config, s, ok)
    expect(s.rate).toBe(9.375)
  })

  it("0.75 is not > upperBound 0.75", () => {
    const config = configOf({ initialRate: 10, window: 4 })
    let s = dt.initial(config)
    for (const ok of [true, true, true, false]) s = dt.record(config, s, ok)
    expect(s.rate).toBe(10)
  })

  it("clamps exactly to [minRate, maxRate]", () => {
    const config = configOf({ initialRate: 90, maxRate: 100, minRate: 80, window: 1 })
    let s = dt.initial(config)
    s = dt.record(config, s, true)
    expect(s.rate).toBe(100)
    s = dt.record(config, s, true)
    expect(s.rate).toBe(100)
    s = dt.record(config, s, false) // 75 -> 80
    expect(s.rate).toBe(80)
    expect(dt.setRate(config, s, 1e9).rate).toBe(100)
    expect(dt.setRate(config, s, -5).rate).toBe(80)
    expect(dt.setRate(config, s, 85.5).rate).toBe(85.5)
  })
})

describe("internal/dynamicThrottleCore reportThrottled", () => {
  const config = configOf({ initialRate: 10, jitter: 0 })

  it("cuts the rate at once; without retryAfter the schedule is unchanged", () => {
    const [, s] = reserveAll(dt.initial(config), [0, 0])
    const t = dt.reportThrottled(config, s, 10, undefined)
    expect(t).toEqual({ ...s, rate: 7.5 })
  })

  it("pauses the schedule: pending slots move by the pause, new callers wait for its end", () => {
    const [ats, s] = reserveAll(dt.initial(config), [0, 0, 0]) // 0, 100, 200
    expect(ats).toEqual([0, 100, 200])
    const p = dt.reportThrottled(config, s, 50, 1000)
    expect(p.holdUntil).toBe(1050)
    expect(p.shift).toBe(1000) // 100 -> 1100, 200 -> 1200
    expect(p.last).toBe(1200)
    const [d] = dt.reserve(p, 60, 0)
    expect(d.at).toBe(1200 + 133.333333) // 1000 / 7.5, to the nanosecond
    // with nothing pending, a caller is admitted exactly when the pause ends
    const idle = dt.reportThrottled(config, dt.initial(config), 0, 500)
    expect(dt.reserve(idle, 10, 0)[0].at).toBe(500)
  })

  it("overlapping pauses merge: only the extension moves pending slots further", () => {
    const [, s] = reserveAll(dt.initial(config), [0, 0, 0])
    const p1 = dt.reportThrottled(config, s, 0, 1000) // hold until 1000, shift 1000
    const p2 = dt.reportThrottled(config, p1, 500, 800) // hold until 1300: extends by 300
    expect([p2.holdUntil, p2.shift, p2.last]).toEqual([1300, 1300, 1500])
    const p3 = dt.reportThrottled(config, p2, 600, 100) // inside the current pause: no extension
    expect([p3.holdUntil, p3.shift, p3.last]).toEqual([1300, 1300, 1500])
    expect(p3.rate).toBe(10 * 0.75 * 0.75 * 0.75)
  })

  it("after a pause, a cancelled reservation is not rolled back (its slot stays a gap)", () => {
    const s0 = dt.initial(config)
    const [, s1] = dt.reserve(s0, 0, 0)
    const [b, s2] = dt.reserve(s1, 0, 0)
    const p = dt.reportThrottled(config, s2, 10, 1000)
    expect(dt.cancel(p, b)).toEqual(p)
  })
})

describe("internal/dynamicThrottleCore invariants", () => {
  type Op =
    | { readonly _tag: "reserve"; readonly advance: number }
    | { readonly _tag: "cancel"; readonly pick: number }
    | { readonly _tag: "record"; readonly ok: boolean }

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constant("reserve" as const), advance: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ _tag: fc.constant("cancel" as const), pick: fc.nat() }),
    fc.record({ _tag: fc.constant("record" as const), ok: fc.boolean() })
  )

  it.prop(
    "with random cancellations and rate changes, live admissions are never closer than 1000/rate (rate at reservation)",
    { ops: fc.array(opArb, { maxLength: 150, size: "max" }) },
    ({ ops }) => {
      const config = configOf({ initialRate: 10, minRate: 1, maxRate: 40, window: 2, jitter: 0 })
      let state = dt.initial(config)
      let now = 0
      const live: Array<{ ticket: dt.Ticket; gap: number }> = []
      for (const op of ops) {
        if (op._tag === "reserve") {
          now += op.advance
          const gap = 1000 / state.rate
          const [ticket, next] = dt.reserve(state, now, 0)
          expect(ticket.at).toBeGreaterThanOrEqual(now)
          state = next
          live.push({ ticket, gap })
        } else if (op._tag === "cancel") {
          // only waiters still waiting can be cancelled
          const waiting = live.filter((l) => l.ticket.at > now)
          if (waiting.length === 0) continue
          const victim = waiting[op.pick % waiting.length]!
          state = dt.cancel(state, victim.ticket)
          live.splice(live.indexOf(victim), 1)
        } else {
          state = dt.record(config, state, op.ok)
        }
        expect(state.rate).toBeGreaterThanOrEqual(1)
        expect(state.rate).toBeLessThanOrEqual(40)
      }
      const sorted = [...live].sort((x, y) => x.ticket.at - y.ticket.at)
      for (let i = 1; i < sorted.length; i++) {
        expect(sorted[i]!.ticket.at - sorted[i - 1]!.ticket.at).toBeGreaterThanOrEqual(sorted[i]!.gap - 1e-6) // gaps are rounded to the nanosecond
      }
    }
  )
})
