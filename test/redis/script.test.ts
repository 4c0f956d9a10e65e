/**
 * The Lua script on a real Redis against the same tables as the TypeScript core (`core.test.ts`): the expected
 * replies, and random operation sequences whose replies must equal the core's, number for number. The script gets
 * each step's time in ARGV (the clock injection of the tests), so both run on the same clock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as core from "../../src/internal/redisCore.js"
import { SCRIPT } from "../../src/internal/redisScript.js"
import { redisAvailable } from "./server.js"
import { freshKey, useServer } from "./support.js"
import { parse, randomTable, runCore, type Table, tables } from "./tables.js"

describe.skipIf(!redisAvailable)("redisScript (Lua) on a real Redis", () => {
  const { admin } = useServer()

  const runScript = async (table: Table): Promise<Array<unknown>> => {
    const keys = core.keys("effect-throttles", freshKey("script"), table.config.limits.length)
    const out: Array<unknown> = []
    for (const step of table.steps) {
      const argv = core.argv(table.config, step.op, step.now, undefined, "wake", step.args)
      out.push(parse(await admin().eval(SCRIPT, keys.length, ...keys, ...argv)))
    }
    return out
  }

  for (const table of tables) {
    it(table.name, async () => {
      const replies = await runScript(table)
      table.steps.forEach((step, i) => {
        if (step.expect !== undefined) expect([i, replies[i]]).toEqual([i, step.expect])
      })
      expect(replies).toEqual(runCore(table))
    })
  }

  const configs: ReadonlyArray<core.Config> = [
    { limits: [3], periods: [1000], interval: 0, burst: 0, maxConcurrent: 0, leaseTtl: 30_000 },
    { limits: [4, 10], periods: [1000, 5000], interval: 0, burst: 0, maxConcurrent: 0, leaseTtl: 30_000 },
    { limits: [5], periods: [1000], interval: 200, burst: 2, maxConcurrent: 0, leaseTtl: 30_000 },
    { limits: [6, 20], periods: [1000, 4000], interval: 0, burst: 0, maxConcurrent: 3, leaseTtl: 1500 },
    { limits: [3, 8], periods: [1000, 3000], interval: 0, burst: 0, maxConcurrent: 0, leaseTtl: 1500, measure: "release" },
    { limits: [4], periods: [1000], interval: 250, burst: 1, maxConcurrent: 2, leaseTtl: 2000, measure: "release" }
  ]
  for (const [c, config] of configs.entries()) {
    for (const seed of [1, 2, 3]) {
      it(`random operations #${seed} on config ${c}: the same replies as the core`, async () => {
        const table = randomTable(seed * 7919 + c, config, 120)
        const replies = await runScript(table)
        const expected = runCore(table)
        replies.forEach((reply, i) => expect([i, table.steps[i]?.op, reply]).toEqual([i, table.steps[i]?.op, expected[i]]))
      })
    }
  }

  it("measure \"release\": every key outlives a lease that is never renewed by a period (its slot's end)", async () => {
    // leaseTtl 1500 ms, period 2000 ms: a holder that dies at once keeps its slot until 1500 + 2000 from now, even
    // if nobody calls the script again before then
    const config: core.Config = {
      limits: [1],
      periods: [2000],
      interval: 0,
      burst: 0,
      maxConcurrent: 0,
      leaseTtl: 1500,
      measure: "release"
    }
    const keys = core.keys("effect-throttles", freshKey("release-ttl"), 1)
    const args = core.acquireArgs([{ n: 1, id: "a", maxWait: -1, mode: "w" }])
    expect(parse(await admin().eval(SCRIPT, keys.length, ...keys, ...core.argv(config, "acquire", undefined, undefined, "w", args))))
      .toEqual([expect.any(Number), "g"])
    for (const key of [keys[0] as string, keys[1] as string]) {
      expect([key, await admin().pttl(key)]).toEqual([key, expect.toSatisfy((ms: number) => ms > 3400)])
    }
  })

  it("every key outlives the last reservation, also when a later call records nothing", async () => {
    // 1/s: eleven callers in one call are reserved at 0, 1000, …, 10000; the records of the last must live until
    // 10000 + the longest period, whatever the calls in between do (a call that records nothing reads the time of
    // the last reservation from the meta hash, not from the sorted sets)
    const config: core.Config = { limits: [1, 100], periods: [1000, 60_000], interval: 0, burst: 0, maxConcurrent: 0, leaseTtl: 1000 }
    const keys = core.keys("effect-throttles", freshKey("tail-ttl"), 2)
    const call = (op: core.Op, now: number, args: ReadonlyArray<string>) =>
      admin().eval(SCRIPT, keys.length, ...keys, ...core.argv(config, op, now, undefined, "w", args))
    const eleven = Array.from({ length: 11 }, (_, i) => ({ n: 1, id: `r${i}`, maxWait: -1, mode: "w" as const }))
    const first = parse(await call("acquire", 0, core.acquireArgs(eleven))) as Array<unknown>
    expect(first.slice(-1)).toEqual([["ok", 10000, 10000, 0, 11, 11]])
    // stats at 5000: the five reservations after now are waiting, and the TTL is set again from the last one (its
    // record lives until 10000 + 60 s)
    expect(parse(await call("stats", 5000, [])) as Array<unknown>).toEqual([5000, 5, 0, 0, 0])
    for (const key of [keys[0] as string, keys[4] as string, keys[5] as string]) {
      expect([key, await admin().pttl(key)]).toEqual([key, expect.toSatisfy((ms: number) => ms > 10000 + 60_000 - 5000)])
    }
  })

  it("the fast path keeps the TTL it set while it lasts, and sets it again when it creates a window's key", async () => {
    // 100 ms and 1 s windows, leaseTtl 30 s (unused: no leases): every key lives 30 s + 1 s after the last call that
    // set their TTL, and the fast path sets it with 1 s to spare; a window emptied by its period is deleted by
    // Redis, and the call that records in it again creates its key
    const config: core.Config = { limits: [3, 10], periods: [100, 1000], interval: 0, burst: 0, maxConcurrent: 0, leaseTtl: 30_000 }
    const keys = core.keys("effect-throttles", freshKey("fast-ttl"), 2)
    const acquire = (now: number) =>
      admin().eval(
        SCRIPT,
        keys.length,
        ...keys,
        ...core.argv(config, "acquire", now, undefined, "w", core.acquireArgs([{ n: 1, id: `a${now}`, maxWait: -1, mode: "w" }]))
      )
    const state = async () => {
      const out: Array<unknown> = []
      for (const key of [keys[0], keys[4], keys[5]] as Array<string>) out.push([key, await admin().pttl(key)])
      return { expiresAt: Number(await admin().hget(keys[0] as string, "x")), pttls: out }
    }
    const hasTtl = (low: number) => expect.toSatisfy((ms: number) => ms > low && ms <= 32_000)
    expect(parse(await acquire(0))).toEqual([0, "g"])
    expect(await state()).toEqual({
      expiresAt: 32_000,
      pttls: [[keys[0], hasTtl(31_000)], [keys[4], hasTtl(31_000)], [keys[5], hasTtl(31_000)]]
    })
    // 50 ms later: the TTL set at 0 lasts until 32 s, past 50 ms + 31 s: kept
    expect(parse(await acquire(50))).toEqual([50, "g"])
    expect((await state()).expiresAt).toBe(32_000)
    // 250 ms: the 100 ms window has emptied (its key is gone) and gets a record again: every TTL is set anew
    expect(parse(await acquire(250))).toEqual([250, "g"])
    expect(await state()).toEqual({
      expiresAt: 32_250,
      pttls: [[keys[0], hasTtl(31_000)], [keys[4], hasTtl(31_000)], [keys[5], hasTtl(31_000)]]
    })
  })

  it("a stale call (past its deadline on the server's clock) does nothing", async () => {
    const config = configs[0] as core.Config
    const keys = core.keys("effect-throttles", freshKey("stale"), 1)
    const args = core.acquireArgs([{ n: 1, id: "a", maxWait: -1, mode: "w" }])
    const reply = await admin().eval(SCRIPT, keys.length, ...keys, ...core.argv(config, "acquire", 2000, 1999, "w", args))
    expect(parse(reply)).toEqual(["stale", 2000])
    expect(await admin().exists(...keys)).toBe(0)
  })
})
