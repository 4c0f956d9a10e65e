/**
 * Rates: "at most `limit` permits in any window of length `period`".
 *
 * A rate is written the way aiothrottles writes it — `"3/s"`, `"1/3s"`, `"12/37m"` — or given as an object
 * `{ limit, period }` with any Effect `DurationInput` as the period. `"24/8s"` means 24 per 8 seconds and is
 * deliberately NOT reduced to `3/s`: the burst (24) is part of the rate.
 *
 * Grammar (the whole string, nothing around it): `{limit}/{unit}` or `{limit}/{count}{unit}`, where `limit` and
 * `count` are positive integers (leading zeros allowed) and `unit` is one of `ms`, `s`, `sec`, `second(s)`, `m`,
 * `min`, `minute(s)`, `h`, `hour(s)`, `d`, `day(s)`, in any letter case. Several rates (windows that must all have
 * room) are a comma-separated list, whitespace allowed around the commas and nowhere else: `"4/s, 60/min"`.
 *
 * Bad input says what is wrong: `"0/s"` fails with `limit must be a positive integer, got 0`, `"3/0.5s"` with
 * `the count before the unit must be an integer, got 0.5`, `"4/s 60/min"` with a hint about the missing comma.
 * A rate literal is checked by the compiler (digit by digit: `"1.5/s"`, `"0/s"` and `"3/0.5s"` do not compile), a
 * value typed `string` at run time; {@link ErrorOf} says which.
 *
 * @since 0.1.0
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import type * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/rate.js"
import type { InvalidRateError } from "./internal/rate.js"

export {
  /**
   * A rate string or object that is not a valid rate. `input` is what was given, `reason` the specific problem
   * (`"limit must be a positive integer, got 0"`); the `message` quotes the input, gives the reason and shows the
   * accepted form:
   * `Invalid rate "0/s" (limit must be a positive integer, got 0): expected "<limit>/<unit>" or ...`.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidRateError
} from "./internal/rate.js"

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
 * Every accepted unit spelling (lower case; any letter case is accepted: `"2/Sec"`, `"1/MS"`).
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
 * The shape of a rate string, loosely: `"3/s"`, `"1/3s"`, `"2/Sec"`. TypeScript's `${number}` also matches
 * `"1.5/s"` and `"0/s"`; parameters that take a rate use {@link Checked}, which checks a literal exactly.
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
 * One rate or a non-empty list of rates (several windows that must all have room): `"3/s"`, `["4/s", "60/min"]`,
 * `"4/s, 60/min"` (a config string), `{ limit, period }`.
 *
 * @since 0.2.0
 * @category models
 */
export type RatesInput = RateInput | readonly [RateInput, ...Array<RateInput>]

// ---------------------------------------------------------------------------------------------------------------
// The compile-time check: the grammar again, character by character, as template literal types. Each `*Reason`
// type is `never` for a valid input and the reason (a string literal) otherwise.
// ---------------------------------------------------------------------------------------------------------------

type Digit = "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9"
type Space = " " | "\t" | "\n" | "\r"

type IsDigits<S extends string> = S extends `${Digit}${infer Rest}` ? Rest extends "" ? true : IsDigits<Rest> : false
type IsZeros<S extends string> = S extends `0${infer Rest}` ? Rest extends "" ? true : IsZeros<Rest> : false

type PositiveIntegerReason<S extends string, What extends string> = IsDigits<S> extends true
  ? IsZeros<S> extends true ? `${What} must be a positive integer, got 0` : never
  : `${What} must be a positive integer, got "${S}"`

/** Splits `"37m"` into `["37", "m"]` (and `"0.5s"` into `["0.5", "s"]`, so the count is the one reported). */
type SplitCount<S extends string, C extends string = ""> = S extends `${infer D extends Digit | "."}${infer Rest}`
  ? SplitCount<Rest, `${C}${D}`>
  : [C, S]

type UnitReason<U extends string> = U extends "" ? "missing unit" : Lowercase<U> extends Unit ? never
  : `unknown unit "${U}"`

type PeriodReason<P extends string> = SplitCount<P> extends [infer C extends string, infer U extends string]
  ? C extends "" ? UnitReason<U>
  : [PositiveIntegerReason<C, "the count before the unit">] extends [never] ? UnitReason<U>
  : PositiveIntegerReason<C, "the count before the unit">
  : never

/** Why `S` is not one rate (`never` when it is one). */
type OneRateReason<S extends string> = S extends "" ? "the rate is empty"
  : S extends `${Space}${string}` ? "leading whitespace is not allowed"
  : S extends `${string}${Space}` ? "trailing whitespace is not allowed"
  : S extends `${string},${string}` ? "a list of rates is not allowed here: give one rate per item"
  : S extends `${string}${Space}${string}` ? "whitespace is not allowed inside a rate (separate rates with commas)"
  : S extends `${infer L}/${infer P}` ?
    [PositiveIntegerReason<L, "limit">] extends [never] ? PeriodReason<P> : PositiveIntegerReason<L, "limit">
  : `missing "/" between the limit and the unit`

type TrimStart<S extends string> = S extends `${Space}${infer Rest}` ? TrimStart<Rest> : S
type TrimEnd<S extends string> = S extends `${infer Rest} ` ? TrimEnd<Rest>
  : S extends `${infer Rest}\t` ? TrimEnd<Rest>
  : S extends `${infer Rest}\n` ? TrimEnd<Rest>
  : S extends `${infer Rest}\r` ? TrimEnd<Rest>
  : S

type ItemReason<S extends string> = S extends "" ? "empty item in the list" : OneRateReason<S>

/** Why `S` is not one rate or a comma-separated list of rates (`never` when it is). */
type ListReason<S extends string, First extends boolean = true> = S extends `${infer Head},${infer Tail}`
  ? [ItemReason<TrimEnd<First extends true ? Head : TrimStart<Head>>>] extends [never] ? ListReason<Tail, false>
  : ItemReason<TrimEnd<First extends true ? Head : TrimStart<Head>>>
  : ItemReason<First extends true ? S : TrimStart<S>>

/** What an invalid literal is intersected with: the argument no longer fits, and the compiler prints the reason. */
type Invalid<Reason> = [Reason] extends [never] ? unknown : { readonly "invalid rate": Reason }

type StringCheck<S extends string, Reason> = string extends S ? unknown : Invalid<Reason>

/** An object whose `limit` is a number literal is checked too: `{ limit: 0, period: "1 second" }` does not compile. */
type ObjectCheck<R> = R extends { readonly limit: infer L extends number } ? number extends L ? unknown
  : [PositiveIntegerReason<`${L}`, "limit">] extends [never] ? unknown
  : { readonly limit: Invalid<PositiveIntegerReason<`${L}`, "limit">> }
  : unknown

type ItemCheck<R> = R extends string ? StringCheck<R, OneRateReason<R>> : ObjectCheck<R>

type Check<R> = R extends string ? StringCheck<R, ListReason<R>>
  : R extends ReadonlyArray<unknown> ? { readonly [K in keyof R]: ItemCheck<R[K]> }
  : ObjectCheck<R>

/**
 * The compile-time check of a rate argument (`rate: Checked<R>` with `<const R extends RatesInput>`). A string
 * literal must be a valid rate or comma-separated list — checked character by character, so `"1.5/s"`, `"0/s"`,
 * `"3/0.5s"`, `"3/fortnight"`, `"4/s,"` and `"4/s 60/min"` do not compile, and the compiler's message names the
 * reason (`Type 'string' is not assignable to type '{ readonly "invalid rate": "limit must be a positive integer,
 * got 0" }'`). Arrays are checked item by item (one rate per item); an object literal's numeric `limit` must be a
 * positive integer. A value typed `string` (read from config, say) is accepted and checked at run time.
 *
 * It is `R` itself intersected with the check (`unknown` when valid), so the compiler infers `R` from the
 * argument exactly (literal items, a readonly tuple) and {@link ErrorOf} can tell what was checked.
 *
 * @since 0.1.0
 * @category models
 */
export type Checked<R> = R & Check<R>

/**
 * The error a rate argument can fail with: `never` for what the compiler checked (a rate literal, an array of
 * them, a `Rate` or `{ limit, period }` object), {@link InvalidRateError} for a value typed `string` (alone or in
 * an array). An object that is not a valid rate at run time (a computed `limit` of 0, say) is a programmer error:
 * a defect whose value is the `InvalidRateError`.
 *
 * @since 0.2.0
 * @category models
 */
export type ErrorOf<R> = R extends string ? string extends R ? InvalidRateError : never
  : R extends ReadonlyArray<infer X> ? ErrorOf<X>
  : never

/**
 * What {@link parse} gives for an input: a `Rate` for one rate, a non-empty array for a list (a literal with a
 * comma); for a value typed `string`, either.
 *
 * @since 0.2.0
 * @category models
 */
export type Parsed<S extends string> = string extends S ? Rate | NonEmptyReadonlyArray<Rate>
  : S extends `${string},${string}` ? NonEmptyReadonlyArray<Rate>
  : Rate

/**
 * Parses a rate string — one rate gives a `Rate`, a comma-separated list (`"4/s, 60/min"`) a non-empty array of
 * rates. Fails with {@link InvalidRateError} naming the specific problem; never throws, never another error.
 * Both results are accepted wherever a rate is (`ThrottleLive`, `Throttle.make`).
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { Rate } from "effect-throttles"
 *
 * const one = Effect.runSync(Rate.parse("1/3s"))
 * console.log(one.limit, Duration.toMillis(one.period)) // 1 3000
 * const tiers = Effect.runSync(Rate.parse("4/s, 60/min"))
 * console.log(tiers.length) // 2
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse: <S extends string>(input: S) => Effect.Effect<Parsed<S>, InvalidRateError> = internal
  .parse as any

/**
 * Parses one rate or a comma-separated list, always giving a non-empty array: `"3/s"` → one rate,
 * `"4/s, 60/min"` → two. Fails with {@link InvalidRateError}; an empty item (`"4/s,"`) or a missing comma
 * (`"4/s 60/min"`) is reported as such.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Rate } from "effect-throttles"
 *
 * const rates = Effect.runSync(Rate.parseAll("4/s, 60/min"))
 * console.log(Rate.format(rates)) // "4/s, 60/m"
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const parseAll: (input: string) => Effect.Effect<NonEmptyReadonlyArray<Rate>, InvalidRateError> =
  internal.parseAll

/**
 * Like {@link parse}, but throws the {@link InvalidRateError}. For constants in your own code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeParse: <S extends string>(input: S) => Parsed<S> = internal.unsafeParse as any

/**
 * Builds a rate from a limit and a period; throws {@link InvalidRateError} unless `limit` is a positive integer
 * and `period` a positive finite duration. `make(24, "8 seconds")` is 24 per 8 s (not 3/s).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (limit: number, period: Duration.DurationInput) => Rate = internal.make

/**
 * Accepts any {@link RateInput} (one rate string, `Rate`, `{ limit, period }`) and validates it; any bad input
 * fails with {@link InvalidRateError}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode: (input: RateInput) => Effect.Effect<Rate, InvalidRateError> = internal.decode

/**
 * Accepts one rate or several (an array, or a comma-separated string `"4/s, 60/min"`) and validates each: a
 * non-empty array of rates. What the Throttle uses for its `rate` argument.
 *
 * Failures follow {@link ErrorOf}: a bad string (alone, in a list or in an array) fails with
 * {@link InvalidRateError}; a bad object (`{ limit: 0, period: "1 second" }`), an empty array or anything else the
 * type admits only by a cast is a programmer error — a defect whose value is the `InvalidRateError`, with the
 * same message.
 *
 * @since 0.2.0
 * @category constructors
 */
export const decodeAll: (input: RatesInput) => Effect.Effect<readonly [Rate, ...Array<Rate>], InvalidRateError> =
  internal.decodeAll

/**
 * A `Config` that reads one rate or a comma-separated list (`API_RATE=4/s, 60/min`) as a non-empty array of
 * rates. A bad value fails with `ConfigError.InvalidData` at the key's path (`API_RATE`, or `APP.API_RATE` under
 * `Config.nested`), its message the {@link InvalidRateError}'s (the input, the specific reason, the accepted
 * form). Without a `name` it reads the current path, for use inside `Config.all` / `Config.nested`.
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect, Layer } from "effect"
 * import { Rate, Throttle } from "effect-throttles"
 *
 * const ThrottleLayer = Throttle.layerConfig(Rate.config("API_RATE")).pipe(
 *   Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["API_RATE", "4/s, 60/min"]]))))
 * )
 * const program = Effect.map(Throttle, (throttle) => Rate.format(throttle.rate))
 * Effect.runPromise(Effect.provide(program, ThrottleLayer)).then(console.log) // "4/s"
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const config: (name?: string) => Config.Config<NonEmptyReadonlyArray<Rate>> = internal.config

/**
 * The canonical string of a rate, using the largest unit that divides the period exactly:
 * `"3/s"`, `"1/3s"`, `"12/37m"`, `"8/3d"`, `"1/250ms"`. Several rates are joined with `", "` (`"4/s, 1/m"`), the
 * form {@link parse} reads back.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (rate: Rate | ReadonlyArray<Rate>) => string = internal.format

/**
 * The minimum spacing between permits for a smooth schedule: `period / limit` (333.33… ms for `"3/s"`).
 *
 * @since 0.1.0
 * @category getters
 */
export const interval: (rate: Rate) => Duration.Duration = internal.interval
