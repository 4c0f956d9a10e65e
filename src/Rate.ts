/**
 * Rates: "at most `limit` permits in any window of length `period`".
 *
 * A rate is written the way aiothrottles writes it — `"3/s"`, `"1/3s"`, `"12/37m"` — or given as an object
 * `{ limit, period }` with any Effect `DurationInput` as the period. `"24/8s"` means 24 per 8 seconds and is
 * deliberately NOT reduced to `3/s`: the burst (24) is part of the rate.
 *
 * Grammar (the whole string, nothing around it): `{limit}/{unit}` or `{limit}/{count}{unit}`, where `limit` and
 * `count` are positive integers (leading zeros allowed) and `unit` is one of `ms`, `s`, `sec`, `second(s)`, `m`,
 * `min`, `minute(s)`, `h`, `hour(s)`, `d`, `day(s)`, in any letter case.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as internal from "./internal/rate.js"

/**
 * At most `limit` permits in any half-open window `[t, t + period)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rate {
  readonly limit: number
  readonly period: Duration.Duration
}

/**
 * Every accepted unit spelling (lower case; upper case and capitalized forms are accepted too).
 *
 * @since 0.1.0
 * @category models
 */
export type Unit =
  | "ms"
  | "s"
  | "sec"
  | "second"
  | "seconds"
  | "m"
  | "min"
  | "minute"
  | "minutes"
  | "h"
  | "hour"
  | "hours"
  | "d"
  | "day"
  | "days"

type UnitSpelling = Unit | Uppercase<Unit> | Capitalize<Unit>

/**
 * The rate strings the compiler can check: `"3/s"`, `"1/3s"`, `"2/Sec"`. (`"1.5/s"` passes the type and is
 * rejected at run time: TypeScript's `${number}` also matches decimals.)
 *
 * @since 0.1.0
 * @category models
 */
export type RateString = `${number}/${UnitSpelling}` | `${number}/${number}${UnitSpelling}`

/**
 * Anything accepted where a rate is expected: a rate string, a `Rate`, or `{ limit, period }`.
 *
 * @since 0.1.0
 * @category models
 */
export type RateInput = string | Rate | { readonly limit: number; readonly period: Duration.DurationInput }

/**
 * Compile-time check of a rate argument: a string literal must match {@link RateString}; a value typed `string`
 * (read from config, say) is accepted and checked at run time.
 *
 * @since 0.1.0
 * @category models
 */
export type Checked<R> = R extends string ? string extends R ? R : R extends RateString ? R : RateString
  : R extends ReadonlyArray<unknown> ? { readonly [K in keyof R]: Checked<R[K]> }
  : R

/**
 * One rate or a non-empty list of rates (several windows that must all have room): `"3/s"`, `["4/s", "60/min"]`,
 * `"4/s, 60/min"` (a config string), `{ limit, period }`.
 *
 * @since 0.2.0
 * @category models
 */
export type RatesInput = RateInput | readonly [RateInput, ...Array<RateInput>]

/**
 * The error a rate argument can fail with: `never` for what the compiler checked (a rate literal, an array of
 * them, a `Rate` or `{ limit, period }` object), {@link InvalidRateError} for a value typed `string`.
 *
 * @since 0.2.0
 * @category models
 */
export type ErrorOf<R> = R extends string ? string extends R ? InvalidRateError : never
  : R extends ReadonlyArray<infer X> ? ErrorOf<X>
  : never

/**
 * A rate string or object that is not a valid rate.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRateError extends Data.TaggedError("InvalidRateError")<{
  /** The rejected input, as given. */
  readonly input: unknown
  /** Why it was rejected, when there is more to say than "does not match the grammar". */
  readonly reason?: string | undefined
}> {
  override get message(): string {
    const shown = typeof this.input === "string" ? JSON.stringify(this.input) : renderObject(this.input)
    const why = this.reason === undefined ? "" : ` (${this.reason})`
    return `Invalid rate ${shown}${why}: expected "<limit>/<unit>" or "<limit>/<count><unit>", ` +
      `e.g. "3/s", "1/3s", "12/37m", or { limit, period }; units: ms, s, sec, second(s), m, min, minute(s), ` +
      `h, hour(s), d, day(s)`
  }
}

const renderObject = (input: unknown): string => {
  if (typeof input === "object" && input !== null) {
    const { limit, period } = input as { limit?: unknown; period?: unknown }
    const shownPeriod = Duration.isDuration(period) ? Duration.format(period) : String(period)
    return `{ limit: ${String(limit)}, period: ${shownPeriod} }`
  }
  return String(input)
}

const fromParsed = (parsed: internal.ParsedRate): Rate => ({
  limit: parsed.limit,
  period: Duration.millis(parsed.periodMillis)
})

const decodeSync = (input: RateInput): Rate | InvalidRateError => {
  if (typeof input === "string") {
    const parsed = internal.parseString(input)
    return parsed === undefined ? new InvalidRateError({ input }) : fromParsed(parsed)
  }
  if (typeof input !== "object" || input === null) return new InvalidRateError({ input })
  const period = Duration.decodeUnknown(input.period)
  if (period._tag === "None") {
    return new InvalidRateError({ input, reason: `period is not a duration: ${String(input.period)}` })
  }
  const reason = internal.checkObject(input.limit, period.value)
  return reason === undefined ? { limit: input.limit, period: period.value } : new InvalidRateError({ input, reason })
}

/**
 * Parses a rate string; fails with {@link InvalidRateError} (never throws, never another error).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Rate } from "effect-throttles"
 *
 * Effect.runSync(Rate.parse("1/3s")) // { limit: 1, period: Duration.seconds(3) }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string): Effect.Effect<Rate, InvalidRateError> =>
  Effect.suspend(() => {
    const result = decodeSync(String(input))
    return result instanceof InvalidRateError ? Effect.fail(result) : Effect.succeed(result)
  })

/**
 * Like {@link parse}, but throws the {@link InvalidRateError}. For constants in your own code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeParse = (input: string): Rate => {
  const result = decodeSync(String(input))
  if (result instanceof InvalidRateError) throw result
  return result
}

/**
 * Builds a rate from a limit and a period; throws {@link InvalidRateError} unless `limit` is a positive integer
 * and `period` a positive finite duration. `make(24, "8 seconds")` is 24 per 8 s (not 3/s).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (limit: number, period: Duration.DurationInput): Rate => {
  const result = decodeSync({ limit, period })
  if (result instanceof InvalidRateError) throw result
  return result
}

/**
 * Accepts any {@link RateInput} (string, `Rate`, `{ limit, period }`) and validates it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (input: RateInput): Effect.Effect<Rate, InvalidRateError> =>
  Effect.suspend(() => {
    const result = decodeSync(input)
    return result instanceof InvalidRateError ? Effect.fail(result) : Effect.succeed(result)
  })

/**
 * Accepts one rate or several (an array, or a comma-separated string `"4/s, 60/min"`) and validates each: a
 * non-empty array of rates. Fails with {@link InvalidRateError} for an empty list or any bad rate.
 *
 * @since 0.2.0
 * @category constructors
 */
export const decodeAll = (input: RatesInput): Effect.Effect<readonly [Rate, ...Array<Rate>], InvalidRateError> =>
  Effect.suspend(() => {
    const parts: ReadonlyArray<RateInput> = Array.isArray(input)
      ? input
      : typeof input === "string" && input.includes(",")
      ? input.split(",").map((part) => part.trim())
      : [input as RateInput]
    if (parts.length === 0) return Effect.fail(new InvalidRateError({ input, reason: "expected at least one rate" }))
    const rates: Array<Rate> = []
    for (const part of parts) {
      const result = decodeSync(part)
      if (result instanceof InvalidRateError) {
        return Effect.fail(parts.length === 1 ? result : new InvalidRateError({ input, reason: result.message }))
      }
      rates.push(result)
    }
    return Effect.succeed(rates as unknown as readonly [Rate, ...Array<Rate>])
  })

/**
 * The canonical string of a rate, using the largest unit that divides the period exactly:
 * `"3/s"`, `"1/3s"`, `"12/37m"`, `"8/3d"`, `"1/250ms"`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (rate: Rate): string => internal.formatMillis(rate.limit, Duration.toMillis(rate.period))

/**
 * The minimum spacing between permits for a smooth schedule: `period / limit` (333.33… ms for `"3/s"`).
 *
 * @since 0.1.0
 * @category getters
 */
export const interval = (rate: Rate): Duration.Duration => Duration.millis(Duration.toMillis(rate.period) / rate.limit)
