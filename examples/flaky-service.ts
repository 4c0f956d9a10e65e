/**
 * A DynamicThrottle and a CircuitBreaker in front of a simulated flaky dependency.
 *
 *   npx tsx examples/flaky-service.ts
 *
 * Four workers call the dependency as fast as the throttle lets them, for 5 seconds of real time:
 *
 *   0.0 s - 1.2 s  healthy     (3% errors)           the throttle raises its rate, window (8 calls) after window
 *   1.2 s - 2.4 s  outage      (90% errors)          the breaker opens, calls are rejected at once, the rate falls
 *   2.4 s - 5.0 s  recovering  (healthy, but it answers 429 + Retry-After 200 ms when called more than 15 times in 500 ms)
 *                                                    a trial closes the breaker; each 429 cuts the rate and pauses
 *
 * Every line shows the throttle's rate and the breaker's state; breaker transitions are printed as they happen.
 * Randomness comes from a seeded `Random`, so each run tells (nearly) the same story.
 */
import { Clock, Console, Data, Duration, Effect, Fiber, Random, Ref, Stream } from "effect"
import { CircuitBreaker } from "effect-throttles"
import { DynamicThrottle } from "effect-throttles"

class ServiceError extends Data.TaggedError("ServiceError")<{ readonly status: number }> {}
class TooManyRequests extends Data.TaggedError("TooManyRequests")<{ readonly retryAfter: Duration.Duration }> {}

const RUN_FOR = 5000

const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - start)
  const stamp = (ms: number) => `${(ms / 1000).toFixed(2).padStart(5)}s`

  // --- the simulated dependency -------------------------------------------------------------------------------
  const recentCalls = yield* Ref.make<ReadonlyArray<number>>([])
  const dependency = Effect.gen(function*() {
    const t = yield* elapsed
    yield* Effect.sleep("5 millis") // network latency
    const roll = yield* Random.next
    if (t < 1200) {
      if (roll < 0.03) return yield* new ServiceError({ status: 500 })
    } else if (t < 2400) {
      if (roll < 0.9) return yield* new ServiceError({ status: 503 })
    } else {
      const recent = yield* Ref.updateAndGet(recentCalls, (calls) => [...calls.filter((c) => c > t - 500), t])
      if (recent.length > 15) return yield* new TooManyRequests({ retryAfter: Duration.millis(200) })
    }
    return "ok"
  })

  // --- the client side ----------------------------------------------------------------------------------------
  const throttle = yield* DynamicThrottle.make({
    initialRate: 40,
    minRate: 5,
    maxRate: 200,
    window: 8,
    jitter: 0.1
    // every failure counts here, rejections by the open breaker included: while it is open we back off too
    // (pass `isFailure: (e) => !(e instanceof CircuitOpenError)` to keep the rate steady instead)
  })
  const breaker = yield* CircuitBreaker.make({
    name: "flaky-service",
    maxFailures: 5,
    resetTimeout: "400 millis",
    halfOpenMaxCalls: 1,
    // a 429 means "too fast", not "broken": the throttle handles it, the breaker ignores it
    isFailure: (e) => !(e instanceof TooManyRequests)
  })

  yield* Effect.forkScoped(
    Stream.runForEach(breaker.changes, (change) =>
      Console.log(`${stamp(change.at - start)}   ** breaker ${change.from} -> ${change.to}`))
  )

  const counts = yield* Ref.make({ ok: 0, failed: 0, rejected: 0, throttled: 0 })
  const bump = (key: "ok" | "failed" | "rejected" | "throttled") => Ref.update(counts, (c) => ({ ...c, [key]: c[key] + 1 }))

  const call = throttle.withPermit(breaker.protect(dependency)).pipe(
    Effect.tap(() => bump("ok")),
    Effect.catchTags({
      ServiceError: () => bump("failed"),
      CircuitOpenError: () => bump("rejected"),
      TooManyRequests: (e) => Effect.zipRight(bump("throttled"), throttle.reportThrottled(e.retryAfter))
    })
  )
  const worker = Effect.whileLoop({
    while: () => true,
    body: () => call,
    step: () => {}
  })

  yield* Console.log(" time    rate/s  breaker     ok  failed  rejected  429")
  const report = Effect.gen(function*() {
    const c = yield* Ref.getAndSet(counts, { ok: 0, failed: 0, rejected: 0, throttled: 0 })
    const rate = yield* throttle.rate
    const state = yield* breaker.state
    yield* Console.log(
      `${stamp(yield* elapsed)}  ${rate.toFixed(1).padStart(6)}  ${state.padEnd(9)}  ${String(c.ok).padStart(3)}  ${
        String(c.failed).padStart(6)
      }  ${String(c.rejected).padStart(8)}  ${String(c.throttled).padStart(3)}`
    )
  })

  const workers = yield* Effect.forkAll([worker, worker, worker, worker])
  const reporter = yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep("250 millis"), report)))
  yield* Effect.sleep(Duration.millis(RUN_FOR))
  yield* Fiber.interrupt(workers)
  yield* Fiber.interrupt(reporter)
  yield* Console.log(`\nfinal rate ${(yield* throttle.rate).toFixed(2)}/s, breaker ${yield* breaker.state}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.withRandom(Random.make("flaky-service"))))
