/**
 * What counts as a failure: the one owner of the rule for every primitive that watches outcomes (CircuitBreaker,
 * DynamicThrottle), as cockatiel's `ExecuteWrapper` owns it for its policies. Also the "first failure" cause
 * used by the runners that fail fast.
 *
 * The rule (DESIGN "CircuitBreaker" and "DynamicThrottle"), for the exit of one call:
 *
 * | the call's exit                                          | outcome         | `isFailure` consulted |
 * |----------------------------------------------------------|-----------------|-----------------------|
 * | success                                                  | `"success"`     | no                    |
 * | a cause holding a defect (whatever else it holds)        | `"failure"`     | no                    |
 * | a typed failure for which `isFailure` holds              | `"failure"`     | yes, in cause order   |
 * | typed failures only, `isFailure` false for every one     | `"ignored"`     | yes                   |
 * | interruption only (or an empty cause)                    | `"interrupted"` | no                    |
 *
 * Defects are failures unconditionally, so `isFailure` has no say when the cause holds one and is not called.
 * An `isFailure` that throws makes the call a failure, and the thrown value is added to the call's cause as a
 * defect (the caller sees both). Interruption is never a failure and is never converted into another error.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

/** What a call's exit means to a primitive that counts outcomes. */
export type Outcome = "success" | "failure" | "ignored" | "interrupted"

/** The outcome of one call, and what to give back to its caller. */
export interface Verdict<A, E> {
  readonly outcome: Outcome
  /**
   * The counted typed failure, when the call failed with one and its cause holds no defect: what a fallback
   * (`orElse`) is given.
   */
  readonly error: Option.Option<E>
  /** The exit for the caller: the call's own, or, when `isFailure` threw, the same cause with the throw added. */
  readonly exit: Exit.Exit<A, E>
}

/** Classifies the exit of a call under `isFailure` (`undefined`: every typed failure counts). */
export const classify = <A, E>(
  exit: Exit.Exit<A, E>,
  isFailure: ((error: unknown) => boolean) | undefined
): Verdict<A, E> => {
  if (Exit.isSuccess(exit)) return { outcome: "success", error: Option.none(), exit }
  const cause = exit.cause
  if (Cause.isDie(cause)) return { outcome: "failure", error: Option.none(), exit }
  let sawFailure = false
  for (const error of Cause.failures(cause)) {
    let counted: boolean
    try {
      counted = isFailure === undefined || isFailure(error)
    } catch (thrown) {
      return {
        outcome: "failure",
        error: Option.none(),
        exit: Exit.failCause(Cause.sequential(cause, Cause.die(thrown)))
      }
    }
    if (counted) return { outcome: "failure", error: Option.some(error), exit }
    sawFailure = true
  }
  return { outcome: sawFailure ? "ignored" : "interrupted", error: Option.none(), exit }
}

/**
 * The cause of a run that fails fast: the first typed error alone (without the interruptions of the siblings it
 * stopped), so the run fails with exactly that error; else the defects; else the cause as it is.
 */
export const firstFailure = <E>(cause: Cause.Cause<E>): Cause.Cause<E> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return Cause.fail(failure.value)
  const defects = Cause.keepDefects(cause)
  return Option.isSome(defects) ? defects.value : cause
}
