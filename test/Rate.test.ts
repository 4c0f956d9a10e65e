import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, FastCheck as fc } from "effect"
import * as Rate from "../src/Rate.js"

const ms = (rate: Rate.Rate) => ({ limit: rate.limit, period: Duration.toMillis(rate.period) })

describe("Rate.parse", () => {
  const valid: ReadonlyArray<readonly [string, number, number]> = [
    ["3/s", 3, 1_000],
    ["1/3s", 1, 3_000],
    ["24/8s", 24, 8_000],
    ["12/37m", 12, 37 * 60_000],
    ["8/3d", 8, 3 * 86_400_000],
    ["5/second", 5, 1_000],
    ["5/seconds", 5, 1_000],
    ["4/sec", 4, 1_000],
    ["2/Sec", 2, 1_000],
    ["4/S", 4, 1_000],
    ["5/m", 5, 60_000],
    ["2/min", 2, 60_000],
    ["2/minute", 2, 60_000],
    ["2/minutes", 2, 60_000],
    ["6/h", 6, 3_600_000],
    ["3/hour", 3, 3_600_000],
    ["3/hours", 3, 3_600_000],
    ["1/5h", 1, 5 * 3_600_000],
    ["7/d", 7, 86_400_000],
    ["4/day", 4, 86_400_000],
    ["4/days", 4, 86_400_000],
    ["1/250ms", 1, 250],
    ["100/MS", 100, 1],
    ["01/s", 1, 1_000],
    ["10/010s", 10, 10_000]
  ]
  for (const [input, limit, period] of valid) {
    it.effect(`accepts ${JSON.stringify(input)}`, () =>
      Effect.gen(function*() {
        expect(ms(yield* Rate.parse(input))).toEqual({ limit, period })
        expect(ms(Rate.unsafeParse(input))).toEqual({ limit, period })
      }))
  }

  const invalid = ["0/s", "1/0s", "1/x", "1.5/s", " 1/s", "1/s ", "1/s extra", "1/3", "", "/s", "1/", "s/1", "-1/s",
    "1/-3s", "1/1.5s", "1//s", "1/s/s", "3/ss", "1 /s", "1/ s", "1e3/s", "0x10/s", "99999999999999999999/s"]
  for (const input of invalid) {
    it.effect(`rejects ${JSON.stringify(input)} with InvalidRateError`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Rate.parse(input))
        expect(error._tag).toBe("InvalidRateError")
        expect(error.input).toBe(input)
        expect(error.message).toBe(
          `Invalid rate ${JSON.stringify(input)}: expected "<limit>/<unit>" or "<limit>/<count><unit>", ` +
            `e.g. "3/s", "1/3s", "12/37m", or { limit, period }; units: ms, s, sec, second(s), m, min, minute(s), ` +
            `h, hour(s), d, day(s)`
        )
        expect(() => Rate.unsafeParse(input)).toThrow(Rate.InvalidRateError)
      }))
  }

  it.prop("parse never throws and fails only with InvalidRateError", [fc.string({ maxLength: 24 })], ([input]) => {
    const exit = Effect.runSyncExit(Rate.parse(input))
    if (Exit.isFailure(exit)) {
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(failure).toBeInstanceOf(Rate.InvalidRateError)
    } else {
      expect(Number.isSafeInteger(exit.value.limit) && exit.value.limit >= 1).toBe(true)
      expect(Duration.toMillis(exit.value.period)).toBeGreaterThan(0)
    }
  })

  it.prop(
    "rate-shaped strings parse exactly when limit and count are positive",
    [fc.nat({ max: 1000 }), fc.option(fc.nat({ max: 1000 })), fc.constantFrom("ms", "s", "sec", "Second", "MIN", "hours", "d", "x", "sx")],
    ([limit, count, unit]) => {
      const input = `${limit}/${count ?? ""}${unit}`
      const exit = Effect.runSyncExit(Rate.parse(input))
      const shouldPass = limit > 0 && (count === null || count > 0) && !["x", "sx"].includes(unit)
      expect(Exit.isSuccess(exit)).toBe(shouldPass)
    }
  )
})

describe("Rate.make, decode, format", () => {
  it("make accepts any DurationInput and keeps the burst", () => {
    expect(ms(Rate.make(24, "8 seconds"))).toEqual({ limit: 24, period: 8000 })
    expect(ms(Rate.make(3, Duration.minutes(1)))).toEqual({ limit: 3, period: 60_000 })
  })

  it("make throws InvalidRateError for a bad limit or period", () => {
    expect(() => Rate.make(0, "1 second")).toThrow("expected limit to be a positive integer, got 0")
    expect(() => Rate.make(1.5, "1 second")).toThrow(Rate.InvalidRateError)
    expect(() => Rate.make(1, Duration.zero)).toThrow("expected period to be a positive finite duration, got 0")
    expect(() => Rate.make(1, Duration.infinity)).toThrow(Rate.InvalidRateError)
  })

  it.effect("decode accepts strings, Rates and objects; rejects garbage with InvalidRateError", () =>
    Effect.gen(function*() {
      expect(ms(yield* Rate.decode("3/s"))).toEqual({ limit: 3, period: 1000 })
      expect(ms(yield* Rate.decode({ limit: 2, period: "500 millis" }))).toEqual({ limit: 2, period: 500 })
      expect(ms(yield* Rate.decode(Rate.make(5, "1 minute")))).toEqual({ limit: 5, period: 60_000 })
      const bad = yield* Effect.flip(Rate.decode({ limit: -1, period: "1 second" }))
      expect(bad.message).toContain("{ limit: -1, period: 1 second } (expected limit to be a positive integer, got -1)")
      const notDuration = yield* Effect.flip(Rate.decode({ limit: 1, period: "soon" as Duration.DurationInput }))
      expect(notDuration._tag).toBe("InvalidRateError")
    }))

  it("format uses the largest unit that divides the period", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["3/s", "3/s"],
      ["1/3s", "1/3s"],
      ["12/37m", "12/37m"],
      ["8/3d", "8/3d"],
      ["1/250ms", "1/250ms"],
      ["5/60s", "5/m"],
      ["2/1000ms", "2/s"],
      ["1/90s", "1/90s"],
      ["4/24h", "4/d"],
      ["4/Second", "4/s"]
    ]
    for (const [input, expected] of cases) expect(Rate.format(Rate.unsafeParse(input))).toBe(expected)
  })

  it.prop("format is a right inverse of parse", [fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 5_000_000 })], ([limit, period]) => {
    const rate = Rate.make(limit, Duration.millis(period))
    expect(ms(Rate.unsafeParse(Rate.format(rate)))).toEqual({ limit, period })
  })

  it("interval is period / limit", () => {
    expect(Duration.toMillis(Rate.interval(Rate.unsafeParse("4/s")))).toBe(250)
  })
})
