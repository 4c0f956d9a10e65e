import { describe, expect, it } from "@effect/vitest"
import { Cause, Exit, FiberId, Option } from "effect"
import { classify, firstFailure } from "../../src/internal/failure.js"

class Counted {}
class Ignored {}

const counted = new Counted()
const ignored = new Ignored()
const onlyCounted = (e: unknown) => e instanceof Counted
const throwing = () => {
  throw new Error("bad predicate")
}

const fail = Cause.fail
const die = Cause.die("bug")
const interrupt = Cause.interrupt(FiberId.none)

describe("internal/failure classify", () => {
  const table: ReadonlyArray<
    readonly [string, Cause.Cause<unknown>, ((e: unknown) => boolean) | undefined, string, unknown]
  > = [
    ["a typed failure, default isFailure", fail(ignored), undefined, "failure", ignored],
    ["a counted typed failure", fail(counted), onlyCounted, "failure", counted],
    ["an ignored typed failure", fail(ignored), onlyCounted, "ignored", undefined],
    ["ignored then counted: counted, the counted error", Cause.sequential(fail(ignored), fail(counted)), onlyCounted, "failure", counted],
    ["a defect", die, onlyCounted, "failure", undefined],
    ["a defect beside an ignored failure", Cause.parallel(fail(ignored), die), onlyCounted, "failure", undefined],
    ["a defect beside a counted failure: no fallback", Cause.sequential(fail(counted), die), onlyCounted, "failure", undefined],
    ["interruption", interrupt, onlyCounted, "interrupted", undefined],
    ["an empty cause", Cause.empty, onlyCounted, "interrupted", undefined],
    ["interruption beside an ignored failure", Cause.parallel(interrupt, fail(ignored)), onlyCounted, "ignored", undefined],
    ["interruption beside a counted failure", Cause.parallel(interrupt, fail(counted)), onlyCounted, "failure", counted],
    ["interruption beside a defect", Cause.sequential(interrupt, die), onlyCounted, "failure", undefined]
  ]
  for (const [label, cause, isFailure, outcome, error] of table) {
    it(label, () => {
      const exit = Exit.failCause(cause)
      const verdict = classify(exit, isFailure)
      expect(verdict.outcome).toBe(outcome)
      expect(Option.getOrUndefined(verdict.error)).toBe(error)
      expect(verdict.exit).toBe(exit) // never converted
    })
  }

  it("a success", () => {
    const verdict = classify(Exit.succeed(1), throwing)
    expect(verdict.outcome).toBe("success")
    expect(Option.isNone(verdict.error)).toBe(true)
  })

  it("a throwing isFailure: a failure, and the throw is added to the cause as a defect", () => {
    const verdict = classify(Exit.fail(counted), throwing)
    expect(verdict.outcome).toBe("failure")
    expect(Option.isNone(verdict.error)).toBe(true)
    expect(Exit.isFailure(verdict.exit)).toBe(true)
    if (Exit.isFailure(verdict.exit)) {
      expect([...Cause.failures(verdict.exit.cause)]).toEqual([counted])
      expect([...Cause.defects(verdict.exit.cause)].map((d) => (d as Error).message)).toEqual(["bad predicate"])
    }
  })

  // The edge case in which the two copies of the rule disagreed (CircuitBreaker called isFailure and added its
  // throw; DynamicThrottle did not call it). DESIGN: defects are failures, unconditionally; so isFailure has no say
  // and is not consulted, and the caller's cause is left exactly as it was.
  it("a defect beside a typed failure: isFailure is not called, its throw cannot change the cause", () => {
    let calls = 0
    const exit = Exit.failCause(Cause.sequential(fail(counted), die))
    const verdict = classify(exit, () => {
      calls++
      throw new Error("bad predicate")
    })
    expect(verdict.outcome).toBe("failure")
    expect(verdict.exit).toBe(exit)
    expect(calls).toBe(0)
  })
})

describe("internal/failure firstFailure", () => {
  it("the first typed error alone, else the defects, else the cause as it is", () => {
    expect(firstFailure(Cause.parallel(fail("a"), Cause.sequential(interrupt, fail("b"))))).toEqual(fail("a"))
    expect(firstFailure(Cause.parallel(interrupt, die))).toEqual(die)
    expect(firstFailure(interrupt)).toBe(interrupt)
  })
})
