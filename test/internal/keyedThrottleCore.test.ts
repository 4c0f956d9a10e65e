import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as core from "../../src/internal/keyedThrottleCore.js"

interface Item extends core.Timed {
  readonly id: number
}

const item = (id: number): Item => ({ id, heapIndex: -1, heapTime: 0 })

describe("TimerHeap", () => {
  it("pops in time order; re-timing moves an item either way", () => {
    const heap = new core.TimerHeap<Item>()
    const items = [5, 1, 4, 2, 3].map(item)
    for (const i of items) heap.push(i, i.id * 10)
    heap.push(items[0] as Item, 0) // 5 → earliest
    heap.push(items[1] as Item, 100) // 1 → latest
    const order: Array<number> = []
    for (let i = heap.pop(); i !== undefined; i = heap.pop()) {
      expect(i.heapIndex).toBe(-1)
      order.push(i.id)
    }
    expect(order).toEqual([5, 2, 3, 4, 1])
    expect(heap.size).toBe(0)
    expect(heap.peek()).toBeUndefined()
  })

  it.prop(
    "any sequence of pushes, re-timings and pops pops the earliest time first",
    [fc.array(fc.tuple(fc.nat(30), fc.integer({ min: 0, max: 1000 }), fc.boolean()), { maxLength: 200 })],
    ([ops]) => {
      const heap = new core.TimerHeap<Item>()
      const items = Array.from({ length: 31 }, (_, i) => item(i))
      const model = new Map<number, number>()
      for (const [id, time, pop] of ops) {
        if (pop) {
          const top = heap.pop()
          if (model.size === 0) {
            expect(top).toBeUndefined()
            continue
          }
          const earliest = Math.min(...model.values())
          expect(top?.heapTime).toBe(earliest)
          model.delete((top as Item).id)
        } else {
          heap.push(items[id] as Item, time)
          model.set(id, time)
        }
        expect(heap.size).toBe(model.size)
        for (const [i, t] of model) expect((items[i] as Item).heapTime).toBe(t)
      }
    }
  )
})

describe("deadline and decide", () => {
  it("deadline: idle time + ttl, or now + ttl while busy", () => {
    expect(core.deadline(1000, 500, 60_000)).toBe(61_000)
    expect(core.deadline(undefined, 500, 60_000)).toBe(60_500)
    expect(core.deadline(500, 500, 0)).toBe(500)
  })

  const probeOf = (value: number | undefined) => {
    let calls = 0
    return {
      probe: () => {
        calls++
        return value
      },
      calls: () => calls
    }
  }

  it.each([
    // refs, deadline, idleAt now, now, ttl, slack → verdict
    [1, 1000, 500, 2000, 100, 0, { _tag: "Held" }],
    [0, 3000, 500, 2000, 100, 0, { _tag: "Later", at: 3000 }],
    [0, 2000, 2000, 2000, 100, 0, { _tag: "Drop" }],
    [0, 2000, undefined, 2000, 100, 0, { _tag: "Later", at: 2100 }],
    [0, 2000, 2500, 2000, 100, 0, { _tag: "Later", at: 2600 }],
    // live clock: a deadline counts as passed only `slack` after it; the probe may read up to `slack` ahead
    [0, 2000, 2000, 2000.5, 100, 1, { _tag: "Later", at: 2001 }],
    [0, 2000, 2001.5, 2001, 100, 1, { _tag: "Drop" }],
    [0, 2000, 2002.5, 2001, 100, 1, { _tag: "Later", at: 2103.5 }]
  ] as const)("refs %i, deadline %d, idleAt %s at %d (ttl %d, slack %d)", (refs, dl, idle, now, ttl, slack, verdict) => {
    const { calls, probe } = probeOf(idle)
    expect(core.decide(refs, dl, probe, now, ttl, slack)).toEqual(verdict)
    // The throttle is only asked when the deadline has passed and nobody holds the key.
    expect(calls()).toBe(refs === 0 && dl + slack <= now ? 1 : 0)
  })
})
