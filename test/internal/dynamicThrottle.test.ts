import { describe, expect, it } from "@effect/vitest"
import { validate } from "../../src/internal/dynamicThrottle.js"

const configOf = (options: Parameters<typeof validate>[0]) => {
  const v = validate(options)
  if (v._tag === "Invalid") throw new Error(v.message)
  return v.config
}

describe("internal/dynamicThrottle validate", () => {
  it("fills in the documented defaults", () => {
    expect(configOf({ initialRate: 1 })).toEqual({
      initialRate: 1,
      minRate: 0.01,
      maxRate: 100,
      window: 100,
      upperBound: 0.75,
      lowerBound: 0.25,
      increaseFactor: 1.25,
      decreaseFactor: 0.75,
      jitter: 0.2,
      name: "default",
      metrics: true,
      isFailure: undefined
    })
  })

  const invalid: ReadonlyArray<readonly [Parameters<typeof validate>[0], string]> = [
    [{ initialRate: 0 }, "Expected initialRate to be a finite number > 0, got 0"],
    [{ initialRate: Number.NaN }, "Expected initialRate to be a finite number > 0, got NaN"],
    [{ initialRate: 1, minRate: -1 }, "Expected minRate to be a finite number > 0, got -1"],
    [{ initialRate: 1, maxRate: Infinity }, "Expected maxRate to be a finite number > 0, got Infinity"],
    [{ initialRate: 200 }, "Expected 0 < minRate <= initialRate <= maxRate, got minRate 0.01, initialRate 200, maxRate 100"],
    [{ initialRate: 1, minRate: 2, maxRate: 3 }, "Expected 0 < minRate <= initialRate <= maxRate, got minRate 2, initialRate 1, maxRate 3"],
    [{ initialRate: 1, window: 0 }, "Expected window to be an integer >= 1, got 0"],
    [{ initialRate: 1, window: 2.5 }, "Expected window to be an integer >= 1, got 2.5"],
    [{ initialRate: 1, lowerBound: 0.8 }, "Expected 0 <= lowerBound <= upperBound <= 1, got lowerBound 0.8, upperBound 0.75"],
    [{ initialRate: 1, upperBound: 1.5 }, "Expected 0 <= lowerBound <= upperBound <= 1, got lowerBound 0.25, upperBound 1.5"],
    [{ initialRate: 1, increaseFactor: 0.5 }, "Expected increaseFactor to be a finite number >= 1, got 0.5"],
    [{ initialRate: 1, decreaseFactor: 0 }, "Expected decreaseFactor to be a number in (0, 1], got 0"],
    [{ initialRate: 1, decreaseFactor: 1.5 }, "Expected decreaseFactor to be a number in (0, 1], got 1.5"],
    [{ initialRate: 1, jitter: 1 }, "Expected jitter to be a number in [0, 1), got 1"],
    [{ initialRate: 1, jitter: -0.1 }, "Expected jitter to be a number in [0, 1), got -0.1"]
  ]
  for (const [options, message] of invalid) {
    it(`rejects ${JSON.stringify(options)}`, () => {
      const v = validate(options)
      expect(v._tag === "Invalid" && v.message).toBe(message)
    })
  }
})

