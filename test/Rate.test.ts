import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Config, ConfigError, ConfigProvider, Duration, Effect, Exit, FastCheck as fc, Layer } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Rate from "../src/Rate.js"
import { Throttle, ThrottleLive } from "../src/Throttle.js"

const ms = (rate: Rate.Rate) => ({ limit: rate.limit, period: Duration.toMillis(rate.period) })

/** The single rate `parse` gives for a string without a comma (fails the test if it gave a list). */
const one = (parsed: Rate.Rate | NonEmptyReadonlyArray<Rate.Rate>): Rate.Rate => {
  if (Array.isArray(parsed)) throw new Error(`expected one rate, got a list of ${parsed.length}`)
  return parsed as Rate.Rate
}

const GRAMMAR = `expected "<limit>/<unit>" or "<limit>/<count><unit>", e.g. "3/s", "1/3s", "12/37m", or { limit, period }`
const UNITS = `units: ms, s, sec, second(s), m, min, minute(s), h, hour(s), d, day(s)`
const LIST = `, or several separated by commas, e.g. "4/s, 60/min"`
/** The full message for a rejected input and its reason. */
const messageFor = (shown: string, reason: string, list = false) =>
  `Invalid rate ${shown} (${reason}): ${GRAMMAR}${list ? LIST : ""}; ${UNITS}`
const COUNT = "the count before the unit"

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
        expect(ms(one(yield* Rate.parse(input)))).toEqual({ limit, period })
        expect(ms(one(Rate.unsafeParse(input)))).toEqual({ limit, period })
      }))
  }

  // Every bad input from the issues, with the specific reason the message gives for it.
  const invalid: ReadonlyArray<readonly [string, string]> = [
    ["0/s", "limit must be a positive integer, got 0"],
    ["1/0s", `${COUNT} must be a positive integer, got 0`],
    ["1/x", `unknown unit "x"`],
    ["1.5/s", "limit must be an integer, got 1.5"],
    [" 1/s", "leading whitespace is not allowed"],
    ["1/s ", "trailing whitespace is not allowed"],
    ["1/s extra", `unexpected text after "1/s": " extra"`],
    ["1/3", `missing unit after "3"`],
    ["", "the rate is empty"],
    ["/s", `missing limit before "/"`],
    ["1/", `missing unit after "/"`],
    ["s/1", `limit must be a positive integer, got "s"`],
    ["-1/s", "limit must be a positive integer, got -1"],
    ["1/-3s", `${COUNT} must be a positive integer, got -3`],
    ["1/1.5s", `${COUNT} must be an integer, got 1.5`],
    ["1//s", `expected exactly one "/"`],
    ["1/s/s", `expected exactly one "/"`],
    ["3/ss", `unknown unit "ss"`],
    ["1 /s", `whitespace is not allowed inside a rate (after "1")`],
    ["1/ s", `whitespace is not allowed inside a rate (after "1/")`],
    ["1e3/s", `limit must be written with the digits 0-9, got "1e3"`],
    ["0x10/s", `limit must be written with the digits 0-9, got "0x10"`],
    ["99999999999999999999/s", "limit must be at most 9007199254740991, got 99999999999999999999"],
    ["3/0.5s", `${COUNT} must be an integer, got 0.5`],
    ["1/0ms", `${COUNT} must be a positive integer, got 0`],
    [" 3/s", "leading whitespace is not allowed"],
    ["3/fortnight", `unknown unit "fortnight"`],
    ["4/s 60/min", `rates in a list must be separated by commas, e.g. "4/s, 60/min"`]
  ]
  for (const [input, reason] of invalid) {
    it.effect(`rejects ${JSON.stringify(input)} with InvalidRateError: ${reason}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Rate.parse(input))
        expect(error._tag).toBe("InvalidRateError")
        expect(error.input).toBe(input)
        expect(error.reason).toBe(reason)
        expect(error.message).toBe(messageFor(JSON.stringify(input), reason))
        expect(() => Rate.unsafeParse(input)).toThrow(Rate.InvalidRateError)
        expect((yield* Effect.flip(Rate.parseAll(input))).message).toBe(error.message)
      }))
  }

  it.prop("parse never throws and fails only with InvalidRateError", [fc.string({ maxLength: 24 })], ([input]) => {
    const exit = Effect.runSyncExit(Rate.parse(input))
    if (Exit.isFailure(exit)) {
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(failure).toBeInstanceOf(Rate.InvalidRateError)
    } else {
      for (const rate of Array.isArray(exit.value) ? exit.value : [exit.value]) {
        expect(Number.isSafeInteger(rate.limit) && rate.limit >= 1).toBe(true)
        expect(Duration.toMillis(rate.period)).toBeGreaterThan(0)
      }
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
    expect(ms(one(Rate.unsafeParse(Rate.format(rate))))).toEqual({ limit, period })
  })

  it("interval is period / limit", () => {
    expect(Duration.toMillis(Rate.interval(Rate.unsafeParse("4/s")))).toBe(250)
  })
})

describe("Rate lists: parse, parseAll, format", () => {
  it.effect("parse of a list gives a non-empty array, of one rate a Rate; parseAll always an array", () =>
    Effect.gen(function*() {
      const tiers = yield* Rate.parse("4/s, 60/min")
      expectTypeOf(tiers).toEqualTypeOf<NonEmptyReadonlyArray<Rate.Rate>>()
      expect(tiers.map(ms)).toEqual([{ limit: 4, period: 1000 }, { limit: 60, period: 60_000 }])
      const single = yield* Rate.parse("3/s")
      expectTypeOf(single).toEqualTypeOf<Rate.Rate>()
      expect(ms(single)).toEqual({ limit: 3, period: 1000 })
      expect((yield* Rate.parseAll("3/s")).map(ms)).toEqual([{ limit: 3, period: 1000 }])
      expect((yield* Rate.parseAll("4/s ,60/min,  1000/d")).map(ms)).toEqual([
        { limit: 4, period: 1000 },
        { limit: 60, period: 60_000 },
        { limit: 1000, period: 86_400_000 }
      ])
      expect(Rate.unsafeParse("4/s, 60/min").map(ms)).toEqual(tiers.map(ms))
      const fromString: string = "3/s"
      expectTypeOf(Rate.parse(fromString)).toEqualTypeOf<
        Effect.Effect<Rate.Rate | NonEmptyReadonlyArray<Rate.Rate>, Rate.InvalidRateError>
      >()
      expectTypeOf(Rate.parseAll(fromString)).toEqualTypeOf<
        Effect.Effect<NonEmptyReadonlyArray<Rate.Rate>, Rate.InvalidRateError>
      >()
    }))

  const invalidLists: ReadonlyArray<readonly [string, string]> = [
    ["4/s,", `item 2 of 2 is empty (a list is "<rate>, <rate>", with no empty items)`],
    [",", `item 1 of 2 is empty (a list is "<rate>, <rate>", with no empty items)`],
    ["4/s, 0/min", `item 2 of 2, "0/min": limit must be a positive integer, got 0`],
    ["4/s, 1.5/min", `item 2 of 2, "1.5/min": limit must be an integer, got 1.5`],
    [" 4/s, 60/min", `item 1 of 2, " 4/s": leading whitespace is not allowed`],
    ["4/s, 60/fortnight", `item 2 of 2, "60/fortnight": unknown unit "fortnight"`]
  ]
  for (const [input, reason] of invalidLists) {
    it.effect(`rejects the list ${JSON.stringify(input)}: ${reason}`, () =>
      Effect.gen(function*() {
        for (const parser of [Rate.parse, Rate.parseAll, Rate.decodeAll] as const) {
          const error = yield* Effect.flip(parser(input))
          expect(error.input).toBe(input)
          expect(error.reason).toBe(reason)
          expect(error.message).toBe(messageFor(JSON.stringify(input), reason, true))
        }
      }))
  }

  it("format joins several rates with \", \"", () => {
    expect(Rate.format([Rate.make(4, "1 second"), Rate.make(60, "1 minute")])).toBe("4/s, 60/m")
    expect(Rate.format([Rate.make(4, "1 second")])).toBe("4/s")
    expect(Rate.format(Rate.unsafeParse("1/3s, 12/37m, 8/3d"))).toBe("1/3s, 12/37m, 8/3d")
  })

  const arbitraryRate = fc
    .tuple(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 50_000_000 }))
    .map(([limit, period]) => Rate.make(limit, Duration.millis(period)))

  it.prop(
    "format(parse(x)) round-trips lists: parseAll(format(rates)) gives the same rates back",
    [fc.array(arbitraryRate, { minLength: 1, maxLength: 5 })],
    ([rates]) => {
      const text = Rate.format(rates)
      const back = Effect.runSync(Rate.parseAll(text))
      expect(back.map(ms)).toEqual(rates.map(ms))
      expect(Rate.format(back)).toBe(text)
      expect(Rate.format(Rate.unsafeParse(text))).toBe(text)
    }
  )

  it.prop(
    "format(parse(x)) is the canonical form of any valid string x (and canonical strings are fixed points)",
    [
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 999 }),
          fc.option(fc.integer({ min: 1, max: 999 }), { nil: undefined }),
          fc.constantFrom("ms", "S", "sec", "Seconds", "m", "MIN", "minute", "h", "Hours", "d", "day")
        ),
        { minLength: 1, maxLength: 4 }
      )
    ],
    ([items]) => {
      const text = items.map(([limit, count, unit]) => `${limit}/${count ?? ""}${unit}`).join(" , ")
      const canonical = Rate.format(Effect.runSync(Rate.parseAll(text)))
      expect(Rate.format(Effect.runSync(Rate.parseAll(canonical)))).toBe(canonical)
      expect(Effect.runSync(Rate.parseAll(canonical)).map(ms)).toEqual(Effect.runSync(Rate.parseAll(text)).map(ms))
    }
  )
})

describe("Rate.decodeAll: strings fail typed, objects are programmer errors", () => {
  it.effect("accepts one rate, arrays of any shape, and lists", () =>
    Effect.gen(function*() {
      expect((yield* Rate.decodeAll("3/s")).map(ms)).toEqual([{ limit: 3, period: 1000 }])
      expect((yield* Rate.decodeAll("4/s, 60/min")).map(ms)).toEqual([{ limit: 4, period: 1000 }, {
        limit: 60,
        period: 60_000
      }])
      expect((yield* Rate.decodeAll([{ limit: 10, period: "1 second" }, "500/h", Rate.make(1, "1 day")])).map(ms))
        .toEqual([{ limit: 10, period: 1000 }, { limit: 500, period: 3_600_000 }, { limit: 1, period: 86_400_000 }])
    }))

  it.effect("a bad string — alone, or an item of an array — fails with InvalidRateError naming the reason", () =>
    Effect.gen(function*() {
      const bad: string = "1/0ms"
      const alone = yield* Effect.flip(Rate.decodeAll(bad))
      expect(alone.message).toBe(messageFor(`"1/0ms"`, `${COUNT} must be a positive integer, got 0`))
      const inArray = yield* Effect.flip(Rate.decodeAll(["4/s", bad]))
      expect(inArray.input).toEqual(["4/s", "1/0ms"])
      expect(inArray.message).toBe(
        messageFor(`["4/s", "1/0ms"]`, `item 2 of 2, "1/0ms": ${COUNT} must be a positive integer, got 0`, true)
      )
      const oneItem = yield* Effect.flip(Rate.decodeAll([bad]))
      expect(oneItem.reason).toBe(`${COUNT} must be a positive integer, got 0`)
      const listItem = yield* Effect.flip(Rate.decodeAll(["4/s, 60/min" as string]))
      expect(listItem.reason).toBe("a list of rates is not allowed here: give one rate per item")
    }))

  const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
    Exit.isFailure(exit) ? Cause.dieOption(exit.cause).pipe((o) => o._tag === "Some" ? o.value : undefined) : undefined

  const programmerErrors: ReadonlyArray<readonly [string, unknown, string, string]> = [
    ["limit 0", { limit: 0, period: "1 second" }, "{ limit: 0, period: 1 second }", "expected limit to be a positive integer, got 0"],
    ["limit 1.5", { limit: 1.5, period: "1 second" }, "{ limit: 1.5, period: 1 second }", "expected limit to be a positive integer, got 1.5"],
    ["zero period", { limit: 1, period: Duration.zero }, "{ limit: 1, period: 0 }", "expected period to be a positive finite duration, got 0"],
    ["not a duration", { limit: 1, period: "soon" }, "{ limit: 1, period: soon }", "period is not a duration: soon"],
    ["empty array", [], "[]", "expected at least one rate, got an empty list"],
    ["null", null, "null", "expected a rate string or { limit, period }, got null"],
    [
      "bad object in an array",
      ["4/s", { limit: -2, period: "1 minute" }],
      `["4/s", { limit: -2, period: 1 minute }]`,
      "item 2 of 2, { limit: -2, period: 1 minute }: expected limit to be a positive integer, got -2"
    ]
  ]
  for (const [label, input, shown, reason] of programmerErrors) {
    it(`${label}: a defect whose value is the InvalidRateError`, () => {
      const exit = Effect.runSyncExit(Rate.decodeAll(input as Rate.RatesInput))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause) && !Cause.isFailType(exit.cause)).toBe(true)
      const defect = defectOf(exit)
      expect(defect).toBeInstanceOf(Rate.InvalidRateError)
      expect((defect as Rate.InvalidRateError).reason).toBe(reason)
      expect((defect as Rate.InvalidRateError).message).toBe(messageFor(shown, reason, Array.isArray(input)))
    })
  }

  it.effect("decode (one rate) keeps failing typed for objects, as before", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Rate.decode({ limit: 0, period: "1 second" }))
      expect(error.reason).toBe("expected limit to be a positive integer, got 0")
      const list = yield* Effect.flip(Rate.decode("4/s, 60/min"))
      expect(list.reason).toBe("a list of rates is not allowed here: give one rate per item")
    }))
})

describe("Rate.config", () => {
  const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("reads one rate or a list as a non-empty array", () =>
    Effect.gen(function*() {
      const tiers = yield* withEnv([["API_RATE", "4/s, 60/min"]])(Rate.config("API_RATE"))
      expect(tiers.map(ms)).toEqual([{ limit: 4, period: 1000 }, { limit: 60, period: 60_000 }])
      const single = yield* withEnv([["API_RATE", "3/s"]])(Rate.config("API_RATE"))
      expect(single.map(ms)).toEqual([{ limit: 3, period: 1000 }])
      expectTypeOf(Rate.config("X")).toEqualTypeOf<Config.Config<NonEmptyReadonlyArray<Rate.Rate>>>()
    }))

  it.effect("a bad value is ConfigError.InvalidData at the key's path, with the specific reason", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv([["API_RATE", "0/s"]])(Rate.config("API_RATE")))
      expect(ConfigError.isInvalidData(error)).toBe(true)
      if (!ConfigError.isInvalidData(error)) return
      expect(error.path).toEqual(["API_RATE"])
      expect(error.message).toBe(messageFor(`"0/s"`, "limit must be a positive integer, got 0"))
      expect(String(error)).toContain("API_RATE")

      const nested = yield* Effect.flip(
        withEnv([["APP.RATE", "4/s 60/min"]])(Config.nested(Rate.config("RATE"), "APP"))
      )
      expect(ConfigError.isInvalidData(nested) && nested.path).toEqual(["APP", "RATE"])
      expect(ConfigError.isInvalidData(nested) && nested.message).toContain("rates in a list must be separated by commas")

      const inAll = yield* Effect.flip(
        withEnv([["RATE", "4/s,"]])(Config.all({ rate: Config.nested(Rate.config(), "RATE") }))
      )
      expect(ConfigError.isInvalidData(inAll) && inAll.path).toEqual(["RATE"])

      const missing = yield* Effect.flip(withEnv([])(Rate.config("API_RATE")))
      expect(ConfigError.isMissingData(missing)).toBe(true)
    }))

  it.effect("Throttle.layerConfig(Rate.config(key)) uses the rates, and names the key when they are bad", () =>
    Effect.gen(function*() {
      const layer = (value: string) =>
        Throttle.layerConfig(Rate.config("API_RATE")).pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["API_RATE", value]]))))
        )
      const format = yield* Effect.provide(Effect.map(Throttle, (t) => Rate.format(t.rate)), layer("1/3s, 10/min"))
      expect(format).toBe("1/3s")
      const error = yield* Effect.flip(Effect.provide(Throttle.locked, layer("3/0.5s")))
      expect(ConfigError.isConfigError(error) && ConfigError.isInvalidData(error) && error.path).toEqual(["API_RATE"])
      expect(error.message).toContain(`${COUNT} must be an integer, got 0.5`)
    }))
})

// The compile-time check, through a function with the Throttle's signature shape, and through ThrottleLive itself.
const checked = <const R extends Rate.RatesInput>(_rate: Rate.Checked<R>): Rate.ErrorOf<R> => undefined as never

describe("Rate types: what the compiler checks", () => {
  it("valid literals, lists, arrays and objects compile, with error type never", () => {
    expectTypeOf(checked("3/s")).toEqualTypeOf<never>()
    expectTypeOf(checked("01/010SeC")).toEqualTypeOf<never>()
    expectTypeOf(checked("12/37m")).toEqualTypeOf<never>()
    expectTypeOf(checked("4/s, 60/min")).toEqualTypeOf<never>()
    expectTypeOf(checked("4/s,60/min ,  1000/d")).toEqualTypeOf<never>()
    expectTypeOf(checked(["4/s", "60/min"])).toEqualTypeOf<never>()
    expectTypeOf(checked({ limit: 10, period: "1 second" })).toEqualTypeOf<never>()
    expectTypeOf(checked([{ limit: 10, period: "1 second" }, "500/h"])).toEqualTypeOf<never>()
    expectTypeOf(checked(Rate.make(1, "1 second"))).toEqualTypeOf<never>()
    const computed: number = 5
    expectTypeOf(checked({ limit: computed, period: Duration.seconds(1) })).toEqualTypeOf<never>()
    expectTypeOf(ThrottleLive("4/s, 60/min")).toEqualTypeOf<Layer.Layer<Throttle, never>>()
    expectTypeOf(ThrottleLive(["4/s", "60/min"])).toEqualTypeOf<Layer.Layer<Throttle, never>>()
  })

  it("a value typed string keeps InvalidRateError, alone or in an array", () => {
    const fromEnv: string = "5/m"
    expectTypeOf(checked(fromEnv)).toEqualTypeOf<Rate.InvalidRateError>()
    expectTypeOf(checked([fromEnv, "3/s"])).toEqualTypeOf<Rate.InvalidRateError>()
    expectTypeOf(ThrottleLive(fromEnv)).toEqualTypeOf<Layer.Layer<Throttle, Rate.InvalidRateError>>()
  })

  it("invalid literals do not compile, and the compiler names the reason", () => {
    // @ts-expect-error: limit 0
    checked("0/s")
    // @ts-expect-error: decimal limit (`${number}` would accept it)
    checked("1.5/s")
    // @ts-expect-error: decimal count
    checked("3/0.5s")
    // @ts-expect-error: zero count
    checked("1/0ms")
    // @ts-expect-error: leading space
    checked(" 3/s")
    // @ts-expect-error: trailing space
    checked("3/s ")
    // @ts-expect-error: unknown unit
    checked("3/fortnight")
    // @ts-expect-error: no unit
    checked("1/3")
    // @ts-expect-error: exponent
    checked("1e3/s")
    // @ts-expect-error: empty
    checked("")
    // @ts-expect-error: empty item
    checked("4/s,")
    // @ts-expect-error: missing comma
    checked("4/s 60/min")
    // @ts-expect-error: one bad item in a list
    checked("4/s, 0/min")
    // @ts-expect-error: one bad item in an array
    checked(["4/s", "1.5/min"])
    // @ts-expect-error: a list inside an array
    checked(["4/s, 60/min"])
    // @ts-expect-error: literal limit 0 in an object
    checked({ limit: 0, period: "1 second" })
    // @ts-expect-error: literal limit 1.5 in an object inside an array
    checked(["3/s", { limit: 1.5, period: "1 second" }])
    // @ts-expect-error: through ThrottleLive as well
    ThrottleLive("1.5/s")
    // @ts-expect-error: through ThrottleLive as well
    ThrottleLive(["4/s", "0/min"])
    type Reason<R> = Rate.Checked<R> extends { readonly "invalid rate": infer Why } ? Why : "valid"
    expectTypeOf<Reason<"0/s">>().toEqualTypeOf<"limit must be a positive integer, got 0">()
    expectTypeOf<Reason<"1.5/s">>().toEqualTypeOf<`limit must be a positive integer, got "1.5"`>()
    expectTypeOf<Reason<"3/0.5s">>().toEqualTypeOf<`the count before the unit must be a positive integer, got "0.5"`>()
    expectTypeOf<Reason<"3/fortnight">>().toEqualTypeOf<`unknown unit "fortnight"`>()
    expectTypeOf<Reason<" 3/s">>().toEqualTypeOf<"leading whitespace is not allowed">()
    expectTypeOf<Reason<"4/s,">>().toEqualTypeOf<"empty item in the list">()
    expectTypeOf<Reason<"4/s 60/min">>().toEqualTypeOf<
      "whitespace is not allowed inside a rate (separate rates with commas)"
    >()
    expectTypeOf<Reason<"3/s">>().toEqualTypeOf<"valid">()
    expectTypeOf<Reason<string>>().toEqualTypeOf<"valid">()
  })
})
