/**
 * Quickstart: `ThrottleLive("3/s")` in front of 10 concurrent tasks.
 *
 * Run with `npm run demo`. Each task prints the moment it started, relative to the beginning: three start at once,
 * then three more one second later, and so on — 3, 3, 3, 1 per second — in the order they were submitted.
 */
import { Clock, Console, Effect } from "effect"
import { Throttle, ThrottleLive } from "effect-throttles"

const program = Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const task = (id: number) =>
    Throttle.withPermit(
      Effect.gen(function*() {
        const at = (yield* Clock.currentTimeMillis) - begin
        yield* Console.log(`task ${String(id).padStart(2)} started at ${String(at).padStart(5)} ms`)
        yield* Effect.sleep("50 millis") // the "work"
        return at
      })
    )

  yield* Console.log("10 tasks submitted at once through ThrottleLive(\"3/s\"):")
  const starts = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i + 1), task, {
    concurrency: "unbounded"
  })

  const perSecond = new Map<number, number>()
  for (const at of starts) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1)
  yield* Console.log(`\nstarts per second: ${[...perSecond.values()].join(", ")}`)
  const stats = yield* Throttle.stats
  yield* Console.log(`throttle stats: granted ${stats.granted}, in flight ${stats.inFlight}, waiting ${stats.waiting}`)
})

program.pipe(Effect.provide(ThrottleLive("3/s")), Effect.runPromise)
