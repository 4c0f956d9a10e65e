/**
 * Rate parsing and formatting: a pure, allocation-light parser for the aiothrottles rate grammar.
 *
 * @internal
 */
import * as Duration from "effect/Duration"

/** Milliseconds per unit, keyed by every accepted (lower-case) spelling. */
const UNIT_MILLIS: Readonly<Record<string, number>> = {
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

/** Units tried by `format`, largest first. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1]
]

const GRAMMAR = /^(\d+)\/(\d*)([a-z]+)$/i

/** The result of parsing: the limit and the period in milliseconds, or `undefined` for any bad input. */
export interface ParsedRate {
  readonly limit: number
  readonly periodMillis: number
}

/** Parses `"{limit}/{unit}"` or `"{limit}/{count}{unit}"`; never throws. */
export const parseString = (input: string): ParsedRate | undefined => {
  const match = GRAMMAR.exec(input)
  if (match === null) return undefined
  const limit = Number(match[1])
  const countText = match[2] ?? ""
  const count = countText === "" ? 1 : Number(countText)
  const unit = UNIT_MILLIS[(match[3] ?? "").toLowerCase()]
  if (unit === undefined) return undefined
  if (!Number.isSafeInteger(limit) || limit < 1) return undefined
  if (!Number.isSafeInteger(count) || count < 1) return undefined
  const periodMillis = count * unit
  if (!Number.isSafeInteger(periodMillis)) return undefined
  return { limit, periodMillis }
}

/** Validates an object rate; returns a reason for the error message, or `undefined` when valid. */
export const checkObject = (limit: unknown, period: Duration.Duration): string | undefined => {
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) {
    return `expected limit to be a positive integer, got ${String(limit)}`
  }
  const millis = Duration.toMillis(period)
  if (!(millis > 0) || !Number.isFinite(millis)) {
    return `expected period to be a positive finite duration, got ${Duration.format(period)}`
  }
  return undefined
}

/** Canonical string: the largest unit that divides the period exactly (`"3/s"`, `"1/3s"`, `"1/250ms"`). */
export const formatMillis = (limit: number, periodMillis: number): string => {
  for (const [unit, size] of FORMAT_UNITS) {
    if (periodMillis % size === 0) {
      const count = periodMillis / size
      return count === 1 ? `${limit}/${unit}` : `${limit}/${count}${unit}`
    }
  }
  // Sub-millisecond periods (only reachable through object input) have no string form in the grammar.
  return `${limit}/${Duration.format(Duration.millis(periodMillis))}`
}
