/**
 * The pure core of `Rate`: the rate grammar (one rate, or a comma-separated list of rates), the specific reason
 * for every rejected string, and the canonical format. No Effect import: tested with tables and properties.
 *
 * Every parser returns either its result or a `string`: the reason the input was rejected, written for the user
 * ("limit must be a positive integer, got 0"). The Effect side (`rate.ts`) wraps a reason in an `InvalidRateError`.
 *
 * @internal
 */

/** Milliseconds per unit, keyed by every accepted (lower-case) spelling. */
export const UNIT_MILLIS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000
}

/** The accepted units, as the error message lists them. */
export const UNITS_TEXT = "ms, s, sec, second(s), m, min, minute(s), h, hour(s), d, day(s)"

/** Units tried by `formatMillis`, largest first. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1]
]

/** A parsed rate: the limit and the period in whole milliseconds. */
export interface ParsedRate {
  readonly limit: number
  readonly periodMillis: number
}

/** The whitespace allowed around the commas of a list (and nowhere else). */
const SPACE = /\s/
const LEADING_SPACE = /^\s+/
const TRAILING_SPACE = /\s+$/
const DIGITS = /^\d+$/
const COUNT_AND_UNIT = /^([^a-zA-Z]*)(.*)$/

/**
 * A positive integer written with the digits 0-9 (leading zeros allowed), or the reason it is not one. `what` names
 * the number in the reason ("limit", "the count before the unit").
 */
export const positiveInteger = (text: string, what: string): number | string => {
  if (DIGITS.test(text)) {
    const value = Number(text)
    if (value === 0) return `${what} must be a positive integer, got 0`
    if (!Number.isSafeInteger(value)) return `${what} must be at most ${Number.MAX_SAFE_INTEGER}, got ${text}`
    return value
  }
  const value = Number(text)
  if (text !== "" && Number.isFinite(value)) {
    if (!Number.isInteger(value)) return `${what} must be an integer, got ${text}`
    if (value < 1) return `${what} must be a positive integer, got ${text}`
    return `${what} must be written with the digits 0-9, got ${JSON.stringify(text)}`
  }
  return `${what} must be a positive integer, got ${JSON.stringify(text)}`
}

/** Whitespace somewhere inside one rate: the most useful thing to say about it. */
const whitespaceReason = (text: string): string => {
  if (LEADING_SPACE.test(text)) return "leading whitespace is not allowed"
  if (TRAILING_SPACE.test(text)) return "trailing whitespace is not allowed"
  const words = text.split(/\s+/)
  if (words.every((word) => word.includes("/"))) {
    return `rates in a list must be separated by commas, e.g. ${JSON.stringify(words.join(", "))}`
  }
  const before = text.slice(0, text.search(SPACE))
  if (typeof parseOne(before) !== "string") {
    return `unexpected text after ${JSON.stringify(before)}: ${JSON.stringify(text.slice(before.length))}`
  }
  return `whitespace is not allowed inside a rate (after ${JSON.stringify(before)})`
}

/** Parses one rate, `"{limit}/{unit}"` or `"{limit}/{count}{unit}"` (nothing around it); never throws. */
export const parseOne = (text: string): ParsedRate | string => {
  if (text === "") return "the rate is empty"
  if (text.includes(",")) return "a list of rates is not allowed here: give one rate per item"
  if (SPACE.test(text)) return whitespaceReason(text)
  const slash = text.indexOf("/")
  if (slash < 0) return `missing "/" between the limit and the unit`
  if (text.indexOf("/", slash + 1) >= 0) return `expected exactly one "/"`
  const limitText = text.slice(0, slash)
  if (limitText === "") return `missing limit before "/"`
  const limit = positiveInteger(limitText, "limit")
  if (typeof limit === "string") return limit
  const periodText = text.slice(slash + 1)
  if (periodText === "") return `missing unit after "/"`
  const [, countText = "", unitText = ""] = COUNT_AND_UNIT.exec(periodText) ?? []
  const count = countText === "" ? 1 : positiveInteger(countText, "the count before the unit")
  if (typeof count === "string") return count
  if (unitText === "") return `missing unit after ${JSON.stringify(countText)}`
  const unit = UNIT_MILLIS[unitText.toLowerCase()]
  if (unit === undefined) return `unknown unit ${JSON.stringify(unitText)}`
  const periodMillis = count * unit
  if (!Number.isSafeInteger(periodMillis)) {
    return `the period is too long: ${periodText} is more than ${Number.MAX_SAFE_INTEGER} ms`
  }
  return { limit, periodMillis }
}

/**
 * Parses one rate or a comma-separated list (`"4/s, 60/min"`: whitespace allowed around the commas, nowhere else);
 * a non-empty array, or the reason (naming the item for a list).
 */
export const parseList = (text: string): readonly [ParsedRate, ...Array<ParsedRate>] | string => {
  if (!text.includes(",")) {
    const one = parseOne(text)
    return typeof one === "string" ? one : [one]
  }
  const items = text.split(",")
  const parsed: Array<ParsedRate> = []
  for (let i = 0; i < items.length; i++) {
    let item = items[i] ?? ""
    if (i > 0) item = item.replace(LEADING_SPACE, "")
    if (i < items.length - 1) item = item.replace(TRAILING_SPACE, "")
    const position = `item ${i + 1} of ${items.length}`
    if (item === "") return `${position} is empty (a list is "<rate>, <rate>", with no empty items)`
    const one = parseOne(item)
    if (typeof one === "string") return `${position}, ${JSON.stringify(item)}: ${one}`
    parsed.push(one)
  }
  return parsed as unknown as readonly [ParsedRate, ...Array<ParsedRate>]
}

/**
 * The canonical string of one rate: the largest unit that divides the period exactly (`"3/s"`, `"1/3s"`,
 * `"1/250ms"`); `undefined` for a period that is not a whole number of milliseconds (no string form exists).
 */
export const formatMillis = (limit: number, periodMillis: number): string | undefined => {
  if (!Number.isSafeInteger(periodMillis) || periodMillis < 1) return undefined
  for (const [unit, size] of FORMAT_UNITS) {
    if (periodMillis % size === 0) {
      const count = periodMillis / size
      return count === 1 ? `${limit}/${unit}` : `${limit}/${count}${unit}`
    }
  }
  return undefined
}

/** How several rates are joined into one string (and split again by `parseList`). */
export const LIST_SEPARATOR = ", "
