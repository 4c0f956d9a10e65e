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
   * Wraps a wait that waits in the `effect_throttles.acquire` span (nothing when metrics are off), annotated with
   * the milliseconds waited since `since` on the clock `now` when it ends. Call it synchronously inside the waiting
   * fiber's own step: the tracer is read from the running fiber.
   */
  readonly traced: <A, E, R>(
    wait: Effect.Effect<A, E, R>,
    permits: number,
    since: number,
    now: () => number
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
 * The wait histogram's hook: the state Effect's own histogram hook would hold for the same observations (the
 * same buckets, count, sum, min and max: tested against it), at a fraction of the cost per observation, which
 * sits on every grant. Effect's hook finds the bucket by a binary search over the boundaries (about 40 ns); here
 * most waits are 0 (a grant at once) and are only counted, in a lane of their own added to the buckets when the
 * state is read, and any other wait finds its bucket from its base-2 logarithm, since the boundaries double
 * (`waitBoundaries`), then corrected by a comparison with its neighbours so that a wait equal to a boundary lands
 * where the binary search puts it.
 */
export const waitHistogramHook = (key: MetricKey.MetricKey.Histogram): MetricHook.MetricHook.Histogram => {
  const boundaries = Float64Array.from(key.keyType.boundaries.values).sort()
  const size = boundaries.length
  const last = size - 1
  const start = boundaries[0]!
  const zeroBucket = boundaries.findIndex((boundary) => boundary >= 0) // where Effect's search puts a 0
  const counts = new Uint32Array(size + 1)
  let zeros = 0
  let count = 0
  let sum = 0
  let min = Number.MAX_VALUE
  let max = Number.MIN_VALUE
  const bucket = (value: number): number => {
    if (!(value > start)) return value <= start ? 0 : size // NaN goes past every boundary, as in Effect's hook
    let i = Math.ceil(Math.log2(value / start))
    if (!(i <= last)) i = last // past the largest boundary, or a boundary set that does not double
    while (i > 0 && value <= boundaries[i - 1]!) i--
    while (i < size && !(value <= boundaries[i]!)) i++
    return i
  }
  const update = (value: number): void => {
    if (value === 0) {
      zeros++
      return
    }
    const i = bucket(value)
    counts[i] = counts[i]! + 1
    count++
    sum += value
    if (value < min) min = value
    if (value > max) max = value
  }
  return MetricHook.make({
    get: () => {
      const buckets: Array<readonly [number, number]> = []
      let cumulated = 0
      for (let i = 0; i < size; i++) {
        cumulated += counts[i]! + (i === zeroBucket ? zeros : 0)
        buckets.push([boundaries[i]!, cumulated])
      }
      return MetricState.histogram({
        buckets,
        count: count + zeros,
        min: zeros > 0 && 0 < min ? 0 : min,
        max: zeros > 0 && 0 > max ? 0 : max,
        sum
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
    MutableHashMap.set(map, full, waitHistogramHook(full))
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
    traced: (effect, permits, since, now) => {
      if (!metrics) return effect
      // Effect's built-in tracer sends spans nowhere: with it, a span per waiter would be allocation for nothing
      // (50 000 of them at 10 000/s). Any installed tracer (OpenTelemetry, a test's) gets them. Called inside the
      // waiter's own step, so the running fiber is the waiter's.
      const fiber = runningFiber() as { readonly currentTracer: Tracer.Tracer } | undefined
      if (fiber !== undefined && fiber.currentTracer === nativeTracer) return effect
      return Effect.withSpan(
        Effect.tap(effect, () => Effect.annotateCurrentSpan("waited_ms", now() - since)),
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

/**
 * The gauge totals of a keyed throttle: sums over its keys, each key adding what changed since it last reported (the
 * in-memory engines do it on their own fields, `ThrottleEngine.gauges`; the keys of the Redis one through `part`).
 */
export interface Totals {
  waiting: number
  inFlight: number
}

/**
 * The instrument of one key of a keyed throttle whose keys are full throttles (the Redis one, whose keys each have
 * a scope and a store): metrics and spans go to the keyed throttle's `shared` instrument (its metrics are per keyed
 * throttle, as in memory), its gauges as sums over the keys (`totals`: each key adds what changed since it last
 * published); events come from the key's own instrument (nothing allocated until someone subscribes). `dispose`
 * takes the key's share out of the totals.
 */
export const part = (
  shared: Instrument,
  totals: Totals,
  name: string
): Instrument & { readonly dispose: () => void } => {
  const own = make(name, false)
  let waiting = 0
  let inFlight = 0
  const gauges = (w: number, f: number): void => {
    if (w === waiting && f === inFlight) return
    totals.waiting += w - waiting
    totals.inFlight += f - inFlight
    waiting = w
    inFlight = f
    shared.gauges(totals.waiting, totals.inFlight)
  }
  return {
    granted: (permits, waitedMillis) => {
      shared.granted(permits, waitedMillis)
      own.granted(permits, waitedMillis)
    },
    rejected: (permits, reason, retryAfterMillis) => {
      shared.rejected(permits, reason, retryAfterMillis)
      own.rejected(permits, reason, retryAfterMillis)
    },
    timedOut: (permits, waitedMillis, retryAfterMillis) => {
      shared.timedOut(permits, waitedMillis, retryAfterMillis)
      own.timedOut(permits, waitedMillis, retryAfterMillis)
    },
    paused: own.paused,
    gauges,
    traced: shared.traced,
    events: own.events,
    flushed: own.flushed,
    dispose: () => gauges(0, 0)
  }
}
