/**
 * The fast path's stamp against the fiber's op budget (issue: the permit is stamped a few steps before the task's
 * first step; if the fiber's op budget runs out in between, other fibers run inside the slot and the next window
 * opens early). Real clock: "1/100ms", six `withPermit` bodies in a row beside a fiber doing 50 ms of CPU work at a
 * time, under `Effect.withMaxOpsBeforeYield(…, ops)` for ops from 24 to 96. Every gap between consecutive bodies
 * must be >= 100 ms. (Before the fix, ops = 60 gave a gap of 52 ms on this machine.)
 *
 * Run: `npx tsx bench/stamp.ts`
 */
import { Effect, Fiber } from "effect"
import { Throttle } from "effect-throttles"

const busy = (ms: number) =>
  Effect.sync(() => {
    const end = performance.now() + ms
    while (performance.now() < end) {
      // CPU work
    }
  })

const smallestGap = (ops: number) =>
  Effect.gen(function*() {
    const throttle = yield* Throttle.make("1/100ms")
    const hog = yield* Effect.fork(Effect.forever(Effect.zipRight(busy(50), Effect.sleep("1 millis"))))
    const starts: Array<number> = []
    const body = Effect.sync(() => starts.push(performance.now()))
    yield* Effect.withMaxOpsBeforeYield(
      Effect.gen(function*() {
        for (let i = 0; i < 6; i++) yield* throttle.withPermit(body)
      }),
      ops
    )
    yield* Fiber.interrupt(hog)
    return Math.min(...starts.slice(1).map((t, i) => t - starts[i]!))
  }).pipe(Effect.scoped)

export const main = async (): Promise<{ readonly worst: number; readonly byOps: Record<number, number> }> => {
  const byOps: Record<number, number> = {}
  for (let ops = 24; ops <= 96; ops += 6) byOps[ops] = await Effect.runPromise(smallestGap(ops))
  const worst = Math.min(...Object.values(byOps))
  return { worst, byOps }
}

if (process.argv[1]?.endsWith("stamp.ts")) {
  main().then(({ byOps, worst }) => {
    for (const [ops, gap] of Object.entries(byOps)) console.log(`maxOpsBeforeYield ${ops}: smallest gap ${gap.toFixed(1)} ms`)
    console.log(`worst ${worst.toFixed(1)} ms: ${worst >= 100 ? "OK (>= 100 ms)" : "FAIL (< 100 ms)"}`)
  })
}
