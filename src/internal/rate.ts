/**
 * Rates, the Effect side: the `InvalidRateError`, decoding of every accepted input shape, and the `Config` reader.
 * The grammar and its reasons live in the pure core (`rateCore.ts`).
 *
 * Which bad input fails how: a string (one rate, a list, or a string inside an array) is data — the typed
 * `InvalidRateError`; an object, an empty array or anything else the compiler already accepted as a rate is a
 * programmer error — in `decodeAll`, a defect whose value is the `InvalidRateError` (so the message is the same).
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { Rate, RateInput, RatesInput } from "../Rate.js"
import * as core from "./rateCore.js"

/** The rejected input, printed: strings quoted, `{ limit, period }` objects readably, arrays item by item. */
const show = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input)
  if (Array.isArray(input)) return `[${input.map(show).join(", ")}]`
  if (typeof input === "object" && input !== null) {
    const { limit, period } = input as { limit?: unknown; period?: unknown }
    const shownPeriod = Duration.isDuration(period)
      ? Duration.format(period)
      : typeof period === "string"
      ? period
      : String(period)
    return `{ limit: ${String(limit)}, period: ${shownPeriod} }`
  }
  return String(input)
}

/** True when the input is (or contains) a list, so the message shows how a list is written too. */
const isList = (input: unknown): boolean =>
  Array.isArray(input) || (typeof input === "string" && input.includes(","))

/**
 * A rate string or object that is not a valid rate. Its `message` quotes the input, gives the specific `reason` and
 * shows the accepted form.
 */
export class InvalidRateError extends Data.TaggedError("InvalidRateError")<{
  /** The rejected input, as given. */
  readonly input: unknown
  /** Why it was rejected: "limit must be a positive integer, got 0". */
  readonly reason?: string | undefined
}> {
  override get message(): string {
    const why = this.reason === undefined ? "" : ` (${this.reason})`
    const list = isList(this.input) ? `, or several separated by commas, e.g. "4/s, 60/min"` : ""
    return `Invalid rate ${show(this.input)}${why}: expected "<limit>/<unit>" or "<limit>/<count><unit>", ` +
      `e.g. "3/s", "1/3s", "12/37m", or { limit, period }${list}; units: ${core.UNITS_TEXT}`
  }
}

const fromParsed = (parsed: core.ParsedRate): Rate => ({
  limit: parsed.limit,
  period: Duration.millis(parsed.periodMillis)
})

const fromParsedList = (parsed: readonly [core.ParsedRate, ...Array<core.ParsedRate>]): NonEmptyReadonlyArray<Rate> =>
  parsed.map(fromParsed) as unknown as NonEmptyReadonlyArray<Rate>

/** The rate an object describes (its period decoded), or why it is not a valid rate. */
const checkObject = (input: object): { readonly reason: string } | Rate => {
  const { limit, period: periodInput } = input as { limit?: unknown; period?: unknown }
  const period = Duration.decodeUnknown(periodInput)
  if (period._tag === "None") return { reason: `period is not a duration: ${String(periodInput)}` }
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) {
    return { reason: `expected limit to be a positive integer, got ${String(limit)}` }
  }
  const millis = Duration.toMillis(period.value)
  if (!(millis > 0) || !Number.isFinite(millis)) {
    return { reason: `expected period to be a positive finite duration, got ${Duration.format(period.value)}` }
  }
  return { limit, period: period.value }
}

/** One rate, any shape; the reason when it is not one (strings: exactly one rate, no list). */
const decodeOne = (input: unknown): Rate | { readonly reason: string } => {
  if (typeof input === "string") {
    const parsed = core.parseOne(input)
    return typeof parsed === "string" ? { reason: parsed } : fromParsed(parsed)
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { reason: `expected a rate string or { limit, period }, got ${show(input)}` }
  }
  return checkObject(input)
}

const isRate = (u: Rate | { readonly reason: string }): u is Rate => !("reason" in u)

/** Decodes one rate; the `InvalidRateError` for any bad input. */
const decodeSync = (input: RateInput): Rate | InvalidRateError => {
  const result = decodeOne(input)
  return isRate(result) ? result : new InvalidRateError({ input, reason: result.reason })
}

/**
 * Decodes one rate or several; on failure says whether the culprit was a string (data: a typed failure) or not
 * (a programmer error: a defect).
 */
const decodeAllSync = (
  input: RatesInput
): NonEmptyReadonlyArray<Rate> | { readonly error: InvalidRateError; readonly typed: boolean } => {
  if (typeof input === "string") {
    const parsed = core.parseList(input)
    return typeof parsed === "string"
      ? { error: new InvalidRateError({ input, reason: parsed }), typed: true }
      : fromParsedList(parsed)
  }
  if (!Array.isArray(input)) {
    const one = decodeOne(input)
    return isRate(one) ? [one] : { error: new InvalidRateError({ input, reason: one.reason }), typed: false }
  }
  const items: ReadonlyArray<unknown> = input
  if (items.length === 0) {
    return { error: new InvalidRateError({ input, reason: "expected at least one rate, got an empty list" }), typed: false }
  }
  const rates: Array<Rate> = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    const one = decodeOne(item)
    if (!isRate(one)) {
      const reason = items.length === 1 ? one.reason : `item ${i + 1} of ${items.length}, ${show(item)}: ${one.reason}`
      return { error: new InvalidRateError({ input, reason }), typed: typeof item === "string" }
    }
    rates.push(one)
  }
  return rates as unknown as NonEmptyReadonlyArray<Rate>
}

const isError = <A>(u: A | InvalidRateError): u is InvalidRateError => u instanceof InvalidRateError

/** `parseAll`, synchronously: a non-empty array or the error. */
const parseAllSync = (input: string): NonEmptyReadonlyArray<Rate> | InvalidRateError => {
  const parsed = core.parseList(String(input))
  return typeof parsed === "string" ? new InvalidRateError({ input, reason: parsed }) : fromParsedList(parsed)
}

/** One rate for a single rate, the array for a list. */
const parseSync = (input: string): Rate | NonEmptyReadonlyArray<Rate> | InvalidRateError => {
  const result = parseAllSync(input)
  return isError(result) || String(input).includes(",") ? result : result[0]
}

export const parse = (input: string): Effect.Effect<Rate | NonEmptyReadonlyArray<Rate>, InvalidRateError> =>
  Effect.suspend(() => {
    const result = parseSync(input)
    return isError(result) ? Effect.fail(result) : Effect.succeed(result)
  })

export const unsafeParse = (input: string): Rate | NonEmptyReadonlyArray<Rate> => {
  const result = parseSync(input)
  if (isError(result)) throw result
  return result
}

export const parseAll = (input: string): Effect.Effect<NonEmptyReadonlyArray<Rate>, InvalidRateError> =>
  Effect.suspend(() => {
    const result = parseAllSync(input)
    return isError(result) ? Effect.fail(result) : Effect.succeed(result)
  })

export const make = (limit: number, period: Duration.DurationInput): Rate => {
  const result = decodeSync({ limit, period })
  if (isError(result)) throw result
  return result
}

export const decode = (input: RateInput): Effect.Effect<Rate, InvalidRateError> =>
  Effect.suspend(() => {
    const result = decodeSync(input)
    return isError(result) ? Effect.fail(result) : Effect.succeed(result)
  })

export const decodeAll = (input: RatesInput): Effect.Effect<NonEmptyReadonlyArray<Rate>, InvalidRateError> =>
  Effect.suspend(() => {
    const result = decodeAllSync(input)
    if (!("error" in result)) return Effect.succeed(result)
    return result.typed ? Effect.fail(result.error) : Effect.die(result.error)
  })

export const config = (name?: string): Config.Config<NonEmptyReadonlyArray<Rate>> =>
  // The path is left empty: the config provider prefixes it with the key (and any enclosing `Config.nested`).
  Config.mapOrFail(Config.string(name), (text) => {
    const result = parseAllSync(text)
    return isError(result) ? Either.left(ConfigError.InvalidData([], result.message)) : Either.right(result)
  })

const formatOne = (rate: Rate): string => {
  const millis = Duration.toMillis(rate.period)
  // Sub-millisecond periods (only reachable through object input) have no string form in the grammar.
  return core.formatMillis(rate.limit, millis) ?? `${rate.limit}/${Duration.format(rate.period)}`
}

export const format = (rate: Rate | ReadonlyArray<Rate>): string =>
  Array.isArray(rate) ? rate.map(formatOne).join(core.LIST_SEPARATOR) : formatOne(rate as Rate)

export const interval = (rate: Rate): Duration.Duration => Duration.millis(Duration.toMillis(rate.period) / rate.limit)
