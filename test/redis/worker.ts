/**
 * A worker process of the multi-process tests (forked with tsx). It shares one Redis throttle with its siblings
 * and reports what it got to the parent over IPC.
 *
 * Modes (the JSON in argv[2]):
 * - `"run"`: `concurrency` fibers acquire one permit each in a loop for `durationMs`, holding it `holdMs`;
 *   reports the store's grant times (`ats`, when the script decided) and the wall-clock start and end of every
 *   permit held here.
 * - `"hold"`: acquires one permit, says `"holding"`, and never releases it (the parent SIGKILLs it).
 */
import { Effect } from "effect"
import { Redis, ThrottleRedis } from "effect-throttles/redis"
import { OnGrant } from "../../src/internal/redisThrottle.js"

export interface WorkerConfig {
  readonly mode: "run" | "hold"
  readonly url: string
  readonly key: string
  readonly rate: string
  readonly durationMs: number
  readonly concurrency: number
  readonly holdMs: number
  readonly maxConcurrent?: number
  readonly leaseTtlMs?: number
  readonly measure?: "start" | "release"
}

/** One permit held: wall-clock start and end seen by the worker. */
export interface Grant {
  readonly start: number
  readonly end: number
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig
const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()))

const program = Effect.gen(function*() {
  const ats: Array<number> = []
  const throttle = yield* ThrottleRedis.make({
    key: config.key,
    rate: config.rate,
    onStoreError: "fail",
    ...(config.maxConcurrent === undefined ? {} : { maxConcurrent: config.maxConcurrent }),
    ...(config.leaseTtlMs === undefined ? {} : { leaseTtl: config.leaseTtlMs }),
    ...(config.measure === undefined ? {} : { measure: config.measure }),
    [OnGrant]: (at: number) => ats.push(at)
  } as ThrottleRedis.Options<"fail">)
  if (config.mode === "hold") {
    yield* throttle.acquire()
    yield* Effect.promise(() => send({ type: "holding" }))
    return yield* Effect.never
  }
  yield* Effect.promise(() => send({ type: "ready" }))
  // start together: the parent says go
  yield* Effect.async<void>((resume) => {
    process.once("message", () => resume(Effect.void))
  })
  const grants: Array<Grant> = []
  const deadline = Date.now() + config.durationMs
  const loop = Effect.gen(function*() {
    while (Date.now() < deadline) {
      yield* throttle.withPermit(Effect.gen(function*() {
        const start = Date.now()
        if (config.holdMs > 0) yield* Effect.sleep(config.holdMs)
        grants.push({ start, end: Date.now() })
      }))
    }
  })
  yield* Effect.all(Array.from({ length: config.concurrency }, () => loop), { concurrency: "unbounded" })
  yield* Effect.promise(() => send({ type: "done", grants, ats }))
})

Effect.runPromise(Effect.scoped(Effect.provide(program, Redis.layer(config.url)))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
