/**
 * What a Throttle tells the outside world: Effect metrics (defined once here, tagged per throttle), a span for a
 * wait that waits, and the `events` stream. Every update happens in the same synchronous step as the state change
 * it describes, so a gauge never disagrees with `stats`.
 *
 * Events go to the shared `EventHub` (a sliding `PubSub` offered to synchronously): a slow subscriber loses its
 * oldest events, never slows the throttle, and with no subscriber an event costs one field read.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as MetricState from "effect/MetricState"
import * as MutableHashMap from "effect/MutableHashMap"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { Throttle } from "../Throttle.js"
import { EventHub, EVENTS_CAPACITY } from "./observability.js"
import { runningFiber } from "./runningFiber.js"

/** Effect's built-in tracer (the one in the default services). */
const nativeTracer: Tracer.Tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** The event constructors (`Event.Granted({ permits, waited })`, …) and matchers. */
export const Event = Data.taggedEnum<Throttle.Event>()

/**
 * Wait-time histogram boundaries, in seconds: 0.1 ms doubling to about 3.5 minutes (22 buckets), so both a
 * sub-millisecond settling and a minute-long queue land in a bucket of their own.
 */
export const waitBoundaries = MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 22 })

/**
 * The metric keys, defined once for the module; each throttle derives its instances tagged `name` (and `reason` for
 * refusals, after `name`). No descriptions, so that `Metric.counter(<name>)` in user code reads the same metric.
 */
export const keys = {
  granted: MetricKey.counter("effect_throttles_throttle_granted_total"),
  rejected: MetricKey.counter("effect_throttles_throttle_rejected_total"),
  wait: MetricKey.histogram("effect_throttles_throttle_wait_seconds", waitBoundaries),
  waiting: MetricKey.gauge("effect_throttles_throttle_waiting"),
  inFlight: MetricKey.gauge("effect_throttles_throttle_in_flight")
}

/** The same metrics as `Metric` values (untagged), for reading them back: `Metric.tagged(m, "name", "api")`. */
export const metrics = {
  granted: Metric.fromMetricKey(keys.granted),
  rejected: Metric.fromMetricKey(keys.rejected),
  wait: Metric.fromMetricKey(keys.wait),
  waiting: Metric.fromMetricKey(keys.waiting),
  inFlight: Metric.fromMetricKey(keys.inFlight)
}

/** What the throttle shell calls; every method is synchronous and cheap. */
export interface Instrument {
  readonly granted: (permits: number, waitedMillis: number) => void
  readonly rejected: (permits: number, reason: "attempt" | "tryAcquire", retryAfterMillis: number) => void
  readonly timedOut: (permits: number, waitedMillis: number, retryAfterMillis: number) => void
  readonly paused: (until: number) => void
  readonly gauges: (waiting: number, inFlight: number) => void
  /**
   * Wraps a wait that waits in the `effect_throttles.acquire` span (nothing when metrics are off). Call it
   * synchronously inside the waiting fiber's own step: the tracer is read from the running fiber.
   */
  readonly traced: <A, E, R>(
    wait: Effect.Effect<A, E, R>,
    permits: number,
    waited: () => number
  ) => Effect.Effect<A, E, R>
  readonly events: Stream.Stream<Throttle.Event>
  /** Runs `effect` after publishing what a full subscriber buffer held back (only then does it cost anything). */
  readonly flushed: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * The registry's hook of `key` tagged with `tags`: updating it directly is the same update `Metric.unsafeUpdate`
 * makes, without its two closure calls per update (this sits on the fast path).
 */
export const tagged = <T extends MetricKey.MetricKey<any>>(key: T, tags: ReadonlyArray<MetricLabel.MetricLabel>) => {
  const hook = Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(key, tags) as any) as unknown as {
    update(input: number): void
  }
  return hook
}

/**
 * A histogram hook with a lane of its own for observations of 0: most waits are 0 (a grant at once), and Effect's
 * histogram update costs a binary search over the boundaries per observation (about 40 ns: most of what metrics
 * added to an uncontended `withPermit`, measured against the wave-1 throttle). The zeros are counted,
 * and added to the state when it is read, exactly where Effect's update would have put them (every bucket whose
 * boundary is ≥ 0, the count, the min and the max), so the state read is the one Effect's hook would hold.
 */
const zeroLaneHistogram = (key: MetricKey.MetricKey.Histogram): MetricHook.MetricHook.Histogram => {
  const inner = MetricHook.histogram(key)
  let zeros = 0
  const update = (value: number): void => {
    if (value === 0) zeros++
    else inner.update(value)
  }
  return MetricHook.make({
    get: () => {
      const state = inner.get()
      if (zeros === 0) return state
      return MetricState.histogram({
        buckets: state.buckets.map(([boundary, count]) => [boundary, boundary >= 0 ? count + zeros : count] as const),
        count: state.count + zeros,
        min: Math.min(state.min, 0),
        max: Math.max(state.max, 0),
        sum: state.sum
      })
    },
    update,
    modify: update
  })
}

const MUTABLE_HASH_MAP = Symbol.for("effect/MutableHashMap")

/**
 * The registry's hook of the wait histogram `key` tagged with `tags`: a zero-lane one, put in the registry's map
 * when the metric does not exist yet (the map is not in Effect's published types: when it is not there, or when
 * the metric was read or updated before, the registry's own hook is used, which holds the same state, only slower).
 */
const waitHistogram = (key: MetricKey.MetricKey.Histogram, tags: ReadonlyArray<MetricLabel.MetricLabel>) => {
  const full = MetricKey.taggedWithLabels(key, tags)
  const map = (Metric.globalMetricRegistry as unknown as {
    readonly map?: MutableHashMap.MutableHashMap<MetricKey.MetricKey.Histogram, MetricHook.MetricHook.Histogram>
  }).map
  if (typeof map === "object" && map !== null && MUTABLE_HASH_MAP in map && !MutableHashMap.has(map, full)) {
    MutableHashMap.set(map, full, zeroLaneHistogram(full))
  }
  return tagged(key, tags)
}

/** The instrument of one throttle named `name`; with `metrics` false, only events. */
export const make = (name: string, metrics: boolean): Instrument => {
  // The hub (its PubSub) is created by the first subscription: a throttle nobody watches allocates nothing for
  // its events (a KeyedThrottle creates thousands of throttles).
  let hub: EventHub<Throttle.Event> | undefined = undefined
  const publish = (event: Throttle.Event): void => hub!.emit(event)
  const active = (): boolean => hub !== undefined && hub.active
  const events: Stream.Stream<Throttle.Event> = Stream.unwrap(
    Effect.map(
      Effect.suspend(() =>
        hub === undefined
          ? Effect.map(PubSub.sliding<Throttle.Event>(EVENTS_CAPACITY), (pubsub) => (hub ??= new EventHub(pubsub)))
          : Effect.succeed(hub)
      ),
      (h) => h.stream
    )
  )
  const base = [MetricLabel.make("name", name)]
  const granted = metrics ? tagged(keys.granted, base) : undefined
  const wait = metrics ? waitHistogram(keys.wait, base) : undefined
  const waitingGauge = metrics ? tagged(keys.waiting, base) : undefined
  const inFlightGauge = metrics ? tagged(keys.inFlight, base) : undefined
  const rejectedBy = metrics
    ? {
      attempt: tagged(keys.rejected, [...base, MetricLabel.make("reason", "attempt")]),
      tryAcquire: tagged(keys.rejected, [...base, MetricLabel.make("reason", "tryAcquire")]),
      maxWait: tagged(keys.rejected, [...base, MetricLabel.make("reason", "maxWait")])
    }
    : undefined
  let lastWaiting = -1
  let lastInFlight = -1
  return {
    granted: (permits, waitedMillis) => {
      if (granted !== undefined) {
        granted.update(permits)
        wait!.update(waitedMillis / 1000)
      }
      if (active()) publish(Event.Granted({ permits, waited: Duration.millis(waitedMillis) }))
    },
    rejected: (permits, reason, retryAfterMillis) => {
      if (rejectedBy !== undefined) rejectedBy[reason].update(permits)
      if (active()) {
        publish(Event.Rejected({ permits, reason, retryAfter: Duration.millis(retryAfterMillis) }))
      }
    },
    timedOut: (permits, waitedMillis, retryAfterMillis) => {
      if (rejectedBy !== undefined) rejectedBy.maxWait.update(permits)
      if (active()) {
        publish(
          Event.TimedOut({
            permits,
            waited: Duration.millis(waitedMillis),
            retryAfter: Duration.millis(retryAfterMillis)
          })
        )
      }
    },
    paused: (until) => {
      if (active()) publish(Event.Paused({ until }))
    },
    gauges: (waiting, inFlight) => {
      if (waitingGauge === undefined) return
      if (waiting !== lastWaiting) {
        lastWaiting = waiting
        waitingGauge.update(waiting)
      }
      if (inFlight !== lastInFlight) {
        lastInFlight = inFlight
        inFlightGauge!.update(inFlight)
      }
    },
    traced: (effect, permits, waited) => {
      if (!metrics) return effect
      // Effect's built-in tracer sends spans nowhere: with it, a span per waiter would be allocation for nothing
      // (50 000 of them at 10 000/s). Any installed tracer (OpenTelemetry, a test's) gets them. Called inside the
      // waiter's own step, so the running fiber is the waiter's.
      const fiber = runningFiber() as { readonly currentTracer: Tracer.Tracer } | undefined
      if (fiber !== undefined && fiber.currentTracer === nativeTracer) return effect
      return Effect.withSpan(
        Effect.tap(effect, () => Effect.annotateCurrentSpan("waited_ms", waited())),
        "effect_throttles.acquire",
        { attributes: { name, permits } }
      )
    },
    events,
    flushed: (effect) => {
      const flush = hub?.flush()
      return flush === undefined ? effect : Effect.zipRight(flush, effect)
    }
  }
}
