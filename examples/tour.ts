/**
 * A tour of every primitive, one small program each (the README shows the same code).
 *
 * Run with `npx tsx examples/tour.ts`. Each section returns the lines it prints, so `test/examples.test.ts` runs
 * the same programs under `TestClock` and checks every line, timestamps included.
 */
import { Clock, Console, Duration, Effect, Fiber } from "effect"
import {
  Barrier,
  CircuitBreaker,
  DynamicThrottle,
  KeyedThrottle,
  Releasing,
  ResourceGuard,
  Scheduler,
  TaskThrottler,
  Throttle,
  ThrottledError,
  ThrottleLive
} from "effect-throttles"

/** Milliseconds since `begin`, for printing. */
const since = (begin: number) => Effect.map(Clock.currentTimeMillis, (now) => now - begin)

// --- Throttle: "3/s" in front of 4 concurrent calls; the decorator form ------------------------------------------
export const throttleTour = Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const callApi = (id: number) => Effect.map(since(begin), (at) => `call ${id} at ${at} ms`)
  const lines = yield* Effect.forEach([1, 2, 3, 4], (id) => Throttle.withPermit(callApi(id)), {
    concurrency: "unbounded"
  })
  const throttle = yield* Throttle
  const fetchUser = throttle.throttled((id: number) => Effect.map(since(begin), (at) => `user ${id} at ${at} ms`))
  lines.push(yield* fetchUser(7))
  return lines
}).pipe(Effect.provide(ThrottleLive("3/s")))

// --- Throttle, second part: several windows, decisions for servers, deadlines, pauses -----------------------------
export const throttleQuotaTour = Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const lines: Array<string> = []
  // an API quota in two tiers: 2 per second and 3 per 10 seconds (both must have room)
  const quota = yield* Throttle.make(["2/s", "3/10s"])
  const call = (id: number) => Effect.flatMap(since(begin), (at) => Effect.sync(() => lines.push(`call ${id} at ${at} ms`)))
  yield* Effect.forEach([1, 2, 3], (id) => quota.withPermit(call(id)), { concurrency: "unbounded" })
  // what a server would answer now: refused, and when to come back
  const decision = yield* quota.attempt()
  lines.push(`attempt: granted ${decision.granted}, retry after ${Duration.toMillis(decision.retryAfter)} ms`)
  // a caller that cannot wait that long fails at once instead of queueing
  const impatient = yield* Effect.flip(quota.acquire(1, { maxWait: "1 second" }))
  lines.push(`maxWait 1 s: ${impatient._tag}, retry after ${Duration.toMillis(impatient.retryAfter)} ms`)
  // "the server said wait": no grant before the pause ends
  const api = yield* Throttle.make("10/s")
  yield* api.pause("1500 millis")
  yield* api.withPermit(Effect.flatMap(since(begin), (at) => Effect.sync(() => lines.push(`after the pause at ${at} ms`))))
  return lines
}).pipe(Effect.scoped)

// --- KeyedThrottle: one throttle per host, dropped once idle -----------------------------------------------------
export const keyedTour = Effect.scoped(Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const perHost = yield* KeyedThrottle.make({
    rate: (host: string) => (host === "api.github.com" ? "2/s" : "1/s"),
    idleTimeToLive: "5 seconds"
  })
  const get = (host: string) => perHost.withPermit(host)(Effect.map(since(begin), (at) => `${host} at ${at} ms`))
  const hosts = ["api.github.com", "example.org", "api.github.com", "api.github.com", "example.org"]
  const lines = yield* Effect.forEach(hosts, get, { concurrency: "unbounded" })
  lines.push(`${yield* perHost.size} hosts live`)
  yield* Effect.sleep("7 seconds") // both hosts' windows empty at 2 s: dropped at 7 s
  lines.push(`${yield* perHost.size} hosts live 7 s later`)
  return lines
}))

// --- Scheduler: aiometer's run_all with max_per_second -----------------------------------------------------------
export const schedulerTour = Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const job = (name: string) => Effect.map(since(begin), (at) => `${name} started at ${at} ms`)
  return yield* Scheduler.runAll([job("a"), job("b"), job("c")], { maxPerSecond: 4, maxAtOnce: 2 })
})

// --- TaskThrottler: a work queue where one task is told "throttled, retry later" ---------------------------------
export const taskThrottlerTour = Effect.gen(function*() {
  const begin = yield* Clock.currentTimeMillis
  const lines: Array<string> = []
  const page = (n: number): Effect.Effect<string, ThrottledError<string>> =>
    n === 2
      ? Effect.fail(new ThrottledError({ retry: Effect.succeed("page 2 (retried)"), retryAfter: "1 second" }))
      : Effect.succeed(`page ${n}`)
  const summary = yield* TaskThrottler.run({
    tasks: [1, 2, 3].map(page),
    consumer: (text) => Effect.flatMap(since(begin), (at) => Effect.sync(() => lines.push(`${text} at ${at} ms`))),
    window: "1 second",
    perWindow: 10,
    concurrency: 2
  })
  lines.push(`processed ${summary.processed}, failed ${summary.failed.length}, retries ${summary.retries}`)
  return lines
})

// --- CircuitBreaker: two failures open it; one second later a trial call closes it -------------------------------
export const breakerTour = Effect.scoped(Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "payments", maxFailures: 2, resetTimeout: "1 second" })
  const lines: Array<string> = []
  const call = (ok: boolean) =>
    breaker.protect(ok ? Effect.succeed("ok") : Effect.fail("timeout")).pipe(
      Effect.catchAll((error) => Effect.succeed(typeof error === "string" ? error : error._tag)),
      Effect.flatMap((result) => Effect.map(breaker.state, (state) => `${result} -> ${state}`))
    )
  lines.push(yield* call(false), yield* call(false), yield* call(true))
  yield* Effect.sleep("1 second")
  lines.push(yield* call(true))
  return lines
}))

// --- DynamicThrottle: four successes in a window of four raise the rate by 25% -----------------------------------
export const dynamicTour = Effect.gen(function*() {
  const throttle = yield* DynamicThrottle.make({ initialRate: 10, window: 4, jitter: 0 })
  const begin = yield* Clock.currentTimeMillis
  const starts = yield* Effect.forEach([1, 2, 3, 4], () => throttle.withPermit(since(begin)))
  return [`starts at ${starts.join(", ")} ms`, `rate now ${yield* throttle.rate}/s`]
})

// --- Barrier: three workers line up and all see every state ------------------------------------------------------
export const barrierTour = Effect.gen(function*() {
  const barrier = yield* Barrier.make<number>({ parties: 3 })
  const results = yield* Effect.forEach([1, 3, 5], (state) => barrier.wait(state), { concurrency: "unbounded" })
  return results.map(({ position, states }) => `position ${position}: states [${states.join(", ")}]`)
})

// --- ResourceGuard: fail fast instead of waiting -----------------------------------------------------------------
export const guardTour = Effect.gen(function*() {
  const guard = yield* ResourceGuard.make({ resource: "report.csv", action: "writing" })
  const nested = yield* Effect.flip(guard.use(guard.use(Effect.void)))
  return [nested.message, `success ratio ${yield* guard.successRatio}`]
})

// --- Releasing: let someone else use the lock while we wait ------------------------------------------------------
export const releasingTour = Effect.gen(function*() {
  const lock = yield* Effect.makeSemaphore(1)
  const lines: Array<string> = []
  yield* lock.withPermits(1)(Effect.gen(function*() {
    const other = yield* Effect.fork(lock.withPermits(1)(Effect.sync(() => lines.push("the other fiber got the lock"))))
    yield* Releasing.releasing(lock)(Fiber.join(other))
    lines.push("we hold the lock again")
  }))
  return lines
})

export const sections = {
  Throttle: throttleTour,
  ThrottleQuota: throttleQuotaTour,
  KeyedThrottle: keyedTour,
  Scheduler: schedulerTour,
  TaskThrottler: taskThrottlerTour,
  CircuitBreaker: breakerTour,
  DynamicThrottle: dynamicTour,
  Barrier: barrierTour,
  ResourceGuard: guardTour,
  Releasing: releasingTour
} as const

if (process.argv[1]?.endsWith("tour.ts")) {
  Effect.runPromise(Effect.forEach(Object.entries(sections), ([name, section]) =>
    Effect.flatMap(section, (lines) => Console.log(`${name}\n${lines.map((line) => `  ${line}`).join("\n")}`)), {
    discard: true
  }))
}
