/**
 * A three-phase pipeline: workers fetch, then transform, then write.
 *
 * - A `Barrier` lines the phases up: nobody starts transforming before every worker has fetched, and each worker
 *   learns what the others fetched (the barrier's `states`).
 * - `UniqueResourceGuard` keeps one writer per file: two workers share `report.csv`; the second one is refused at
 *   once (`ResourceBusyError`) and tries again shortly after, instead of interleaving lines.
 * - Finally, a barrier with a `timeout` shows what happens when a worker never shows up: everybody is told, nobody
 *   goes on with partial state.
 *
 * Run: npx tsx examples/pipeline.ts
 */
import { Clock, Console, Effect, Schedule } from "effect"
import { Barrier, BarrierBrokenError, BarrierTimeoutError } from "effect-throttles"
import { ResourceBusyError, UniqueResourceGuard } from "effect-throttles"

/** A pretend file: a path and the lines written to it. Its `toString` names it in guard messages. */
class File {
  readonly lines: Array<string> = []
  constructor(readonly path: string) {}
  toString() {
    return this.path
  }
}

const report = new File("report.csv")
const summary = new File("summary.txt")

interface Worker {
  readonly name: string
  readonly fetchMillis: number
  readonly records: number
  readonly output: File
}

const workers: ReadonlyArray<Worker> = [
  { name: "alpha", fetchMillis: 300, records: 12, output: report },
  { name: "beta", fetchMillis: 100, records: 7, output: report },
  { name: "gamma", fetchMillis: 200, records: 30, output: summary }
]

const main = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const say = (who: string, text: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Console.log(`${String(now - start).padStart(5)} ms  ${who.padEnd(6)} ${text}`))

  // Phase gate: the state each worker brings is its record count.
  const phases = yield* Barrier.make<number>({ parties: workers.length, name: "phases" })

  const write = (worker: Worker, total: number) =>
    Effect.gen(function*() {
      const guard = yield* UniqueResourceGuard.of(worker.output, { action: "writing" })
      yield* guard.useResource((file) =>
        Effect.gen(function*() {
          yield* say(worker.name, `writing ${file.path} ...`)
          yield* Effect.sleep("150 millis")
          file.lines.push(`${worker.name},${worker.records},${(worker.records / total * 100).toFixed(1)}%`)
          yield* say(worker.name, `done with ${file.path}`)
        })
      )
    }).pipe(
      Effect.tapError((busy: ResourceBusyError) => say(worker.name, `refused: ${busy.message}`)),
      Effect.retry({ schedule: Schedule.spaced("100 millis"), while: (e) => e._tag === "ResourceBusyError" })
    )

  const run = (worker: Worker) =>
    Effect.gen(function*() {
      yield* say(worker.name, "fetching")
      yield* Effect.sleep(worker.fetchMillis)
      yield* say(worker.name, `fetched ${worker.records} records, waiting for the others`)
      const fetched = yield* phases.wait(worker.records)
      const total = fetched.states.reduce((a, b) => a + b, 0)
      yield* say(worker.name, `phase 1 over (arrived #${fetched.position}); counts ${fetched.states.join("+")} = ${total}`)

      yield* Effect.sleep(worker.records * 5) // transform
      yield* say(worker.name, "transformed, waiting for the others")
      const transformed = yield* phases.wait()
      yield* say(worker.name, `phase 2 over (arrived #${transformed.position})`)

      yield* write(worker, total)
    })

  yield* Console.log("== a pipeline lined up by a Barrier, one writer per file ==")
  yield* Effect.forEach(workers, run, { concurrency: "unbounded", discard: true })
  yield* Console.log(`\n${report.path}:\n  ${report.lines.join("\n  ")}`)
  yield* Console.log(`${summary.path}:\n  ${summary.lines.join("\n  ")}`)

  yield* Console.log("\n== a worker that never arrives: the timeout breaks the barrier for everybody ==")
  const gate = yield* Barrier.make<string>({ parties: 3, name: "gate" })
  const report1 = (who: string, self: Effect.Effect<Barrier.Result<string>, BarrierBrokenError | BarrierTimeoutError>) =>
    self.pipe(
      Effect.matchEffect({
        onSuccess: (r) => say(who, `released with ${r.states.join(", ")}`),
        onFailure: (e) => say(who, `${e._tag}: ${e.message}`)
      })
    )
  yield* Effect.all([
    report1("alpha", gate.wait("alpha")),
    report1("beta", Effect.zipRight(Effect.sleep("100 millis"), gate.wait("beta", { timeout: "300 millis" })))
    // the third party never comes
  ], { concurrency: "unbounded" })
  yield* say("main", `gate broken: ${yield* gate.broken}; a late wait fails at once:`)
  yield* report1("gamma", gate.wait("gamma"))
  yield* gate.reset
  yield* say("main", `after reset: broken = ${yield* gate.broken}, remaining = ${yield* gate.remaining}`)
})

Effect.runPromise(main)
