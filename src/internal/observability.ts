/**
 * What the primitives share to be watched: an event hub (a sliding `PubSub` that a primitive offers to in the same
 * synchronous step as the state change an event describes) and span events on the caller's span.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

/** Events each subscriber may lag behind before the oldest are dropped. */
export const EVENTS_CAPACITY = 1024

/**
 * The `events` of one primitive: a sliding `PubSub` (each subscriber has its own buffer of
 * {@link EVENTS_CAPACITY}; a slow one loses its oldest events and never slows the primitive).
 *
 * The owner checks `active` before building an event, so with no subscriber an event costs one field read. `emit`
 * offers synchronously, in the step that changed the state, so subscribers see events in the order of the
 * changes. Only when some subscriber lags a whole buffer behind does an event wait for `flush` (which slides).
 */
export class EventHub<A> {
  /** Subscribers right now. */
  private subscribers = 0
  /** Events a full buffer held back, published (sliding) by the next `flush`. */
  private overflow: Array<A> | undefined = undefined
  private readonly pubsub: PubSub.PubSub<A>
  /** Every event from the moment of subscription on. */
  readonly stream: Stream.Stream<A>

  constructor(pubsub: PubSub.PubSub<A>) {
    this.pubsub = pubsub
    this.stream = Stream.unwrapScoped(
      Effect.zipRight(
        Effect.acquireRelease(
          Effect.sync(() => {
            this.subscribers++
          }),
          () =>
            Effect.sync(() => {
              this.subscribers--
            })
        ),
        Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue))
      )
    )
  }

  /** A hub with a sliding buffer of `capacity` per subscriber. */
  static make = <A>(capacity: number = EVENTS_CAPACITY): Effect.Effect<EventHub<A>> =>
    Effect.map(PubSub.sliding<A>(capacity), (pubsub) => new EventHub(pubsub))

  /** Whether anyone listens (build events only then). */
  get active(): boolean {
    return this.subscribers > 0
  }

  /** Offers an event now. */
  emit(event: A): void {
    if (this.overflow !== undefined || !this.pubsub.unsafeOffer(event)) {
      ;(this.overflow ??= []).push(event)
    }
  }

  /** Publishes what a full buffer held back (the oldest events slide out); `undefined` when nothing waits. */
  flush(): Effect.Effect<void> | undefined {
    const events = this.overflow
    if (events === undefined) return undefined
    this.overflow = undefined
    return Effect.asVoid(PubSub.publishAll(this.pubsub, events))
  }

  /** Ends every subscription (the streams are interrupted). */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => PubSub.shutdown(this.pubsub))
}

/**
 * Adds an event to the caller's current span, if it has one (a span event, not a log line), stamped with `now`
 * (`Clock` milliseconds).
 */
export const spanEvent = (name: string, now: number, attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.map(Effect.serviceOption(Tracer.ParentSpan), (span) => {
    if (Option.isSome(span) && span.value._tag === "Span") {
      span.value.event(name, BigInt(Math.round(now * 1_000_000)), attributes)
    }
  })
