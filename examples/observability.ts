/**
 * Watching it run: a Throttle, a CircuitBreaker and a DynamicThrottle in front of a flaky service, exported through
 * OpenTelemetry (`@effect/opentelemetry`), with a live status line once a second.
 *
 *   npx tsx examples/observability.ts        # 5 seconds
 *   npx tsx examples/observability.ts 10     # 10 seconds
 *
 * The service is an in-process Effect: it answers in 5-20 ms, one call in ten takes 150 ms, and 30% of the calls
 * fail. Eight workers call it as fast as the flow control lets them:
 *
 *   throttle "20/s" (maxWait 1 s)  ->  breaker (opens on 3 failures in a row, half-open after 1 s)
 *                                  ->  dynamic throttle (starts at 15/s, adapts every 10 outcomes)  ->  service
 *
 * Every second a line is printed from the Effect metrics the primitives keep (the same values the OpenTelemetry
 * metric reader exports):
 *
 *   t=3s rate=19.0/s queue=6 in-flight=2 breaker=closed dyn-rate=18.8/s granted=58 timeouts=0 rejected=4
 *
 * At the end: the spans exported by name (`effect_throttles.acquire` is a wait that waited, in the throttle or
 * the dynamic throttle; `example.call` is one call), the span events the breaker added to the calls (rejections,
 * transitions), and the `effect_throttles_*` metric series as the OpenTelemetry reader collected them.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Console, Data, Effect, Fiber, Metric, Random } from "effect"
import { CircuitBreaker, DynamicThrottle, Throttle } from "effect-throttles"
import { pathToFileURL } from "node:url"

class ServiceError extends Data.TaggedError("ServiceError")<{ readonly status: number }> {}

/** The flaky dependency: 5-20 ms, one call in ten 150 ms; 30% fail with a 503. */
const flakyService = Effect.gen(function*() {
  const slow = (yield* Random.next) < 0.1
  yield* Effect.sleep(slow ? 150 : yield* Random.nextIntBetween(5, 21))
  if ((yield* Random.next) < 0.3) return yield* new ServiceError({ status: 503 })
  return "ok"
})

/** A metric reader that exports when asked (`collect()`), the way a Prometheus scrape does. */
class OnDemandReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Sum of the Effect metric series named `name` whose tags include `tags` (counter count or gauge value). */
const metricValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const labels = pair.metricKey.tags
      if (!Object.entries(tags).every(([k, v]) => labels.some((l) => l.key === k && l.value === v))) continue
      const state = pair.metricState as { readonly count?: number; readonly value?: number }
      total += Number(state.count ?? state.value ?? 0)
    }
    return total
  })

const BREAKER_STATES = ["closed", "half-open", "open"] as const

/** What one run saw. */
export interface Summary {
  /** The status lines, one a second. */
  readonly statusLines: ReadonlyArray<string>
  /** Exported spans, by span name. */
  readonly spans: Readonly<Record<string, number>>
  /** Events recorded on the exported spans, by event name. */
  readonly spanEvents: Readonly<Record<string, number>>
  /** `effect_throttles_*` series collected by the OpenTelemetry metric reader: `name{tag=value,...}` → value. */
  readonly exportedMetrics: Readonly<Record<string, number>>
  /** Permits the throttle granted, from its `stats`. */
  readonly granted: number
  /** Calls that reached the service, and those that succeeded. */
  readonly calls: number
  readonly successes: number
}

/** Runs the example for `seconds` (an integer >= 1), printing a status line a second and a summary at the end. */
export const main = (seconds = 5): Effect.Effect<Summary> => {
  const spanExporter = new InMemorySpanExporter()
  const metricReader = new OnDemandReader()
  const Otel = NodeSdk.layer(() => ({
    resource: { serviceName: "effect-throttles-observability-example" },
    spanProcessor: new SimpleSpanProcessor(spanExporter),
    metricReader
  }))

  const program = Effect.gen(function*() {
    const throttle = yield* Throttle.make("20/s", { name: "api" })
    const breaker = yield* CircuitBreaker.make({ name: "api", maxFailures: 3, resetTimeout: "1 second" })
    const dynamic = yield* DynamicThrottle.make({ name: "api", initialRate: 15, minRate: 2, maxRate: 40, window: 10 })

    let calls = 0
    let successes = 0
    const service = Effect.suspend(() => {
      calls++
      return Effect.tap(flakyService, () => Effect.sync(() => successes++))
    })
    const call = throttle
      .withPermit(breaker.protect(dynamic.withPermit(service)), { maxWait: "1 second" })
      .pipe(Effect.withSpan("example.call"), Effect.ignore)
    const workers = yield* Effect.forkAll(Array.from({ length: 8 }, () => Effect.forever(call)))

    // the status line, from the metrics (a gauge is updated in the same step as the state it describes)
    const read = Effect.all({
      granted: metricValue("effect_throttles_throttle_granted_total", { name: "api" }),
      timeouts: metricValue("effect_throttles_throttle_rejected_total", { name: "api", reason: "maxWait" }),
      queue: metricValue("effect_throttles_throttle_waiting", { name: "api" }),
      inFlight: metricValue("effect_throttles_throttle_in_flight", { name: "api" }),
      breaker: metricValue("effect_throttles_circuit_breaker_state", { name: "api" }),
      rejected: metricValue("effect_throttles_circuit_breaker_calls_total", { name: "api", outcome: "rejected" }),
      dynRate: metricValue("effect_throttles_dynamic_throttle_rate", { name: "api" })
    })
    const statusLines: Array<string> = []
    let previous = yield* read
    for (let t = 1; t <= seconds; t++) {
      yield* Effect.sleep("1 second")
      const now = yield* read
      const line = `t=${t}s rate=${(now.granted - previous.granted).toFixed(1)}/s queue=${now.queue} ` +
        `in-flight=${now.inFlight} breaker=${BREAKER_STATES[now.breaker] ?? now.breaker} ` +
        `dyn-rate=${now.dynRate.toFixed(1)}/s granted=${now.granted} timeouts=${now.timeouts} rejected=${now.rejected}`
      statusLines.push(line)
      yield* Console.log(line)
      previous = now
    }
    yield* Fiber.interrupt(workers)

    // the summary: what went out through OpenTelemetry
    const spans: Record<string, number> = {}
    const spanEvents: Record<string, number> = {}
    for (const span of spanExporter.getFinishedSpans()) {
      spans[span.name] = (spans[span.name] ?? 0) + 1
      for (const event of span.events) spanEvents[event.name] = (spanEvents[event.name] ?? 0) + 1
    }
    const exportedMetrics: Record<string, number> = {}
    const { resourceMetrics } = yield* Effect.promise(() => metricReader.collect())
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (!metric.descriptor.name.startsWith("effect_throttles_")) continue
        for (const point of metric.dataPoints) {
          const tags = Object.entries(point.attributes).map(([k, v]) => `${k}=${String(v)}`).join(",")
          const value = point.value as number | { readonly count: number }
          exportedMetrics[`${metric.descriptor.name}{${tags}}`] = typeof value === "number" ? value : value.count
        }
      }
    }
    const { granted } = yield* throttle.stats

    yield* Console.log(`\nspans exported:`)
    for (const [name, count] of Object.entries(spans).sort()) yield* Console.log(`  ${name}: ${count}`)
    yield* Console.log(`span events:`)
    for (const [name, count] of Object.entries(spanEvents).sort()) yield* Console.log(`  ${name}: ${count}`)
    yield* Console.log(`metrics exported (histograms: count):`)
    for (const [name, value] of Object.entries(exportedMetrics).sort()) yield* Console.log(`  ${name}: ${value}`)
    yield* Console.log(`service: ${calls} calls, ${successes} succeeded; throttle granted ${granted}`)
    return { statusLines, spans, spanEvents, exportedMetrics, granted, calls, successes }
  })

  return program.pipe(Effect.scoped, Effect.provide(Otel))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = process.argv[2] === undefined ? 5 : Number(process.argv[2])
  Effect.runPromise(main(seconds))
}
