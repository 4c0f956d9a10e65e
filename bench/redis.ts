/**
 * Benchmarks of the Redis backend (`npm run bench -- --only=redis`, or `npm run build && tsx bench/redis.ts
 * [--quick]`: ours runs from `dist/`), on the real clock against a `redis-server` started here on a free loopback
 * port, beside two peers on the same server:
 * `rate-limiter-flexible` (RateLimiterRedis, a fixed window of counters) and `@effect/experimental`'s RateLimiter
 * with its Redis store (fixed window, `onExceeded: "delay"`).
 *
 * 1. Throughput: grants per second on one key from one process with the limit out of reach, 8 and 64 callers in
 *    a loop, and the latency of each call (p50 / p99), the three limiters and the floors taking turns in six
 *    rounds. Ours batches the concurrent calls of a process into script calls (at most two in flight). The floor
 *    rows: the same callers (fibers, then promises), each sending a bare `EVALSHA` of a script that returns at
 *    once, no limiter. Open loop: 10 000 calls a second arrive whatever the replies do (a fiber or a promise
 *    each), with the driver alone (no limiter) as the floor, all of them taking turns in six rounds too. Every
 *    limiter and floor runs in a process of its own (`--runner=<json>`), warmed up once, idle while the others
 *    run, and warmed up again for `REWARM_MS` at the start of each of its rounds.
 * 2. Exactness: 4 processes share "50/s" on one key for a few seconds, callers as fast as they are let through
 *    (each process first warmed up for `WARM_UP_MS` with the limit out of reach, on a key of its own).
 *    The starts the processes saw, merged, are checked for windows holding more than 50 (a window of 1 s minus
 *    2 ms). What a process sees carries its reply latency and wake-up jitter (a few ms, more on a loaded machine),
 *    so a burst granted at a period boundary can spill into the neighbouring window as seen; for ours, the grant
 *    times the script decided (on the server's clock: the guarantee) are checked with the exact 1 s window.
 *
 * The same file is the runner of scenario 1 (`--runner=<json>`) and the worker of scenario 2 (`--worker=<json>`).
 */
import { type ChildProcess, fork } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as RateLimiterRedisStore from "@effect/experimental/RateLimiter/Redis"
import { Context, Deferred, Effect, Layer, ManagedRuntime } from "effect"
import type { Throttle } from "effect-throttles"
import type { ThrottleRedis as ThrottleRedisTypes, ThrottleStoreError } from "effect-throttles/redis"
import { Redis as IORedis } from "ioredis"
import { RateLimiterRedis } from "rate-limiter-flexible"
import { startServer } from "../test/redis/server.js"
import { fmt, table } from "./harness.js"

/**
 * Ours as users run it: the built package (`dist/`, compiled by tsc), as the peers run from their built packages.
 * Not the sources through tsx: its transform wraps every named function it creates in a `__name` call, and moves
 * our figures, not the peers' (the same loop of 8 callers, in the same minute: 15 000 grants/s and p50 0.45 ms on
 * `src/` through tsx, 17 700 and 0.40 ms on `dist/`). `npm run bench` builds first.
 */
const builtUrl = new URL("../dist/redis.js", import.meta.url)
if (!existsSync(builtUrl)) {
  throw new Error(`bench/redis.ts runs the built package: ${fileURLToPath(builtUrl)} is missing (npm run build)`)
}
const { Redis, ThrottleRedis } = await import(builtUrl.href) as typeof import("effect-throttles/redis")
// the worker's hook on decided grant times, from the same built module (not a second copy from src/)
const { OnGrant } = await import(new URL("../dist/internal/redisThrottle.js", import.meta.url).href) as
  typeof import("../src/internal/redisThrottle.js")

/** Callers of the throughput scenario: few (latency), many (throughput). */
const CONCURRENCIES = [8, 64] as const
/** Warm-up before each measured run (the JIT and the connection; the first second of a process is slow). */
const WARM_UP_MS = 1000
/**
 * A runner's unmeasured run at the start of each round, after it sat idle while the others ran. Resuming from idle
 * is slow for every limiter and floor alike: in one run, the first 100 ms of a round had p99 of 1.7–19 ms (each
 * limiter and floor), the rest of the round 0.4–3.6 ms. The closed and open loops measure a steady load, which
 * has no such pauses.
 */
const REWARM_MS = 200
const PROCESSES = 4
/**
 * The rate of the scenarios with the limit out of reach: a billion per million seconds (the peer's fixed window
 * needs a whole-millisecond refill). It was a million per 1000 s until ours passed 150 000 grants/s at 64 callers:
 * it then used the million up within the run, and its callers waited out the window (a quarter of an hour).
 */
const OUT_OF_REACH = { limit: 1e9, seconds: 1e6 } as const
const LIMIT = 50

type Kind = "ours" | "rate-limiter-flexible" | "@effect/experimental"
const KINDS: ReadonlyArray<Kind> = ["ours", "rate-limiter-flexible", "@effect/experimental"]

/**
 * A limiter as the benchmark drives it: `loop` runs `concurrency` callers taking permits until `until()` is false,
 * each call's latency to `record` (Effect-based limiters run their callers as fibers of one program, as an Effect
 * application would).
 */
interface Driver {
  readonly loop: (concurrency: number, until: () => boolean, record: (ms: number) => void) => Promise<void>
  /**
   * Open loop: calls arrive at `perSecond` for `ms` whatever the replies do (each started on the arrivals' schedule,
   * at most a timer tick late), each call's latency — from the moment it is issued to its grant — to `record`.
   */
  readonly open: (perSecond: number, ms: number, record: (ms: number) => void) => Promise<void>
  readonly close: () => Promise<void>
}

const promiseLoop =
  (take: () => Promise<void>) =>
  async (concurrency: number, until: () => boolean, record: (ms: number) => void): Promise<void> => {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (until()) {
        const t0 = performance.now()
        await take()
        record(performance.now() - t0)
      }
    }))
  }

/**
 * The open loop's schedule, `perSecond` arrivals for `ms` from now: each call returns how many calls are due since
 * the last one (the loop then sleeps a timer tick), or `undefined` once the time is over.
 */
const arrivals = (perSecond: number, ms: number): () => number | undefined => {
  const start = performance.now()
  let issued = 0
  return () => {
    const elapsed = performance.now() - start
    if (elapsed >= ms) return undefined
    const due = Math.floor((elapsed * perSecond) / 1000) - issued
    issued += due
    return due
  }
}

const promiseOpen =
  (take: () => Promise<void>) =>
  async (perSecond: number, ms: number, record: (ms: number) => void): Promise<void> => {
    // a count and one promise, as for the fibers below (an array of every call's promise would live through the
    // run and add its own collections to the tail)
    let pending = 0
    let issuing = true
    let drained!: () => void
    const done = new Promise<void>((resolve) => {
      drained = resolve
    })
    const settle = () => {
      if (--pending === 0 && !issuing) drained()
    }
    const next = arrivals(perSecond, ms)
    for (let due = next(); due !== undefined; due = next()) {
      for (let i = 0; i < due; i++) {
        const t0 = performance.now()
        pending++
        take().then(() => record(performance.now() - t0)).finally(settle)
      }
      await sleep(1)
    }
    issuing = false
    if (pending > 0) await done
  }

const fiberOpen = (take: Effect.Effect<unknown, unknown>) =>
(perSecond: number, ms: number, record: (ms: number) => void) =>
  Effect.gen(function*() {
    // a count and one Deferred rather than `Fiber.joinAll`, which takes seconds over 30 000 fibers
    const drained = yield* Deferred.make<void>()
    let pending = 0
    let issuing = true
    const settle = Effect.suspend(() => --pending === 0 && !issuing ? Deferred.succeed(drained, undefined) : Effect.void)
    const next = arrivals(perSecond, ms)
    for (let due = next(); due !== undefined; due = next()) {
      for (let i = 0; i < due; i++) {
        const t0 = performance.now()
        pending++
        yield* Effect.fork(Effect.ensuring(Effect.map(take, () => record(performance.now() - t0)), settle))
      }
      yield* Effect.sleep(1)
    }
    issuing = false
    if (pending > 0) yield* Deferred.await(drained)
  })

const fiberLoop = (take: Effect.Effect<unknown, unknown>) =>
(concurrency: number, until: () => boolean, record: (ms: number) => void) =>
  Effect.all(
    Array.from({ length: concurrency }, () =>
      Effect.whileLoop({
        while: until,
        body: () => {
          const t0 = performance.now()
          return Effect.map(take, () => record(performance.now() - t0))
        },
        step: () => {}
      })),
    { concurrency: "unbounded", discard: true }
  )

/** The tag the bench provides our throttle under. */
class ThrottleTag extends Context.Tag("bench/RedisThrottle")<ThrottleTag, Throttle.Service<ThrottleStoreError>>() {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const wallNow = () => performance.timeOrigin + performance.now()

/**
 * Builds a limiter of `kind` on `url`, key `key`, `limit` per `seconds`. `onGrant` gets our script's grant times.
 */
const driver = async (
  kind: Kind,
  url: string,
  key: string,
  limit: number,
  seconds: number,
  onGrant?: (at: number) => void
): Promise<Driver> => {
  switch (kind) {
    case "ours": {
      const layer = Layer.scoped(
        ThrottleTag,
        ThrottleRedis.make({
          key,
          rate: { limit, period: `${seconds} seconds` },
          onStoreError: "fail",
          ...(onGrant === undefined ? {} : { [OnGrant]: (at: number) => onGrant(at) })
        } as ThrottleRedisTypes.Options<"fail">)
      ).pipe(Layer.provide(Redis.layer(url)))
      const managed = ManagedRuntime.make(layer)
      const throttle = await managed.runPromise(ThrottleTag)
      return {
        loop: (c, until, record) => managed.runPromise(fiberLoop(throttle.acquire())(c, until, record)),
        open: (perSecond, ms, record) => managed.runPromise(fiberOpen(throttle.acquire())(perSecond, ms, record)),
        close: () => managed.dispose()
      }
    }
    case "rate-limiter-flexible": {
      const client = new IORedis(url, { enableOfflineQueue: false })
      await new Promise<void>((resolve) => client.once("ready", () => resolve()))
      const limiter = new RateLimiterRedis({ storeClient: client, points: limit, duration: seconds, keyPrefix: "rlf" })
      const take = async (): Promise<void> => {
        for (;;) {
          try {
            await limiter.consume(key)
            return
          } catch (rejection) {
            const wait = (rejection as { msBeforeNext?: number }).msBeforeNext
            if (typeof wait !== "number") throw rejection
            await sleep(wait)
          }
        }
      }
      return { loop: promiseLoop(take), open: promiseOpen(take), close: () => client.quit().then(() => {}) }
    }
    case "@effect/experimental": {
      const u = new URL(url)
      const layer = RateLimiter.layer.pipe(
        Layer.provide(RateLimiterRedisStore.layerStore({ host: u.hostname, port: Number(u.port), prefix: "fx:" }))
      )
      const managed = ManagedRuntime.make(layer)
      const withLimiter = await managed.runPromise(
        RateLimiter.makeWithRateLimiter.pipe(Effect.map((f) =>
          f({ algorithm: "fixed-window", onExceeded: "delay", window: `${seconds} seconds`, limit, key })
        ))
      )
      return {
        loop: (c, until, record) => managed.runPromise(fiberLoop(withLimiter(Effect.void))(c, until, record)),
        open: (perSecond, ms, record) =>
          managed.runPromise(fiberOpen(withLimiter(Effect.void))(perSecond, ms, record)),
        close: () => managed.dispose()
      }
    }
  }
}


// -- worker mode ---------------------------------------------------------------------------------------------------

interface WorkerArgs {
  readonly kind: Kind
  readonly url: string
  readonly key: string
  readonly seconds: number
  readonly concurrency: number
}

const worker = async (args: WorkerArgs) => {
  // warmed up as the runners are: a second of the same limiter with the limit out of reach, on a key of its own
  // (a cold process resumes a burst's callers late, from the JIT and first-call costs, not from its limiter)
  const warmKey = `${args.key}-warm-${process.pid}`
  const warm = await driver(args.kind, args.url, warmKey, OUT_OF_REACH.limit, OUT_OF_REACH.seconds)
  const warmUntil = performance.now() + WARM_UP_MS
  await warm.loop(args.concurrency, () => performance.now() < warmUntil, () => {})
  await warm.close()
  const grants: Array<number> = []
  const d = await driver(args.kind, args.url, args.key, LIMIT, 1, (at) => grants.push(at))
  process.send?.({ type: "ready" })
  await new Promise<void>((resolve) => process.once("message", () => resolve()))
  const starts: Array<number> = []
  const deadline = Date.now() + args.seconds * 1000
  await d.loop(args.concurrency, () => Date.now() < deadline, () => starts.push(wallNow()))
  await d.close()
  await new Promise<void>((resolve) => process.send?.({ type: "done", starts, grants }, () => resolve()))
}

// -- runner mode: one limiter or floor of the closed or the open loop, in a process of its own ---------------------

/**
 * What a runner process measures. Each limiter and each floor runs in a process of its own, as an application
 * runs one limiter: loaded into one process, they would share `effect`'s and ioredis' code and the JIT's feedback
 * on it, and weigh on each other (the same build of ours loaded twice into one process measured 55.4 µs of CPU per
 * grant as its second copy and 35.6 as its first).
 */
interface RunnerArgs {
  /** A `Kind`, one of `ROUND_TRIPS` (closed loop) or one of `OPEN_FLOORS` (open loop). */
  readonly runner: string
  readonly url: string
  readonly loop: "closed" | "open"
  readonly concurrency: number
}

/** The limiters and floors of the open loop's rows. */
const OPEN_FLOORS = ["no limiter (Effect fibers)", "no limiter (promises)"]

const runnerDriver = async (args: RunnerArgs): Promise<Driver> => {
  const kind = KINDS.find((k) => k === args.runner)
  if (kind !== undefined) {
    return driver(
      kind,
      args.url,
      `${args.loop}-${kind}-${args.concurrency}-${Date.now()}`,
      OUT_OF_REACH.limit,
      OUT_OF_REACH.seconds
    )
  }
  const floor = ROUND_TRIPS.indexOf(args.runner)
  if (floor >= 0) return roundTrip(args.url, floor === 0)
  const unused = () => Promise.reject(new Error(`${args.runner} runs the open loop only`))
  switch (OPEN_FLOORS.indexOf(args.runner)) {
    case 0:
      return {
        loop: unused,
        open: (perSecond, ms, record) => Effect.runPromise(fiberOpen(Effect.void)(perSecond, ms, record)),
        close: () => Promise.resolve()
      }
    case 1:
      return { loop: unused, open: promiseOpen(() => Promise.resolve()), close: () => Promise.resolve() }
  }
  throw new Error(`Expected a limiter or a floor, got ${args.runner}`)
}

/** A runner process: warms up, then runs each round it is sent and sends back the latencies and its own time. */
const runner = async (args: RunnerArgs) => {
  const d = await runnerDriver(args)
  const run = (ms: number, record: (ms: number) => void): Promise<void> => {
    if (args.loop === "open") return d.open(OFFERED, ms, record)
    const deadline = performance.now() + ms
    return d.loop(args.concurrency, () => performance.now() < deadline, record)
  }
  // (made once, before the warm-up: see recorder)
  const latencies = recorder()
  await run(WARM_UP_MS, () => {})
  const send = (message: unknown) => new Promise<void>((resolve) => process.send?.(message, () => resolve()))
  await send({ type: "ready" })
  process.on("message", async (m: { readonly type: "run"; readonly ms: number } | { readonly type: "close" }) => {
    if (m.type === "close") {
      await d.close()
      await send({ type: "closed" })
      process.exit(0)
    }
    await run(REWARM_MS, () => {})
    latencies.reset()
    const started = performance.now()
    await run(m.ms, latencies.record)
    await send({ type: "done", latencies: latencies.values(), elapsed: performance.now() - started })
  })
}

/** The messages of a child process, taken by type in the order they came. */
const inboxOf = (child: ChildProcess) => {
  const messages: Array<any> = []
  const waiters: Array<() => void> = []
  child.on("message", (m) => {
    messages.push(m)
    for (const w of waiters.splice(0)) w()
  })
  child.on("exit", () => {
    for (const w of waiters.splice(0)) w()
  })
  return async (type: string): Promise<any> => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type)
      if (i >= 0) return messages.splice(i, 1)[0]
      if (child.exitCode !== null) throw new Error(`a benchmark process exited (${child.exitCode}) before "${type}"`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
}

/** Starts a runner process and waits until it has warmed up: its `Run` for `inRounds`, and a `close`. */
const startRunner = async (args: RunnerArgs) => {
  const child = fork(fileURLToPath(import.meta.url), [`--runner=${JSON.stringify(args)}`], {
    execArgv: ["--import", "tsx"],
    serialization: "advanced"
  })
  const next = inboxOf(child)
  await next("ready")
  const run: Run = async (ms, record) => {
    child.send({ type: "run", ms })
    const done = await next("done") as { readonly latencies: Float64Array; readonly elapsed: number }
    for (let i = 0; i < done.latencies.length; i++) record(done.latencies[i] as number)
    return done.elapsed
  }
  const close = async () => {
    if (child.exitCode !== null) return // it failed already (its error is the one reported)
    child.send({ type: "close" })
    await next("closed")
  }
  return { run, close }
}

/** Starts the runners of `names` one after another (each warms up alone), runs them in rounds, and closes them. */
const inProcesses = async (
  names: ReadonlyArray<string>,
  args: Omit<RunnerArgs, "runner">,
  seconds: number
): Promise<ReadonlyArray<Summary>> => {
  const runners: Array<{ readonly run: Run; readonly close: () => Promise<void> }> = []
  try {
    for (const name of names) runners.push(await startRunner({ ...args, runner: name }))
    return await inRounds(runners.map((r) => r.run), seconds)
  } finally {
    for (const r of runners) await r.close()
  }
}

// -- scenarios -----------------------------------------------------------------------------------------------------

/**
 * Latencies in one preallocated array: a growing JS array would be copied through the young generation as it grows
 * and add its own GC pauses to every limiter's tail. A runner makes one and `reset`s it every round: a new 16 MB
 * array per round counted as that much more external memory each time, and V8 answered with a full collection
 * in most rounds (5–7 ms pauses, seen with `--trace-gc`), which in the open loop held 70–230 calls each and put
 * every limiter's p99 at 8–15 ms (0.3–0.9 ms in the rounds without one).
 */
const recorder = () => {
  const values = new Float64Array(1 << 21)
  let n = 0
  return {
    record: (ms: number) => {
      if (n < values.length) values[n++] = ms
    },
    reset: () => {
      n = 0
    },
    get count() {
      return n
    },
    values: () => values.subarray(0, n)
  }
}

/** Grants per second and call latency (p50 / p99 / max, the latencies sorted once) of a run that took `ms`. */
const summarize = (latencies: ReturnType<typeof recorder>, ms: number) => {
  const sorted = Float64Array.from(latencies.values()).sort()
  // (as harness.ts's `percentile`: linear between the closest ranks)
  const at = (p: number): number => {
    if (sorted.length === 0) return Number.NaN
    const rank = (p / 100) * (sorted.length - 1)
    const lo = sorted[Math.floor(rank)] as number
    return lo + ((sorted[Math.ceil(rank)] as number) - lo) * (rank - Math.floor(rank))
  }
  return { grantsPerSecond: latencies.count / (ms / 1000), p50: at(50), p99: at(99), max: at(100) }
}

/** What `summarize` returns. */
type Summary = ReturnType<typeof summarize>

/** Rounds of the closed- and open-loop scenarios: each runner runs `seconds / ROUNDS` per round, in a rotating order. */
const ROUNDS = 6

/**
 * One runner of a scenario: runs for about `ms` and records each call's latency; returns the time it ran, as it
 * measured it (a runner in another process), or nothing (then the caller's time around it counts).
 */
type Run = (ms: number, record: (ms: number) => void) => Promise<number | void>

/**
 * Runs every one of `runs` for `seconds` in all: in `ROUNDS` rounds, each for its share of `seconds` per round, the
 * order rotating, so that a slow moment of the shared machine falls on all of them alike (one block of `seconds`
 * each would put it on whichever ran then); each one's latencies are pooled over its rounds.
 */
const inRounds = async (runs: ReadonlyArray<Run>, seconds: number) => {
  const latencies = runs.map(() => recorder())
  const elapsed = runs.map(() => 0)
  const share = (seconds * 1000) / ROUNDS
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < runs.length; j++) {
      const i = (round + j) % runs.length
      const started = performance.now()
      const own = await (runs[i] as Run)(share, (latencies[i] as ReturnType<typeof recorder>).record)
      elapsed[i] = (elapsed[i] as number) + (typeof own === "number" ? own : performance.now() - started)
    }
  }
  return runs.map((_, i) => summarize(latencies[i] as ReturnType<typeof recorder>, elapsed[i] as number))
}

/**
 * Grants per second and call latency on one key, `concurrency` callers, the limit out of reach, for every limiter
 * and the round-trip floors, each in a process of its own, in rounds (`inRounds`).
 */
const throughput = async (url: string, seconds: number, concurrency: number) => {
  const names = [...KINDS, ...ROUND_TRIPS]
  const summaries = await inProcesses(names, { url, loop: "closed", concurrency }, seconds)
  return names.map((kind, i) => ({ kind, concurrency, ...(summaries[i] as Summary) }))
}

/** The floor rows of the closed loop. */
const ROUND_TRIPS = ["floor: a bare EVALSHA round trip (fibers)", "floor: a bare EVALSHA round trip (promises)"]

/**
 * The floors of the closed loop: each caller sends one `EVALSHA` of a script that returns at once through one
 * ioredis client, and waits for the reply; no limiter. What any limiter that asks Redis once per grant pays here
 * (the machine's loopback, Redis's command loop, ioredis), the callers as fibers of one Effect program (as ours
 * and `@effect/experimental` run) or as promises (as `rate-limiter-flexible` runs): their p99 is how far this
 * machine lets a client of either kind go at that moment.
 */
const roundTrip = async (url: string, fibers: boolean): Promise<Driver> => {
  const client = new IORedis(url, { enableOfflineQueue: false })
  await new Promise<void>((resolve) => client.once("ready", () => resolve()))
  const sha = await client.script("LOAD", "return 1") as string
  const take = () => client.evalsha(sha, 0).then(() => {})
  const call = Effect.promise(take)
  return {
    loop: fibers ? (c, until, record) => Effect.runPromise(fiberLoop(call)(c, until, record)) : promiseLoop(take),
    open: () => Promise.reject(new Error("the round-trip floors run the closed loop only")),
    close: () => client.quit().then(() => {})
  }
}

/** The offered load of the open-loop scenario: the floor for grants per second. */
const OFFERED = 10_000

/**
 * Call latency at a fixed offered load: `OFFERED` calls a second arrive on one key, the limit out of reach, whatever
 * the replies do (closed-loop callers measure their own queue as much as the limiter: with 64 of them, every call
 * waits behind the 63 others), for every limiter and the no-limiter floors, in rounds (`inRounds`). Returns the
 * achieved grants per second and p50 / p99 / max of each.
 */
const openLoad = async (url: string, seconds: number) => {
  // the floors: the same drivers with nothing to wait for
  const names = [...KINDS, ...OPEN_FLOORS]
  const summaries = await inProcesses(names, { url, loop: "open", concurrency: 0 }, seconds)
  return names.map((kind, i) => ({ kind, ...(summaries[i] as Summary) }))
}

/** Windows holding more than `limit` among `times`: the count of such windows (one per start) and the worst. */
const violations = (times: ReadonlyArray<number>, window: number, limit: number) => {
  const sorted = [...times].sort((a, b) => a - b)
  let worst = 0
  let count = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) + window <= (sorted[i] as number)) j++
    const inWindow = i - j + 1
    worst = Math.max(worst, inWindow)
    if (inWindow > limit) count++
  }
  return { count, worst }
}

const exactness = async (kind: Kind, url: string, seconds: number) => {
  const self = fileURLToPath(import.meta.url)
  const key = `ex-${kind}-${Date.now()}`
  const children = Array.from({ length: PROCESSES }, () =>
    fork(self, [`--worker=${JSON.stringify({ kind, url, key, seconds, concurrency: 8 } satisfies WorkerArgs)}`], {
      execArgv: ["--import", "tsx"]
    }))
  const inbox = children.map(inboxOf)
  await Promise.all(inbox.map((next) => next("ready")))
  for (const child of children) child.send("go")
  const reports = await Promise.all(inbox.map((next) => next("done"))) as Array<
    { starts: Array<number>; grants: Array<number> }
  >
  const starts = reports.flatMap((r) => r.starts)
  const observed = violations(starts, 1000 - 2, LIMIT)
  const decided = kind === "ours" ? violations(reports.flatMap((r) => r.grants), 1000, LIMIT) : undefined
  // the steady rate: whole periods from the middle of the first one (grants come in bursts at period boundaries)
  const first = Math.min(...starts)
  const achieved = starts.filter((t) => t >= first + 500 && t < first + 500 + (seconds - 1) * 1000).length /
    (seconds - 1)
  return { kind, starts: starts.length, observed, decided, achievedPerSecond: achieved }
}

/** Runs both scenarios and prints their tables. */
export const main = async (options: { readonly quick?: boolean } = {}): Promise<Record<string, unknown>> => {
  const server = await startServer(true)
  try {
    const seconds = options.quick === true ? 1 : 3
    console.log(`\n## Redis backend (redis-server on ${server.url})\n`)
    const tp = []
    for (const concurrency of CONCURRENCIES) {
      tp.push(...await throughput(server.url, seconds, concurrency))
    }
    console.log("Closed loop: callers taking permits one after another on one key, the limit out of reach:\n")
    console.log(table(
      ["limiter", "callers", "grants/s (one key, one process)", "p50 ms", "p99 ms", "≥ 10 000/s and p99 < 2 ms"],
      tp.map((r) => [
        r.kind,
        fmt(r.concurrency),
        fmt(r.grantsPerSecond),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        ROUND_TRIPS.includes(r.kind) ? "(floor)" : r.grantsPerSecond >= 10_000 && r.p99 < 2 ? "yes" : "no"
      ])
    ))
    const ol = await openLoad(server.url, seconds)
    console.log(`\nOpen loop: ${fmt(OFFERED)} calls a second arrive on one key, whatever the replies do:\n`)
    console.log(table(
      ["limiter", "grants/s", "p50 ms", "p99 ms", "max ms", "p99 < 2 ms"],
      ol.map((r) => [
        r.kind,
        fmt(r.grantsPerSecond),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        fmt(r.max, 2),
        r.kind.startsWith("no limiter") ? "(floor)" : r.p99 < 2 ? "yes" : "no"
      ])
    ))
    const ex = []
    for (const kind of KINDS) ex.push(await exactness(kind, server.url, options.quick === true ? 2 : 4))
    console.log(`\n${PROCESSES} processes sharing "${LIMIT}/s":\n`)
    console.log(table(
      ["limiter", "starts", "per s (steady)", "windows over 50 (seen)", "worst window (seen)", "over 50 (decided)"],
      ex.map((r) => [
        r.kind,
        fmt(r.starts),
        fmt(r.achievedPerSecond, 1),
        fmt(r.observed.count),
        fmt(r.observed.worst),
        r.decided === undefined ? "—" : `${r.decided.count} (worst ${r.decided.worst})`
      ])
    ))
    return { throughput: tp, openLoop: ol, exactness: ex }
  } finally {
    await server.stop()
  }
}

const workerArg = process.argv.find((a) => a.startsWith("--worker="))
const runnerArg = process.argv.find((a) => a.startsWith("--runner="))
if (runnerArg !== undefined) {
  runner(JSON.parse(runnerArg.slice("--runner=".length)) as RunnerArgs).catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else if (workerArg !== undefined) {
  worker(JSON.parse(workerArg.slice("--worker=".length)) as WorkerArgs).then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main({ quick: process.argv.includes("--quick") }).then(async (results) => {
    // forked by `npm run bench`: the results go back to it
    if (process.send !== undefined) await new Promise<void>((resolve) => process.send?.(results, () => resolve()))
    process.exit(0)
  }, (error) => {
    console.error(error)
    process.exit(1)
  })
}
