import { describe, expect, it } from "@effect/vitest"
import { validate } from "../../src/internal/circuitBreaker.js"

const configOf = (options: Parameters<typeof validate>[0]) => {
  const v = validate({ name: "test", ...options })
  if (v._tag === "Invalid") throw new Error(v.message)
  return v.config
}

describe("internal/circuitBreaker validate", () => {
  it("fills in the documented defaults", () => {
    const v = validate({})
    expect(v._tag).toBe("Valid")
    if (v._tag !== "Valid") return
    expect(v.config.resetTimeoutMillis).toBe(30_000)
    expect(v.config.halfOpenMaxCalls).toBe(5)
    expect(v.config.policy).toEqual({ _tag: "Consecutive", maxFailures: 3 })
    expect(v.config.name).toMatch(/^anonymous circuit breaker #\d+$/)
  })

  it("fills in failure-rate defaults", () => {
    expect(configOf({ policy: { window: { calls: 4 } } }).policy).toEqual({
      _tag: "FailureRate",
      window: { _tag: "Count", calls: 4 },
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      slowCallMillis: undefined,
      slowCallRateThreshold: 1
    })
    expect(configOf({ policy: { window: { duration: "1 minute" }, slowCallDuration: "2 seconds" } }).policy).toEqual({
      _tag: "FailureRate",
      window: { _tag: "Time", millis: 60_000 },
      minimumCalls: 10,
      failureRateThreshold: 0.5,
      slowCallMillis: 2000,
      slowCallRateThreshold: 1
    })
  })

  const invalid: ReadonlyArray<readonly [string, Parameters<typeof validate>[0], string]> = [
    ["maxFailures 0", { maxFailures: 0 }, "Expected maxFailures to be an integer >= 1, got 0"],
    ["maxFailures 1.5", { maxFailures: 1.5 }, "Expected maxFailures to be an integer >= 1, got 1.5"],
    ["halfOpenMaxCalls 0", { halfOpenMaxCalls: 0 }, "Expected halfOpenMaxCalls to be an integer >= 1, got 0"],
    ["resetTimeout 0", { resetTimeout: 0 }, "Expected resetTimeout to be a finite duration > 0, got 0"],
    ["resetTimeout infinite", { resetTimeout: "Infinity" as never }, "Expected resetTimeout to be"],
    ["policy bogus", { policy: "rate" as never }, `Expected policy to be "consecutive" or a failure-rate policy object, got "rate"`],
    [
      "maxFailures with failure-rate",
      { maxFailures: 2, policy: { window: { calls: 5 } } },
      "Expected maxFailures to be omitted with a failure-rate policy"
    ],
    ["window calls 0", { policy: { window: { calls: 0 } } }, "Expected policy.window.calls to be an integer >= 1, got 0"],
    ["window missing", { policy: {} as never }, "Expected policy.window to be { calls: number } or { duration: DurationInput }"],
    [
      "minimumCalls > calls",
      { policy: { window: { calls: 5 }, minimumCalls: 6 } },
      "Expected policy.minimumCalls to be at most policy.window.calls (5), got 6"
    ],
    [
      "threshold 0",
      { policy: { window: { calls: 5 }, failureRateThreshold: 0 } },
      "Expected policy.failureRateThreshold to be a number in (0, 1], got 0"
    ],
    [
      "slow threshold 1.5",
      { policy: { window: { calls: 5 }, slowCallRateThreshold: 1.5 } },
      "Expected policy.slowCallRateThreshold to be a number in (0, 1], got 1.5"
    ]
  ]
  for (const [label, options, message] of invalid) {
    it(`rejects ${label}`, () => {
      const v = validate(options)
      expect(v._tag).toBe("Invalid")
      if (v._tag === "Invalid") expect(v.message).toContain(message)
    })
  }
})

