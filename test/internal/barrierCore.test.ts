import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as shell from "../../src/internal/barrier.js"
import * as core from "../../src/internal/barrierCore.js"

const config = <S>(
  parties: number,
  extra: { maxState?: number; cyclic?: boolean; initialState?: Iterable<S> } = {}
): core.Config<S> => {
  const result = shell.validate<S>({ parties, ...extra })
  if (typeof result === "string") throw new Error(result)
  return result
}

/** Arrives with each value in turn (waiter = the value's label), returning the decisions and the final state. */
const arriveAll = <S>(
  cfg: core.Config<S>,
  state: core.State<S, string>,
  values: ReadonlyArray<readonly [label: string, value: S | undefined]>
) => {
  const decisions: Array<core.ArriveDecision<S, string>> = []
  let current = state
  for (const [label, value] of values) {
    const [decision, next] = core.arrive(cfg, current, value, label)
    decisions.push(decision)
    current = next
  }
  return { decisions, state: current }
}

describe("internal/barrierCore", () => {
  describe("validate", () => {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects parties %s", (parties) => {
      expect(shell.validate({ parties })).toBe(`Expected parties to be an integer >= 1, got ${String(parties)}`)
    })

    it("rejects a negative or fractional maxState", () => {
      expect(shell.validate({ parties: 1, maxState: -1 })).toMatch(/^Expected maxState to be an integer >= 0.*got -1$/)
      expect(shell.validate({ parties: 1, maxState: 0.5 })).toMatch(/got 0\.5$/)
    })

    it("defaults cyclic to true and reads the initial state once", () => {
      function* gen() {
        yield 1
        yield 2
      }
      const cfg = config(2, { initialState: gen() })
      expect(cfg.cyclic).toBe(true)
      expect(cfg.initialState).toEqual([1, 2])
      expect(cfg.maxState).toBeUndefined()
    })
  })

  it("the worked example: parties 3 with 1, 3, 5", () => {
    const cfg = config<number>(3)
    const { decisions, state } = arriveAll(cfg, core.initial(), [["a", 1], ["b", 3], ["c", 5]])
    expect(decisions[0]).toEqual({ _tag: "Waiting", ticket: 0 })
    expect(decisions[1]).toEqual({ _tag: "Waiting", ticket: 1 })
    expect(decisions[2]).toEqual({
      _tag: "Tripped",
      position: 2,
      states: [1, 3, 5],
      released: [{ waiter: "a", position: 0 }, { waiter: "b", position: 1 }]
    })
    expect(core.waiting(state)).toBe(0)
    expect(state.broken).toBeUndefined()
    expect(state.generation).toBe(1)
  })

  it("returns a frozen states array", () => {
    const { decisions } = arriveAll(config<number>(1), core.initial(), [["a", 1]])
    const tripped = decisions[0]
    if (tripped?._tag !== "Tripped") throw new Error("expected a trip")
    expect(Object.isFrozen(tripped.states)).toBe(true)
  })

  it("withdrawn arrivals lose their state and their position", () => {
    const cfg = config<string>(3)
    let { state } = arriveAll(cfg, core.initial(), [["a", "A"], ["b", "B"]])
    state = core.withdraw(state, 0) // a leaves
    expect(core.waiting(state)).toBe(1)
    const { decisions } = arriveAll(cfg, state, [["c", "C"], ["d", "D"]])
    expect(decisions[1]).toEqual({
      _tag: "Tripped",
      position: 2,
      states: ["B", "C", "D"],
      released: [{ waiter: "b", position: 0 }, { waiter: "c", position: 1 }]
    })
  })

  it("withdrawing an unknown or released ticket changes nothing", () => {
    const cfg = config<number>(2)
    const { state } = arriveAll(cfg, core.initial(), [["a", 1], ["b", 2], ["c", 3]])
    expect(core.withdraw(state, 0)).toBe(state)
    expect(core.withdraw(state, 99)).toBe(state)
  })

  it("initialState prefixes the first release only; maxState keeps the last N; undefined is skipped", () => {
    const cfg = config<number>(2, { initialState: [0], maxState: 3 })
    const first = arriveAll(cfg, core.initial(), [["a", 1], ["b", 2]])
    expect(first.decisions[1]).toMatchObject({ _tag: "Tripped", states: [0, 1, 2] })
    const second = arriveAll(cfg, first.state, [["c", undefined], ["d", 4]])
    expect(second.decisions[1]).toMatchObject({ _tag: "Tripped", states: [4] })
    const cfg2 = config<number>(3, { initialState: [7, 8], maxState: 2 })
    const third = arriveAll(cfg2, core.initial(), [["a", 1], ["b", 3], ["c", 5]])
    expect(third.decisions[2]).toMatchObject({ _tag: "Tripped", states: [3, 5] })
  })

  it("maxState 0 keeps nothing", () => {
    const cfg = config<number>(1, { maxState: 0, initialState: [1] })
    const { decisions } = arriveAll(cfg, core.initial(), [["a", 2]])
    expect(decisions[0]).toMatchObject({ _tag: "Tripped", states: [] })
  })

  it("initialState survives a generation that never trips", () => {
    const cfg = config<number>(2, { initialState: [0] })
    const { state } = arriveAll(cfg, core.initial(), [["a", 1]])
    const [failed, afterReset] = core.reset(state)
    expect(failed).toEqual(["a"])
    const { decisions } = arriveAll(cfg, afterReset, [["b", 2], ["c", 3]])
    expect(decisions[1]).toMatchObject({ _tag: "Tripped", states: [0, 2, 3] })
  })

  it("a one-shot barrier is broken after its trip", () => {
    const cfg = config<number>(1, { cyclic: false })
    const { decisions, state } = arriveAll(cfg, core.initial(), [["a", 1], ["b", 2]])
    expect(decisions[0]).toMatchObject({ _tag: "Tripped", position: 0 })
    expect(decisions[1]).toEqual({ _tag: "Rejected", reason: "tripped" })
    expect(state.broken).toBe("tripped")
    const [, afterReset] = core.reset(state)
    expect(afterReset.broken).toBeUndefined()
  })

  it("abort fails the current waiters and rejects later arrivals until reset", () => {
    const cfg = config<number>(3)
    const { state } = arriveAll(cfg, core.initial(), [["a", 1], ["b", 2]])
    const [failed, aborted] = core.abort(state)
    expect(failed).toEqual(["a", "b"])
    expect(aborted.broken).toBe("aborted")
    expect(core.waiting(aborted)).toBe(0)
    expect(core.abort(aborted)).toEqual([[], aborted])
    expect(core.arrive(cfg, aborted, 3, "c")[0]).toEqual({ _tag: "Rejected", reason: "aborted" })
    const [none, usable] = core.reset(aborted)
    expect(none).toEqual([])
    expect(core.arrive(cfg, usable, 3, "c")[0]).toMatchObject({ _tag: "Waiting" })
  })

  it("timeout breaks the barrier and names the others; a settled ticket is left alone", () => {
    const cfg = config<number>(3)
    const { state } = arriveAll(cfg, core.initial(), [["a", 1], ["b", 2]])
    const [decision, broken] = core.timeout(state, 1)
    expect(decision).toEqual({ _tag: "TimedOut", arrived: 2, others: ["a"] })
    expect(broken.broken).toBe("timeout")
    expect(core.timeout(broken, 0)).toEqual([{ _tag: "Settled" }, broken])
  })

  it("compacts withdrawn arrivals so the list stays proportional to live ones", () => {
    const cfg = config<number>(1_000_000)
    let state = core.initial<number, string>()
    for (let i = 0; i < 10_000; i++) {
      const [, next] = core.arrive(cfg, state, i, `w${i}`)
      state = core.withdraw(next, i)
    }
    expect(core.waiting(state)).toBe(0)
    expect(state.listed).toBeLessThanOrEqual(9)
  })

  it.prop(
    "random arrivals and withdrawals: a release always has exactly `parties` live arrivals, in order",
    [
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.oneof(fc.constant<"arrive">("arrive"), fc.nat({ max: 20 })), { maxLength: 80 })
    ],
    ([parties, ops]) => {
      const cfg = config<number>(parties)
      let state = core.initial<number, number>()
      // The model: tickets of live arrivals of the current generation, in arrival order.
      let live: Array<number> = []
      let nextTicket = 0
      for (const op of ops) {
        if (op === "arrive") {
          const ticket = nextTicket++
          const [decision, next] = core.arrive(cfg, state, ticket * 10, ticket)
          state = next
          live.push(ticket)
          if (live.length < parties) {
            expect(decision).toEqual({ _tag: "Waiting", ticket })
          } else {
            if (decision._tag !== "Tripped") throw new Error("expected a trip")
            expect(decision.released.map((r) => r.waiter)).toEqual(live.slice(0, -1))
            expect(decision.released.map((r) => r.position)).toEqual(live.slice(0, -1).map((_, i) => i))
            expect(decision.position).toBe(parties - 1)
            expect(decision.states).toEqual(live.map((t) => t * 10))
            live = []
          }
        } else if (live.length > 0) {
          const ticket = live[op % live.length]!
          state = core.withdraw(state, ticket)
          live = live.filter((t) => t !== ticket)
        }
        expect(core.waiting(state)).toBe(live.length)
        expect(core.waiting(state)).toBeLessThan(parties)
      }
    }
  )
})
