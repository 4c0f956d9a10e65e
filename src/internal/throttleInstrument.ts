/**
 * What a Throttle tells the outside world: Effect metrics (defined once here, tagged per throttle), a span for a
 * wait that waits, and the `events` stream. Every update happens in the same synchronous step as the state change
 * it describes, so a gauge never disagrees with `stats`.
 *
 * Events fan out to one sliding queue per subscriber (a `PubSub` with a sliding strategy, written out so that
 * publishing stays synchronous): a slow subscriber loses its oldest events, never slows the throttle, and with
 * no subscriber an event costs one size check.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Throttle } from "../Throttle.js"

/** The event constructors (`Event.Granted({ permits, waited })`, …) and matchers. */
export const Event = Data.taggedEnum<Throttle.Event>()

/**
 * Wait-time histogram boundaries, in seconds: 0.1 ms doubling to about 3.5 minutes (22 buckets), so both a
 * sub-millisecond settling and a minute-long queue land in a bucket of their own.
 */
export const waitBoundaries = MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 22 })

/** The metric keys, defined once for the module; each throttle derives its tagged instances. */
export const keys = {
  granted: MetricKey.counter("effect_throttles_throttle_granted_total", {
    description: "Permits granted by a throttle"
  }),
  rejected: MetricKey.counter("effect_throttles_throttle_rejected_total", {
    description: "Permits refused: attempt/tryAcquire refused, or maxWait exceeded (tag reason)"
  }),
  wait: MetricKey.histogram("effect_throttles_throttle_wait_seconds", waitBoundaries, "Time from arrival to grant"),
  waiting: MetricKey.gauge("effect_throttles_throttle_waiting", { description: "Fibers waiting for permits" }),
  inFlight: MetricKey.gauge("effect_throttles_throttle_in_flight", {
    description: "Permits acquired and not yet released"
  })
}

/** Size of each subscriber's sliding buffer. */
export const EVENT_BUFFER = 1024

/** What the throttle shell calls; every method is synchronous and cheap. */
export interface Instrument {
  readonly granted: (permits: number, waitedMillis: number) => void
  readonly rejected: (permits: number, reason: "attempt" | "tryAcquire", retryAfterMillis: number) => void
  readonly timedOut: (permits: number, waitedMillis: number, retryAfterMillis: number) => void
  readonly paused: (until: number) => void
  readonly gauges: (waiting: number, inFlight: number) => void
  /** Wraps a wait that waits in the `effect_throttles.acquire` span (nothing when metrics are off). */
  readonly traced: <A, E, R>(
    wait: Effect.Effect<A, E, R>,
    permits: number,
    waited: () => number
  ) => Effect.Effect<A, E, R>
  readonly events: Stream.Stream<Throttle.Event>
}

const tagged = <T extends MetricKey.MetricKey<any>>(key: T, tags: ReadonlyArray<MetricLabel.MetricLabel>) =>
  Metric.fromMetricKey(MetricKey.taggedWithLabels(key, tags) as any) as unknown as {
    unsafeUpdate(input: number, extraTags: ReadonlyArray<MetricLabel.MetricLabel>): void
  }

const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** The instrument of one throttle named `name`; with `metrics` false, only events. */
export const make = (name: string, metrics: boolean): Instrument => {
  const subscribers = new Set<Queue.Queue<Throttle.Event>>()
  const publish = (event: Throttle.Event): void => {
    for (const queue of subscribers) queue.unsafeOffer(event)
  }
  const events: Stream.Stream<Throttle.Event> = Stream.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.tap(Queue.sliding<Throttle.Event>(EVENT_BUFFER), (queue) => Effect.sync(() => subscribers.add(queue))),
        (queue) => Effect.zipRight(Effect.sync(() => subscribers.delete(queue)), Queue.shutdown(queue))
      ),
      (queue) => Stream.fromQueue(queue)
    )
  )
  const base = [MetricLabel.make("name", name)]
  const granted = metrics ? tagged(keys.granted, base) : undefined
  const wait = metrics ? tagged(keys.wait, base) : undefined
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
        granted.unsafeUpdate(permits, NO_TAGS)
        wait!.unsafeUpdate(waitedMillis / 1000, NO_TAGS)
      }
      if (subscribers.size > 0) publish(Event.Granted({ permits, waited: Duration.millis(waitedMillis) }))
    },
    rejected: (permits, reason, retryAfterMillis) => {
      if (rejectedBy !== undefined) rejectedBy[reason].unsafeUpdate(permits, NO_TAGS)
      if (subscribers.size > 0) {
        publish(Event.Rejected({ permits, reason, retryAfter: Duration.millis(retryAfterMillis) }))
      }
    },
    timedOut: (permits, waitedMillis, retryAfterMillis) => {
      if (rejectedBy !== undefined) rejectedBy.maxWait.unsafeUpdate(permits, NO_TAGS)
      if (subscribers.size > 0) {
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
      if (subscribers.size > 0) publish(Event.Paused({ until }))
    },
    gauges: (waiting, inFlight) => {
      if (waitingGauge === undefined) return
      if (waiting !== lastWaiting) {
        lastWaiting = waiting
        waitingGauge.unsafeUpdate(waiting, NO_TAGS)
      }
      if (inFlight !== lastInFlight) {
        lastInFlight = inFlight
        inFlightGauge!.unsafeUpdate(inFlight, NO_TAGS)
      }
    },
    traced: (effect, permits, waited) =>
      metrics
        ? Effect.withSpan(
          Effect.tap(effect, () => Effect.annotateCurrentSpan("waited_ms", waited())),
          "effect_throttles.acquire",
          { attributes: { name, permits } }
        )
        : effect,
    events
  }
}
