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
export declare const UNIT_MILLIS: Readonly<Record<string, number>>;
/** The accepted units, as the error message lists them. */
export declare const UNITS_TEXT = "ms, s, sec, second(s), m, min, minute(s), h, hour(s), d, day(s)";
/** A parsed rate: the limit and the period in whole milliseconds. */
export interface ParsedRate {
    readonly limit: number;
    readonly periodMillis: number;
}
/**
 * A positive integer written with the digits 0-9 (leading zeros allowed), or the reason it is not one. `what` names
 * the number in the reason ("limit", "the count before the unit").
 */
export declare const positiveInteger: (text: string, what: string) => number | string;
/** Parses one rate, `"{limit}/{unit}"` or `"{limit}/{count}{unit}"` (nothing around it); never throws. */
export declare const parseOne: (text: string) => ParsedRate | string;
/**
 * Parses one rate or a comma-separated list (`"4/s, 60/min"`: whitespace allowed around the commas, nowhere else);
 * a non-empty array, or the reason (naming the item for a list).
 */
export declare const parseList: (text: string) => readonly [ParsedRate, ...Array<ParsedRate>] | string;
/**
 * The canonical string of one rate: the largest unit that divides the period exactly (`"3/s"`, `"1/3s"`,
 * `"1/250ms"`); `undefined` for a period that is not a whole number of milliseconds (no string form exists).
 */
export declare const formatMillis: (limit: number, periodMillis: number) => string | undefined;
/** How several rates are joined into one string (and split again by `parseList`). */
export declare const LIST_SEPARATOR = ", ";
