import { ConfigProvider, Effect, Layer, Metric, Option, Ref, Stream, Tracer } from "effect"
import type { Context, Exit } from "effect"

/**
 * The value of the metric named `name` whose tags are exactly `tags`, from the global registry: a counter's count,
 * a gauge's value; `undefined` when no such metric was ever updated.
 */
export const metricValue = (name: string, tags: Readonly<Record<string, string>>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags)
    for (const pair of pairs) {
      const key = pair.metricKey
      if (key.name !== name || key.tags.length !== wanted.length) continue
      if (!wanted.every(([k, v]) => key.tags.some((label) => label.key === k && label.value === v))) continue
      const state = pair.metricState as unknown as { readonly count?: number; readonly value?: number }
      return state.count ?? state.value
    }
    return undefined
  })

/** Every metric pair of the registry that carries the tag `name = value`. */
export const metricsTagged = (value: string) =>
  Effect.map(
    Metric.snapshot,
    (pairs) => pairs.filter((pair) => pair.metricKey.tags.some((label) => label.key === "name" && label.value === value))
  )

/** Lets forked fibers (subscribers) run until they wait again. */
export const settle = Effect.repeatN(Effect.yieldNow(), 9)

/** Subscribes to `events` and returns the log they are appended to (after letting the subscription start). */
export const recordEvents = <A, R>(events: Stream.Stream<A, never, R>) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<Array<A>>([])
    yield* Effect.forkScoped(Stream.runForEach(events, (e) => Ref.update(log, (l) => [...l, e])))
    yield* settle
    return log
  })

/** A span as the recording tracer saw it. */
export interface RecordedSpan {
  readonly name: string
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> | undefined }>
  ended: boolean
}

/** A tracer that records every span, its attributes and its events. */
export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  let ids = 0
  const tracer = Tracer.make({
    span(name, parent, context: Context.Context<never>, links, startTime, kind) {
      const record: RecordedSpan = { name, attributes: new Map(), events: [], ended: false }
      spans.push(record)
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${++ids}`,
        traceId: "trace",
        parent,
        context,
        get status() {
          return status
        },
        attributes: record.attributes,
        links,
        sampled: true,
        kind,
        end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
          status = { _tag: "Ended", startTime, endTime, exit }
          record.ended = true
        },
        attribute(key, value) {
          record.attributes.set(key, value)
        },
        event(eventName, _startTime, attributes) {
          record.events.push({ name: eventName, attributes })
        },
        addLinks() {}
      }
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

/** The events added to the span named `name` (the first one). */
export const spanEvents = (spans: ReadonlyArray<RecordedSpan>, name: string) =>
  Option.fromNullable(spans.find((s) => s.name === name)).pipe(
    Option.map((s) => s.events),
    Option.getOrElse(() => [])
  )

/** A layer setting a config provider with exactly these entries. */
export const configFrom = (entries: ReadonlyArray<readonly [string, string]>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))
