/**
 * The fiber that is running right now, read without an Effect step. Effect's runtime keeps it in a global while a
 * fiber runs (the value `Fiber.getCurrentFiber()` reads, without its `Option`), so any code that runs synchronously
 * inside an Effect step (an `Effect.sync`, a `suspend` or `uninterruptibleMask` body) sees its own fiber there.
 * Used on the hot paths, where an `Effect.withFiberRuntime` step per call would cost measurably.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"

const CURRENT_FIBER = "effect/FiberCurrent"

/** The running fiber, or `undefined` outside of one. */
export const runningFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  (globalThis as Record<string, unknown>)[CURRENT_FIBER] as Fiber.RuntimeFiber<unknown, unknown> | undefined
