import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as shell from "../../src/internal/taskThrottler.js"
import * as core from "../../src/internal/taskThrottlerCore.js"
import { ThrottledError } from "../../src/TaskThrottler.js"

describe("TaskThrottler core: admission", () => {
  it("perWindow 2 / 1000 ms: due times of successive starts", () => {
    const state = core.makeAdmission(2, 1000)
    const log: Array<number> = []
    let now = 0
    for (let i = 0; i < 5; i++) {
      now = core.admissionDue(state, now)
      core.recordStart(state, now)
      log.push(now)
    }
    expect(log).toEqual([0, 0, 1000, 1000, 2000])
  })

  it("a pause holds admissions; a shorter later pause does not shorten it", () => {
    const state = core.makeAdmission(10, 1000)
    core.pause(state, 100, 1000)
    expect(core.admissionDue(state, 200)).toBe(1100)
    core.pause(state, 200, 300)
    expect(core.admissionDue(state, 200)).toBe(1100)
    expect(core.admissionDue(state, 1500)).toBe(1500)
  })

  it.prop(
    "starts made at their due times never put more than perWindow in any window",
    [fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 60 })],
    ([perWindow, window, gaps]) => {
      const state = core.makeAdmission(perWindow, window)
      const starts: Array<number> = []
      let now = 0
      for (const gap of gaps) {
        now = core.admissionDue(state, now + gap)
        core.recordStart(state, now)
        starts.push(now)
      }
      for (let i = perWindow; i < starts.length; i++) {
        expect(starts[i]! - starts[i - perWindow]!).toBeGreaterThanOrEqual(window)
      }
    }
  )
})

describe("TaskThrottler core: work queue", () => {
  it("retries go to the front (latest first), inputs follow in order, pulled lazily", () => {
    const pulled: Array<string> = []
    function* inputs() {
      for (const x of ["a", "b", "c"]) {
        pulled.push(x)
        yield x
      }
    }
    const queue = core.makeWorkQueue(inputs())
    expect(pulled).toEqual([])
    expect(core.hasWork(queue)).toBe(true)
    expect(core.takeWork(queue)).toEqual({ index: 0, effect: "a", retries: 0 })
    core.pushFront(queue, { index: 0, effect: "a'", retries: 1 })
    core.pushFront(queue, { index: 7, effect: "z'", retries: 1 })
    expect(core.takeWork(queue).effect).toBe("z'")
    expect(core.takeWork(queue).effect).toBe("a'")
    expect(pulled).toEqual(["a"])
    expect(core.takeWork(queue)).toEqual({ index: 1, effect: "b", retries: 0 })
    expect(core.takeWork(queue)).toEqual({ index: 2, effect: "c", retries: 0 })
    expect(core.hasWork(queue)).toBe(false)
  })

  it("classify: ThrottledError is retried until maxRetries, with retryAfter or the window as pause", () => {
    const plain = new ThrottledError({ retry: Effect.void })
    const after = new ThrottledError({ retry: Effect.void, retryAfter: "250 millis" })
    expect(shell.classify(plain, 0, 2, 1000)).toEqual({ _tag: "Retry", pause: 1000 })
    expect(shell.classify(after, 1, 2, 1000)).toEqual({ _tag: "Retry", pause: 250 })
    expect(shell.classify(plain, 2, 2, 1000)).toEqual({ _tag: "GaveUp", pause: 1000 })
    expect(shell.classify(new Error("x"), 0, 2, 1000)).toEqual({ _tag: "Failed" })
  })

  it.each([
    [undefined, 0, 2, { _tag: "Retry", pause: 1000 }],
    [250, 1, 2, { _tag: "Retry", pause: 250 }],
    [undefined, 2, 2, { _tag: "GaveUp", pause: 1000 }],
    [0, 0, 0, { _tag: "GaveUp", pause: 0 }]
  ] as const)("classifyThrottled(retryAfter %s, retries %s, maxRetries %s) is %o", (after, retries, max, verdict) => {
    expect(core.classifyThrottled(after, retries, max, 1000)).toEqual(verdict)
  })
})
