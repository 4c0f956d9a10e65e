/**
 * The Barrier's Effect shell: one `Ref` holding the pure core's state (`barrierCore.ts`), one `Deferred` per waiter,
 * the errors, the option checks and the metrics.
 *
 * Every state change goes through one `Ref.modify` (decide atomically, act afterwards); the metrics of a change
 * are counted inside that same `modify`, so a counter never disagrees with the state it describes.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { Barrier, BarrierBrokenReason } from "../Barrier.js"
import * as core from "./barrierCore.js"
import * as check from "./options.js"

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

const describeReason = (reason: BarrierBrokenReason): string => {
  switch (reason) {
    case "aborted":
      return "it was aborted"
    case "timeout":
      return "a waiting party timed out"
    case "reset":
      return "it was reset while this party was waiting"
    case "tripped":
      return "it is one-shot (cyclic: false) and has already tripped"
  }
}

/** See `Barrier.BarrierBrokenError`. */
export class BarrierBrokenError extends Data.TaggedError("BarrierBrokenError")<{
  readonly key: string
  readonly reason: BarrierBrokenReason
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Barrier "${this.key}" is broken: ${describeReason(this.reason)}`
  }
}

/** See `Barrier.BarrierTimeoutError`. */
export class BarrierTimeoutError extends Data.TaggedError("BarrierTimeoutError")<{
  /** The barrier's name. */
  readonly key: string
  /** The timeout that elapsed. */
  readonly timeout: Duration.Duration
  /** The number of parties needed to trip. */
  readonly parties: number
  /** The live arrivals (including this one) when the timeout elapsed. */
  readonly arrived: number
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Barrier "${this.key}" timed out after ${Duration.format(this.timeout)} with ${this.arrived} of ${this.parties} parties arrived; the barrier is now broken`
  }
}

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/** Validated options: the core's configuration plus the shell's own. */
export interface Config<S> extends core.Config<S> {
  readonly name: string
  readonly metrics: boolean
}

/** Validates the options: the configuration, or the "Expected X, got Y" message of the first bad option. */
export const validate = <S>(options: Barrier.Options<S>): Config<S> | string => {
  const { maxState, name, cyclic, metrics, initialState } = options
  const invalid = check.int(options.parties, "parties", 1) ??
    (initialState === undefined || typeof (initialState as Partial<Iterable<S>>)[Symbol.iterator] === "function"
      ? undefined
      : check.expected("initialState to be an iterable", initialState)) ??
    (maxState === undefined ? undefined : check.int(maxState, "maxState", 0)) ??
    (name === undefined ? undefined : check.string(name, "name")) ??
    (cyclic === undefined ? undefined : check.boolean(cyclic, "cyclic")) ??
    (metrics === undefined ? undefined : check.boolean(metrics, "metrics"))
  if (invalid !== undefined) return invalid
  return {
    parties: options.parties,
    maxState,
    cyclic: cyclic ?? true,
    initialState: initialState === undefined ? [] : Array.from(initialState),
    name: name ?? "barrier",
    metrics: metrics ?? true
  }
}

// -----------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------

/**
 * `effect_throttles_barrier_trips_total` (tag `name`). No description (here and below), so that
 * `Metric.counter(<name>)` in user code reads the same metric.
 */
export const tripsTotal: Metric.Metric.Counter<number> = Metric.counter("effect_throttles_barrier_trips_total")

/** `effect_throttles_barrier_broken_total` (tags `name`, `reason` = aborted / timeout). */
export const brokenTotal: Metric.Metric.Counter<number> = Metric.counter("effect_throttles_barrier_broken_total")

/** The instance's tagged counters; `undefined` with `metrics: false` (nothing is recorded). */
interface Meters {
  readonly trips: Metric.Metric.Counter<number>
  readonly aborted: Metric.Metric.Counter<number>
  readonly timeout: Metric.Metric.Counter<number>
}

/** No fiber-level tags: a barrier's metrics carry its own tags only (it is shared between fibers). */
const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

const makeMeters = (name: string): Meters => {
  const tag = MetricLabel.make("name", name)
  return {
    trips: Metric.taggedWithLabels(tripsTotal, [tag]),
    aborted: Metric.taggedWithLabels(brokenTotal, [tag, MetricLabel.make("reason", "aborted")]),
    timeout: Metric.taggedWithLabels(brokenTotal, [tag, MetricLabel.make("reason", "timeout")])
  }
}

// -----------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------

type Waiter<S> = Deferred.Deferred<Barrier.Result<S>, BarrierBrokenError>

/** `Barrier.make`. */
export const make = <S>(options: Barrier.Options<S>): Effect.Effect<Barrier.Service<S>> =>
  Effect.suspend(() => {
    const config = validate<S>(options)
    if (typeof config === "string") return check.die(config)
    return Effect.map(Ref.make(core.initial<S, Waiter<S>>()), (ref) => service(config, ref))
  })

const service = <S>(config: Config<S>, ref: Ref.Ref<core.State<S, Waiter<S>>>): Barrier.Service<S> => {
  const { name } = config
  const meters = config.metrics ? makeMeters(name) : undefined
  const broken = (reason: BarrierBrokenReason) => new BarrierBrokenError({ key: name, reason })

  const failAll = (waiters: ReadonlyArray<Waiter<S>>, reason: BarrierBrokenReason): Effect.Effect<void> =>
    waiters.length === 0
      ? Effect.void
      : Effect.forEach(waiters, (waiter) => Deferred.fail(waiter, broken(reason)), { discard: true })

  const withdraw = (ticket: number) => Ref.update(ref, (state) => core.withdraw(state, ticket))

  const arrive = (value: S | undefined, waiter: Waiter<S>) =>
    Ref.modify(ref, (state) => {
      const result = core.arrive(config, state, value, waiter)
      if (meters !== undefined && result[0]._tag === "Tripped") meters.trips.unsafeUpdate(1, NO_TAGS)
      return result
    })

  const timeOut = (ticket: number) =>
    Ref.modify(ref, (state) => {
      const result = core.timeout(state, ticket)
      if (meters !== undefined && result[0]._tag === "TimedOut") meters.timeout.unsafeUpdate(1, NO_TAGS)
      return result
    })

  const abort = Ref.modify(ref, (state) => {
    if (meters !== undefined && state.broken === undefined) meters.aborted.unsafeUpdate(1, NO_TAGS)
    return core.abort(state)
  })

  const onTimeout = (
    waiter: Waiter<S>,
    ticket: number,
    timeout: Duration.Duration
  ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
    Effect.flatMap(timeOut(ticket), (
      decision
    ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
      decision._tag === "Settled"
        // Released (or failed) at the same instant: the outcome is already in the Deferred.
        ? Deferred.await(waiter)
        : Effect.zipRight(
          failAll(decision.others, "timeout"),
          Effect.fail(
            new BarrierTimeoutError({ key: name, timeout, parties: config.parties, arrived: decision.arrived })
          )
        ))

  const wait = (
    value?: S,
    options?: Barrier.WaitOptions
  ): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> => {
    // Decode the timeout before arriving, so a bad input can never leave a ghost arrival behind.
    const timeoutInput = options?.timeout
    const decoded = timeoutInput === undefined
      ? undefined
      : check.duration(timeoutInput, "timeout", { allowZero: true, allowInfinite: true })
    if (typeof decoded === "string") return check.die(decoded)
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Deferred.make<Barrier.Result<S>, BarrierBrokenError>(), (waiter) =>
        Effect.flatMap(arrive(value, waiter), (decision) => {
          switch (decision._tag) {
            case "Rejected":
              return Effect.fail(broken(decision.reason))
            case "Tripped": {
              const { position, states } = decision
              return Effect.as(
                Effect.forEach(
                  decision.released,
                  (released) => Deferred.succeed(released.waiter, { position: released.position, states }),
                  { discard: true }
                ),
                { position, states }
              )
            }
            case "Waiting": {
              const ticket = decision.ticket
              if (decoded === undefined) {
                return Effect.onInterrupt(restore(Deferred.await(waiter)), () => withdraw(ticket))
              }
              return Effect.flatMap(
                Effect.onInterrupt(
                  restore(Effect.timeoutOption(Deferred.await(waiter), decoded)),
                  () => withdraw(ticket)
                ),
                (result): Effect.Effect<Barrier.Result<S>, BarrierBrokenError | BarrierTimeoutError> =>
                  Option.isSome(result) ? Effect.succeed(result.value) : onTimeout(waiter, ticket, decoded)
              )
            }
          }
        }))
    )
  }

  const waiting = Effect.map(Ref.get(ref), core.waiting)

  return {
    name,
    parties: config.parties,
    wait,
    abort: Effect.uninterruptible(Effect.flatMap(abort, (waiters) => failAll(waiters, "aborted"))),
    reset: Effect.uninterruptible(
      Effect.flatMap(Ref.modify(ref, core.reset), (waiters) => failAll(waiters, "reset"))
    ),
    broken: Effect.map(Ref.get(ref), (state) => state.broken !== undefined),
    waiting,
    remaining: Effect.map(waiting, (n) => config.parties - n)
  }
}
