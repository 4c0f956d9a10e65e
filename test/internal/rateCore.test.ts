import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as core from "../../src/internal/rateCore.js"

const COUNT = "the count before the unit"

describe("rateCore.parseOne: every rejected string has its own reason", () => {
  const rejected: ReadonlyArray<readonly [string, string]> = [
    ["0/s", "limit must be a positive integer, got 0"],
    ["000/s", "limit must be a positive integer, got 0"],
    ["-1/s", "limit must be a positive integer, got -1"],
    ["1.5/s", "limit must be an integer, got 1.5"],
    ["1e3/s", `limit must be written with the digits 0-9, got "1e3"`],
    ["0x10/s", `limit must be written with the digits 0-9, got "0x10"`],
    ["s/1", `limit must be a positive integer, got "s"`],
    ["99999999999999999999/s", "limit must be at most 9007199254740991, got 99999999999999999999"],
    ["3/0.5s", `${COUNT} must be an integer, got 0.5`],
    ["1/1.5s", `${COUNT} must be an integer, got 1.5`],
    ["1/0ms", `${COUNT} must be a positive integer, got 0`],
    ["1/0s", `${COUNT} must be a positive integer, got 0`],
    ["1/-3s", `${COUNT} must be a positive integer, got -3`],
    [" 3/s", "leading whitespace is not allowed"],
    ["\t3/s", "leading whitespace is not allowed"],
    ["3/s ", "trailing whitespace is not allowed"],
    ["1/s extra", `unexpected text after "1/s": " extra"`],
    ["1 /s", `whitespace is not allowed inside a rate (after "1")`],
    ["1/ s", `whitespace is not allowed inside a rate (after "1/")`],
    ["4/s 60/min", `rates in a list must be separated by commas, e.g. "4/s, 60/min"`],
    ["1/x", `unknown unit "x"`],
    ["3/ss", `unknown unit "ss"`],
    ["3/fortnight", `unknown unit "fortnight"`],
    ["1/3", `missing unit after "3"`],
    ["1/", `missing unit after "/"`],
    ["/s", `missing limit before "/"`],
    ["3s", `missing "/" between the limit and the unit`],
    ["1//s", `expected exactly one "/"`],
    ["1/s/s", `expected exactly one "/"`],
    ["", "the rate is empty"],
    ["4/s,60/min", "a list of rates is not allowed here: give one rate per item"],
    ["1/99999999999999d", "the period is too long: 99999999999999d is more than 9007199254740991 ms"]
  ]
  for (const [input, reason] of rejected) {
    it(`${JSON.stringify(input)} → ${reason}`, () => {
      expect(core.parseOne(input)).toBe(reason)
    })
  }

  it("accepts the grammar, units in any letter case, leading zeros", () => {
    expect(core.parseOne("3/s")).toEqual({ limit: 3, periodMillis: 1000 })
    expect(core.parseOne("01/010SeC")).toEqual({ limit: 1, periodMillis: 10_000 })
    expect(core.parseOne("12/37m")).toEqual({ limit: 12, periodMillis: 37 * 60_000 })
    expect(core.parseOne("1/250ms")).toEqual({ limit: 1, periodMillis: 250 })
  })
})

describe("rateCore.parseList", () => {
  const accepted: ReadonlyArray<readonly [string, ReadonlyArray<readonly [number, number]>]> = [
    ["3/s", [[3, 1000]]],
    ["4/s, 60/min", [[4, 1000], [60, 60_000]]],
    ["4/s,60/min", [[4, 1000], [60, 60_000]]],
    ["4/s ,  60/min , 1000/d", [[4, 1000], [60, 60_000], [1000, 86_400_000]]],
    ["4/s,\n\t60/min", [[4, 1000], [60, 60_000]]]
  ]
  for (const [input, rates] of accepted) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      expect(core.parseList(input)).toEqual(rates.map(([limit, periodMillis]) => ({ limit, periodMillis })))
    })
  }

  const rejected: ReadonlyArray<readonly [string, string]> = [
    ["4/s,", `item 2 of 2 is empty (a list is "<rate>, <rate>", with no empty items)`],
    [",4/s", `item 1 of 2 is empty (a list is "<rate>, <rate>", with no empty items)`],
    ["4/s, , 1/h", `item 2 of 3 is empty (a list is "<rate>, <rate>", with no empty items)`],
    [",", `item 1 of 2 is empty (a list is "<rate>, <rate>", with no empty items)`],
    ["4/s 60/min", `rates in a list must be separated by commas, e.g. "4/s, 60/min"`],
    ["4/s, 0/min", `item 2 of 2, "0/min": limit must be a positive integer, got 0`],
    [" 4/s, 60/min", `item 1 of 2, " 4/s": leading whitespace is not allowed`],
    ["4/s, 60/min ", `item 2 of 2, "60/min ": trailing whitespace is not allowed`],
    ["4/s, 60/min 1/h", `item 2 of 2, "60/min 1/h": rates in a list must be separated by commas, e.g. "60/min, 1/h"`],
    ["", "the rate is empty"]
  ]
  for (const [input, reason] of rejected) {
    it(`rejects ${JSON.stringify(input)}: ${reason}`, () => {
      expect(core.parseList(input)).toBe(reason)
    })
  }

  const rate = fc.record({
    limit: fc.integer({ min: 1, max: 100_000 }),
    periodMillis: fc.oneof(
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.integer({ min: 1, max: 1000 }).map((k) => k * 1000),
      fc.integer({ min: 1, max: 100 }).map((k) => k * 3_600_000)
    )
  })
  const spaces = fc.stringOf(fc.constantFrom(" ", "\t", "\n"), { maxLength: 3 })

  it.prop(
    "a formatted list, with any whitespace around its commas, parses back to the same rates",
    [fc.array(fc.tuple(rate, spaces, spaces), { minLength: 1, maxLength: 5 })],
    ([items]) => {
      const text = items
        .map(([r, before, after], i) =>
          `${i === 0 ? "" : after}${core.formatMillis(r.limit, r.periodMillis)}${i === items.length - 1 ? "" : before}`
        )
        .join(",")
      expect(core.parseList(text)).toEqual(items.map(([r]) => r))
    }
  )

  it.prop("an empty item anywhere is reported with its position", [fc.array(rate, { minLength: 1, maxLength: 4 }), fc.nat()], ([rates, at]) => {
    const texts = rates.map((r) => core.formatMillis(r.limit, r.periodMillis) ?? "")
    const position = at % (texts.length + 1)
    texts.splice(position, 0, "")
    expect(core.parseList(texts.join(", "))).toBe(
      `item ${position + 1} of ${texts.length} is empty (a list is "<rate>, <rate>", with no empty items)`
    )
  })

  it.prop("parseList never throws; it returns a non-empty array or a non-empty reason", [fc.string({ maxLength: 30 })], ([text]) => {
    const result = core.parseList(text)
    if (typeof result === "string") expect(result.length).toBeGreaterThan(0)
    else expect(result.length).toBeGreaterThan(0)
  })
})

describe("rateCore.formatMillis", () => {
  it("uses the largest unit that divides the period; no string form below a millisecond", () => {
    expect(core.formatMillis(3, 1000)).toBe("3/s")
    expect(core.formatMillis(1, 3000)).toBe("1/3s")
    expect(core.formatMillis(12, 37 * 60_000)).toBe("12/37m")
    expect(core.formatMillis(8, 3 * 86_400_000)).toBe("8/3d")
    expect(core.formatMillis(1, 250)).toBe("1/250ms")
    expect(core.formatMillis(1, 90_000)).toBe("1/90s")
    expect(core.formatMillis(1, 0.5)).toBeUndefined()
    expect(core.formatMillis(1, 0)).toBeUndefined()
  })
})
