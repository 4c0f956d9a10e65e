/**
 * The options kit: one way to print a bad value, one "Expected X, got Y" defect, and small checkers, so that the
 * same bad value prints the same way in every primitive.
 *
 * Checkers return `undefined` when the value is acceptable and the full message otherwise, so a validator is a
 * chain of `??`: `check.int(o.limit, "limit", 1) ?? check.duration(o.period, "period")`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * How a rejected option value is printed in an "Expected X, got Y" message: strings quoted (`"3"`), numbers and
 * other primitives as JavaScript prints them (`NaN`, `-1`, `undefined`), Durations in Effect's format, functions by
 * name, other objects as JSON (falling back to `String`).
 */
export const printValue = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(u)
    case "function":
      return u.name === "" ? "[anonymous function]" : `[function ${u.name}]`
    case "symbol":
      return u.toString()
    case "bigint":
      return `${u}n`
    case "object": {
      if (u === null) return "null"
      if (Duration.isDuration(u)) return Duration.format(u)
      try {
        return JSON.stringify(u) ?? String(u)
      } catch {
        return String(u)
      }
    }
    default:
      return String(u)
  }
}

/** The message of a programmer error: `Expected <what>, got <printed value>`. */
export const expected = (what: string, got: unknown): string => `Expected ${what}, got ${printValue(got)}`

/** The defect of a programmer error (an `IllegalArgumentException` with the message). */
export const die = (message: string): Effect.Effect<never> => Effect.die(new Cause.IllegalArgumentException(message))

/** The same defect, for code that must throw (inside `Effect.sync`, say). */
export const illegal = (message: string): Cause.IllegalArgumentException => new Cause.IllegalArgumentException(message)

/** An integer >= `min` (and <= `max`), or `undefined`-message. */
export const int = (u: unknown, option: string, min: number, max: number = Number.MAX_SAFE_INTEGER): string | undefined =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= min && u <= max
    ? undefined
    : expected(
      `${option} to be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`,
      u
    )

/** A finite number in an open/closed range described by `range` (e.g. "> 0"), tested by `ok`. */
export const number = (u: unknown, option: string, range: string, ok: (n: number) => boolean): string | undefined =>
  typeof u === "number" && Number.isFinite(u) && ok(u) ? undefined : expected(`${option} to be a number ${range}`, u)

/** One of the given literal values. */
export const oneOf = <A extends string | number | boolean>(
  u: unknown,
  option: string,
  values: ReadonlyArray<A>
): string | undefined =>
  values.includes(u as A)
    ? undefined
    : expected(`${option} to be ${values.map((v) => JSON.stringify(v)).join(" or ")}`, u)

/** A boolean. */
export const boolean = (u: unknown, option: string): string | undefined => oneOf(u, option, [true, false])

/** A string (optionally non-empty). */
export const string = (u: unknown, option: string, nonEmpty: boolean = false): string | undefined =>
  typeof u === "string" && (!nonEmpty || u.length > 0)
    ? undefined
    : expected(`${option} to be a ${nonEmpty ? "non-empty " : ""}string`, u)

/** A function. */
export const fn = (u: unknown, option: string): string | undefined =>
  typeof u === "function" ? undefined : expected(`${option} to be a function`, u)

/**
 * Decodes a duration option: the Duration, or the message. `allowZero` accepts 0; infinite durations are refused
 * unless `allowInfinite`.
 */
export const duration = (
  u: unknown,
  option: string,
  { allowInfinite = false, allowZero = false }: { readonly allowZero?: boolean; readonly allowInfinite?: boolean } = {}
): Duration.Duration | string => {
  const what = `${option} to be a ${allowInfinite ? "" : "finite "}duration ${allowZero ? ">= 0" : "> 0"}`
  // Effect decodes a negative or NaN number of milliseconds as zero: refuse those before decoding.
  if (typeof u === "number" && (Number.isNaN(u) || u < 0)) return expected(what, u)
  if (typeof u === "bigint" && u < 0n) return expected(what, u)
  const decoded = Duration.decodeUnknown(u)
  if (decoded._tag === "None") return expected(what, u)
  const d = decoded.value
  const millis = Duration.toMillis(d)
  if (!allowInfinite && !Duration.isFinite(d)) return expected(what, u)
  if (Number.isNaN(millis) || millis < 0 || (!allowZero && millis === 0)) return expected(what, u)
  return d
}
