/**
 * The TypeScript core of the Redis throttle (`redisCore.ts`), no Redis: the hand-written tables, and properties
 * of the reservation log (never more than `limit` in any window, FIFO, cancellation leaves no over-admission).
 * `script.test.ts` runs the same tables against the Lua script.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/redisCore.js"
import { parse, runCore, tables } from "./tables.js"

describe("redisCore", () => {
  for (const table of tables) {
    it(table.name, () => {
      const replies = runCore(table)
      table.steps.forEach((step, i) => {
        if (step.expect !== undefined) expect([i, replies[i]]).toEqual([i, step.expect])
      })
    })
  }

  it.prop(
    "reservations never put more than limit into any window, and are granted in arrival order",
    [
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 700 }),
          n: fc.integer({ min: 1, max: 3 }),
          cancel: fc.boolean(),
          cancelAfter: fc.integer({ min: 0, max: 2000 })
        }),
        { minLength: 1, maxLength: 60 }
      )
    ],
    ([ops]) => {
      const config: core.Config = {
        limits: [3, 5],
        periods: [1000, 2500],
        interval: 0,
        burst: 0,
        maxConcurrent: 0,
        leaseTtl: 30_000
      }
      const state = core.makeState(2)
      let now = 0
      const live = new Map<string, { at: number; n: number; cancelAt?: number; args: Array<string> }>()
      let lastAt = Number.NEGATIVE_INFINITY
      const cancels: Array<{ at: number; id: string }> = []
      ops.forEach((op, i) => {
        now += op.gap
        // cancellations due by now, in time order (only before their grant time: an interrupted waiter)
        cancels.sort((a, b) => a.at - b.at)
        while (cancels.length > 0 && (cancels[0] as { at: number }).at <= now) {
          const c = cancels.shift() as { at: number; id: string }
          const r = live.get(c.id)
          if (r !== undefined && c.at < r.at) {
            core.run(config, state, c.at, "cancel", r.args)
            live.delete(c.id)
          }
        }
        const id = `x${i}`
        const reply = core.run(config, state, now, "acquire", core.acquireArgs([{ n: op.n, id, maxWait: -1, mode: "w" }]))
          .reply
        const outcome = core.decodeOutcome(reply[1] as core.Reply, "w", core.replyNumber(reply[0]))
        if (outcome._tag !== "Reserved") throw new Error("expected a reservation")
        // FIFO: never before an earlier live reservation
        expect(outcome.at).toBeGreaterThanOrEqual(now)
        for (const r of live.values()) if (r.at > outcome.at) expect.fail("reserved before an earlier arrival")
        lastAt = Math.max(lastAt, outcome.at)
        live.set(id, { at: outcome.at, n: op.n, args: core.cancelArgs(op.n, id, outcome, "") })
        if (op.cancel) cancels.push({ at: now + op.cancelAfter, id })
      })
      // the window bound over every granted (not cancelled) reservation
      const grants = [...live.values()].sort((a, b) => a.at - b.at)
      config.limits.forEach((limit, w) => {
        const period = config.periods[w] as number
        for (const g of grants) {
          const inWindow = grants.filter((h) => h.at >= g.at && h.at < g.at + period).reduce((s, h) => s + h.n, 0)
          expect(inWindow).toBeLessThanOrEqual(limit)
        }
      })
      expect(lastAt).toBeGreaterThanOrEqual(0)
    }
  )

  it("parse reads numbers of replies", () => {
    expect(parse(["1", ["ok", "2.5", "inf"]])).toEqual([1, ["ok", 2.5, Infinity]])
  })
})
