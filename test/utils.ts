import { Duration, Effect, Fiber, TestClock } from "effect"

/**
 * Forks `run`, moves the TestClock forward by `horizon` (far enough for the whole workload), and joins it.
 * The standard shape of a timing test: every timestamp the workload reads is exact virtual time.
 */
export const runFor = <A, E>(run: Effect.Effect<A, E>, horizon: Duration.DurationInput = "1 hour") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(run)
    yield* TestClock.adjust(horizon)
    return yield* Fiber.join(fiber)
  })
