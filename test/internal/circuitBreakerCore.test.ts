import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { validate } from "../../src/internal/circuitBreaker.js"
import * as cb from "../../src/internal/circuitBreakerCore.js"

const configOf = (options: Parameters<typeof validate>[0]): cb.Config => {
  const v = validate({ name: "test", ...options })
  if (v._tag === "Invalid") throw new Error(v.message)
  return v.config
}

/** A tiny driver over the pure machine: keeps the state and every transition. */
const driver = (config: cb.Config) => {
  let state = cb.initial(config)
  const transitions: Array<cb.Transition> = []
  const apply = <A>(step: cb.Step<A>): A => {
    state = step.state
    transitions.push(...step.transitions)
    return step.value
  }
  return {
    get state() {
      return state
    },
    transitions,
    admit: (now: number) => apply(cb.admit(config, state, now)),
    ticket: (now: number): cb.Ticket => {
      const a = apply(cb.admit(config, state, now))
      if (a._tag !== "Admitted") throw new Error(`expected admission at ${now}, got ${JSON.stringify(a)}`)
      return a.ticket
    },
    complete: (ticket: cb.Ticket, outcome: cb.Outcome, now: number) =>
      apply(cb.complete(config, state, ticket, outcome, now)),
    /** Admit and complete at once (a call of duration `duration` started at `now - duration`). */
    call: (outcome: cb.Outcome, now: number, duration = 0) => {
      const t = apply(cb.admit(config, state, now - duration))
      if (t._tag !== "Admitted") throw new Error(`expected admission at ${now - duration}`)
      apply(cb.complete(config, state, t.ticket, outcome, now))
    },
    normalize: (now: number) => apply(cb.normalize(config, state, now)),
    reset: (now: number) => apply(cb.reset(config, state, now)),
    trip: (now: number) => apply(cb.trip(config, state, now)),
    name: (now: number) => {
      apply(cb.normalize(config, state, now))
      return cb.stateName(state)
    }
  }
}

describe("internal/circuitBreakerCore consecutive policy", () => {
  const config = configOf({ maxFailures: 3, resetTimeout: 1000, halfOpenMaxCalls: 2 })

  it("opens on the maxFailures-th consecutive failure, at the instant it completes", () => {
    const d = driver(config)
    d.call("failure", 10)
    d.call("failure", 20)
    d.call("success", 30) // resets the count
    d.call("failure", 40)
    d.call("failure", 50)
    expect(cb.failures(d.state)).toBe(2)
    expect(d.name(50)).toBe("closed")
    d.call("failure", 60)
    expect(d.name(60)).toBe("open")
    expect(cb.failures(d.state)).toBe(3)
    expect(d.transitions).toEqual([{ from: "closed", to: "open", at: 60 }])
  })

  it("ignored and interrupted calls neither count nor reset the count", () => {
    const d = driver(config)
    d.call("failure", 1)
    d.call("ignored", 2)
    d.call("interrupted", 3)
    d.call("failure", 4)
    expect(cb.failures(d.state)).toBe(2)
    d.call("failure", 5)
    expect(d.name(5)).toBe("open")
  })

  it("rejects while open with the exact time left, and is half-open at exactly openedAt + resetTimeout", () => {
    const d = driver(config)
    d.trip(100)
    expect(d.admit(100)).toEqual({ _tag: "Rejected", state: "open", retryAfterMillis: 1000 })
    expect(d.admit(1099)).toEqual({ _tag: "Rejected", state: "open", retryAfterMillis: 1 })
    expect(d.name(1099)).toBe("open")
    // observed late, stamped at the exact instant
    expect(d.name(5000)).toBe("half-open")
    expect(d.transitions).toEqual([
      { from: "closed", to: "open", at: 100 },
      { from: "open", to: "half-open", at: 1100 }
    ])
  })

  it("half-open admits at most halfOpenMaxCalls trials; a trial success closes", () => {
    const d = driver(config)
    d.trip(0)
    const t1 = d.ticket(1000)
    const t2 = d.ticket(1000)
    expect(t1.trial && t2.trial).toBe(true)
    expect(d.admit(1000)).toEqual({ _tag: "Rejected", state: "half-open", retryAfterMillis: 0 })
    d.complete(t2, "success", 1500)
    expect(d.name(1500)).toBe("closed")
    expect(cb.failures(d.state)).toBe(0)
    // the other trial belongs to a finished generation: its failure changes nothing
    d.complete(t1, "failure", 1600)
    expect(d.name(1600)).toBe("closed")
    expect(cb.failures(d.state)).toBe(0)
    expect(d.transitions.map((t) => `${t.from}->${t.to}@${t.at}`)).toEqual([
      "closed->open@0",
      "open->half-open@1000",
      "half-open->closed@1500"
    ])
  })

  it("a trial failure re-opens at the instant it completes", () => {
    const d = driver(config)
    d.trip(0)
    const t1 = d.ticket(1000)
    d.complete(t1, "failure", 1200)
    expect(d.name(1200)).toBe("open")
    expect(d.admit(1300)).toEqual({ _tag: "Rejected", state: "open", retryAfterMillis: 900 })
    expect(d.name(2200)).toBe("half-open")
  })

  it("interrupted and ignored trials free their place without deciding", () => {
    const d = driver(config)
    d.trip(0)
    const t1 = d.ticket(1000)
    const t2 = d.ticket(1000)
    expect(d.admit(1000)._tag).toBe("Rejected")
    d.complete(t1, "interrupted", 1001)
    expect(d.state).toMatchObject({ _tag: "HalfOpen", inFlight: 1 })
    d.complete(t2, "ignored", 1002)
    expect(d.state).toMatchObject({ _tag: "HalfOpen", inFlight: 0 })
    const t3 = d.ticket(1003)
    expect(t3.trial).toBe(true)
  })

  it("late outcomes of calls admitted before an opening do not count", () => {
    const d = driver(config)
    const slow = d.ticket(0)
    d.trip(10)
    expect(d.name(1010)).toBe("half-open")
    d.complete(slow, "success", 1020)
    expect(d.name(1020)).toBe("half-open")
  })

  it("reset closes from any state; trip opens from any state and restarts an open breaker's timeout", () => {
    const d = driver(config)
    d.reset(0) // closed -> closed: no transition
    expect(d.transitions).toEqual([])
    d.trip(10)
    d.trip(500) // open -> open: no transition, but the timeout restarts
    expect(d.name(1010)).toBe("open")
    expect(d.name(1500)).toBe("half-open")
    d.trip(1600) // half-open -> open
    d.reset(1700) // open -> closed
    d.trip(1800)
    d.normalize(2800)
    d.reset(2900) // half-open -> closed
    expect(d.transitions.map((t) => `${t.from}->${t.to}@${t.at}`)).toEqual([
      "closed->open@10",
      "open->half-open@1500",
      "half-open->open@1600",
      "open->closed@1700",
      "closed->open@1800",
      "open->half-open@2800",
      "half-open->closed@2900"
    ])
  })
})

describe("internal/circuitBreakerCore failure-rate policy", () => {
  it("count window: opens when the failure share of the last N calls reaches the threshold, once minimumCalls completed", () => {
    const config = configOf({ policy: { window: { calls: 4 }, minimumCalls: 3, failureRateThreshold: 0.5 } })
    const d = driver(config)
    d.call("failure", 1)
    d.call("failure", 2) // 2/2 but below minimumCalls
    expect(d.name(2)).toBe("closed")
    d.call("success", 3) // 2/3 >= 0.5
    expect(d.name(3)).toBe("open")
    expect(cb.failures(d.state)).toBe(2)
  })

  it("count window slides: old outcomes leave it", () => {
    const config = configOf({ policy: { window: { calls: 4 }, failureRateThreshold: 0.75 } })
    const d = driver(config)
    for (const [i, o] of (["failure", "failure", "success", "success", "success", "failure", "failure"] as const)
      .entries()) {
      d.call(o, i)
      expect(d.name(i)).toBe("closed")
    }
    // window now: success, success(idx4), failure, failure -> failures 2 of 4
    expect(cb.failures(d.state)).toBe(2)
    d.call("failure", 7) // success, failure, failure, failure -> 3/4 = 0.75
    expect(d.name(7)).toBe("open")
  })

  it("time window: a call completed at t counts until, not including, t + duration", () => {
    const config = configOf({
      policy: { window: { duration: 1000 }, minimumCalls: 2, failureRateThreshold: 1 }
    })
    const d = driver(config)
    d.call("failure", 0)
    d.call("failure", 1000) // the first left the window at exactly 1000
    expect(d.name(1000)).toBe("closed")
    expect(cb.failures(d.state)).toBe(1)
    d.call("failure", 1999)
    expect(d.name(1999)).toBe("open")
    expect(d.transitions).toEqual([{ from: "closed", to: "open", at: 1999 }])
  })

  it("time window: the failures count decays as time passes", () => {
    const config = configOf({ policy: { window: { duration: 1000 }, minimumCalls: 5 } })
    const d = driver(config)
    d.call("failure", 0)
    d.call("failure", 500)
    expect(d.normalize(999)).toBeUndefined()
    expect(cb.failures(d.state)).toBe(2)
    d.normalize(1000)
    expect(cb.failures(d.state)).toBe(1)
    d.normalize(1500)
    expect(cb.failures(d.state)).toBe(0)
  })

  it("slow calls (strictly longer than slowCallDuration) count toward opening, whatever their result", () => {
    const config = configOf({
      policy: { window: { calls: 4 }, minimumCalls: 4, slowCallDuration: 100, slowCallRateThreshold: 0.5 }
    })
    const d = driver(config)
    d.call("success", 1000, 100) // exactly 100: not slow
    d.call("success", 2000, 101) // slow
    d.call("success", 3000, 50)
    expect(d.name(3000)).toBe("closed")
    d.call("success", 4000, 500) // slow: 2/4 >= 0.5
    expect(d.name(4000)).toBe("open")
    expect(cb.failures(d.state)).toBe(0)
  })

  it("a slow trial re-opens a half-open breaker; a fast one closes it", () => {
    const config = configOf({
      resetTimeout: 1000,
      policy: { window: { calls: 4 }, slowCallDuration: 100 }
    })
    const d = driver(config)
    d.trip(0)
    d.call("success", 1200, 200)
    expect(d.name(1200)).toBe("open")
    d.call("success", 2250, 50)
    expect(d.name(2250)).toBe("closed")
  })
})

/** Operations of the random walk over the pure machine. */
type Op =
  | { readonly _tag: "admit" }
  | { readonly _tag: "complete"; readonly pick: number; readonly outcome: cb.Outcome }
  | { readonly _tag: "advance"; readonly millis: number }
  | { readonly _tag: "reset" }
  | { readonly _tag: "trip" }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Op>({ _tag: "admit" }) },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("complete" as const),
      pick: fc.nat(),
      outcome: fc.constantFrom<cb.Outcome>("success", "failure", "ignored", "interrupted")
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 700 }) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ _tag: "reset" }) },
  { weight: 1, arbitrary: fc.constant<Op>({ _tag: "trip" }) }
)

describe("internal/circuitBreakerCore invariants", () => {
  it.prop(
    "half-open: inFlight is exactly the trials still running (<= halfOpenMaxCalls), so the breaker never gets stuck",
    {
      ops: fc.array(opArb, { maxLength: 200, size: "max" }),
      maxFailures: fc.integer({ min: 1, max: 4 }),
      halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
      rate: fc.boolean()
    },
    ({ halfOpenMaxCalls, maxFailures, ops, rate }) => {
      const config = configOf(
        rate
          ? { resetTimeout: 500, halfOpenMaxCalls, policy: { window: { calls: 4 }, minimumCalls: 2 } }
          : { resetTimeout: 500, halfOpenMaxCalls, maxFailures }
      )
      const d = driver(config)
      let now = 0
      let running: Array<cb.Ticket> = []
      for (const op of ops) {
        switch (op._tag) {
          case "admit": {
            const a = d.admit(now)
            if (a._tag === "Admitted") running.push(a.ticket)
            else if (a.state === "open") expect(a.retryAfterMillis).toBeGreaterThan(0)
            break
          }
          case "complete": {
            if (running.length === 0) break
            const i = op.pick % running.length
            d.complete(running[i]!, op.outcome, now)
            running = running.filter((_, j) => j !== i)
            break
          }
          case "advance":
            now += op.millis
            d.normalize(now)
            break
          case "reset":
            d.reset(now)
            break
          case "trip":
            d.trip(now)
            break
        }
        const s = d.state
        if (s._tag === "HalfOpen") {
          const trials = running.filter((t) => t.trial && t.generation === s.generation).length
          expect(s.inFlight).toBe(trials)
          expect(s.inFlight).toBeLessThanOrEqual(halfOpenMaxCalls)
        }
        // transitions are chained and time-ordered
        const ts = d.transitions
        for (let k = 1; k < ts.length; k++) {
          expect(ts[k]!.from).toBe(ts[k - 1]!.to)
          expect(ts[k]!.at).toBeGreaterThanOrEqual(ts[k - 1]!.at)
        }
      }
      // once every call has ended, and the timeout has passed, a call is admitted: never stuck
      for (const t of running) d.complete(t, "interrupted", now)
      now += 500
      expect(d.admit(now)._tag).toBe("Admitted")
    }
  )
})
