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
import * as Config from "effect/Config";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import type { NonEmptyReadonlyArray } from "effect/Array";
import type { Rate, RateInput, RatesInput } from "../Rate.js";
declare const InvalidRateError_base: new <A extends Record<string, any> = {}>(args: import("effect/Types").VoidIfEmpty<{ readonly [P in keyof A as P extends "_tag" ? never : P]: A[P]; }>) => import("effect/Cause").YieldableError & {
    readonly _tag: "InvalidRateError";
} & Readonly<A>;
/**
 * A rate string or object that is not a valid rate. Its `message` quotes the input, gives the specific `reason` and
 * shows the accepted form.
 */
export declare class InvalidRateError extends InvalidRateError_base<{
    /** The rejected input, as given. */
    readonly input: unknown;
    /** Why it was rejected: "limit must be a positive integer, got 0". */
    readonly reason?: string | undefined;
}> {
    get message(): string;
}
/** Decodes one rate; the `InvalidRateError` for any bad input. */
export declare const decodeSync: (input: RateInput) => Rate | InvalidRateError;
/**
 * Decodes one rate or several; on failure says whether the culprit was a string (data: a typed failure) or not
 * (a programmer error: a defect).
 */
export declare const decodeAllSync: (input: RatesInput) => NonEmptyReadonlyArray<Rate> | {
    readonly error: InvalidRateError;
    readonly typed: boolean;
};
export declare const parse: (input: string) => Effect.Effect<Rate | NonEmptyReadonlyArray<Rate>, InvalidRateError>;
export declare const unsafeParse: (input: string) => Rate | NonEmptyReadonlyArray<Rate>;
export declare const parseAll: (input: string) => Effect.Effect<NonEmptyReadonlyArray<Rate>, InvalidRateError>;
export declare const make: (limit: number, period: Duration.DurationInput) => Rate;
export declare const decode: (input: RateInput) => Effect.Effect<Rate, InvalidRateError>;
export declare const decodeAll: (input: RatesInput) => Effect.Effect<NonEmptyReadonlyArray<Rate>, InvalidRateError>;
export declare const config: (name?: string) => Config.Config<NonEmptyReadonlyArray<Rate>>;
export declare const format: (rate: Rate | ReadonlyArray<Rate>) => string;
export declare const interval: (rate: Rate) => Duration.Duration;
export {};
