/**
 * The circuit breaker's Effect shell: validates options (the options kit), keeps the machine's state
 * (`circuitBreakerCore.ts`) in one mutable field and applies each step of the machine synchronously, at the
 * `Clock` time, together with everything that describes the step — the state gauge and the counters, the `changes`
 * and `events` it publishes — so no reader can ever see a gauge that disagrees with `state`. What must wait runs
 * afterwards: the half-open timer, span events on the caller's span, events held back by a lagging subscriber.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { globalValue } from "effect/GlobalValue"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import * as core from "./circuitBreakerCore.js"
import * as failure from "./failure.js"
import * as live from "./liveTimer.js"
import { EventHub, spanEvent } from "./observability.js"
import * as check from "./options.js"
import { fromConfig, invalid, type Validated } from "./optionsConfig.js"

// -----------------------------------------------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------------------------------------------

/**
 * A call rejected by an open breaker (or a half-open one with every trial place taken), without running.
 * `key` is the breaker's name, `retryAfter` how long until it may admit calls again (zero when half-open: retry
 * once a trial completes), `state` the state that rejected the call.
 */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  readonly key: string
  readonly retryAfter: Duration.Duration
  readonly state: "open" | "half-open"
}> {
  override get message(): string {
    return this.state === "open"
      ? `Circuit breaker "${this.key}" is open; retry after ${Duration.format(this.retryAfter)}`
      : `Circuit breaker "${this.key}" is half-open and all its trial calls are running; retry once a trial completes`
  }
}

// -----------------------------------------------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------------------------------------------

/** A validated breaker: the core's configuration and what only the shell uses. */
export interface Resolved extends core.Config {
  readonly isFailure: ((error: unknown) => boolean) | undefined
  readonly metrics: boolean
}

/** Process-wide count of breakers built without a name ("anonymous circuit breaker #N"). */
const anonymous = globalValue(Symbol.for("effect-throttles/CircuitBreaker/anonymous"), () => ({ count: 0 }))

const durationMillis = (u: unknown, option: string, allowZero: boolean): number | string => {
  const d = check.duration(u, option, { allowZero })
  return typeof d === "string" ? d : Duration.toMillis(d)
}

const fraction = (u: unknown, option: string) => check.number(u, option, "in (0, 1]", (n) => n > 0 && n <= 1)

/** The checks of the options that stand alone (also applied to each one read from its own `Config`). */
const fields = {
  name: (u: unknown) => check.string(u, "name"),
  maxFailures: (u: unknown) => check.int(u, "maxFailures", 1),
  resetTimeout: (u: unknown) => {
    const d = durationMillis(u, "resetTimeout", false)
    return typeof d === "string" ? d : undefined
  },
  halfOpenMaxCalls: (u: unknown) => check.int(u, "halfOpenMaxCalls", 1),
  isFailure: (u: unknown) => check.fn(u, "isFailure"),
  metrics: (u: unknown) => check.boolean(u, "metrics")
} as const

const policyOf = (options: CircuitBreaker.Options): Validated<core.PolicyConfig> => {
  const input = options.policy ?? "consecutive"
  if (input === "consecutive") {
    const maxFailures = options.maxFailures ?? 3
    const bad = fields.maxFailures(maxFailures)
    return bad !== undefined ? invalid("maxFailures", bad) : { _tag: "Valid", config: { _tag: "Consecutive", maxFailures } }
  }
  if (typeof input !== "object" || input === null) {
    return invalid("policy", check.expected(`policy to be "consecutive" or a failure-rate policy object`, input))
  }
  if (options.maxFailures !== undefined) {
    return invalid(
      "maxFailures",
      check.expected(
        "maxFailures to be omitted with a failure-rate policy (it belongs to the consecutive policy)",
        options.maxFailures
      )
    )
  }
  const windowInput = input.window as unknown
  let window: core.WindowConfig
  if (typeof windowInput === "object" && windowInput !== null && "calls" in windowInput) {
    const calls = (windowInput as { calls: unknown }).calls
    const bad = check.int(calls, "policy.window.calls", 1)
    if (bad !== undefined) return invalid("policy.window.calls", bad)
    window = { _tag: "Count", calls: calls as number }
  } else if (typeof windowInput === "object" && windowInput !== null && "duration" in windowInput) {
    const millis = durationMillis((windowInput as { duration: unknown }).duration, "policy.window.duration", false)
    if (typeof millis === "string") return invalid("policy.window.duration", millis)
    window = { _tag: "Time", millis }
  } else {
    return invalid(
      "policy.window",
      check.expected("policy.window to be { calls: number } or { duration: DurationInput }", windowInput)
    )
  }
  const minimumCalls = input.minimumCalls ?? (window._tag === "Count" ? Math.min(10, window.calls) : 10)
  const badMinimum = check.int(minimumCalls, "policy.minimumCalls", 1) ??
    (window._tag === "Count" && minimumCalls > window.calls
      ? check.expected(`policy.minimumCalls to be at most policy.window.calls (${window.calls})`, minimumCalls)
      : undefined)
  if (badMinimum !== undefined) return invalid("policy.minimumCalls", badMinimum)
  const failureRateThreshold = input.failureRateThreshold ?? 0.5
  const badThreshold = fraction(failureRateThreshold, "policy.failureRateThreshold")
  if (badThreshold !== undefined) return invalid("policy.failureRateThreshold", badThreshold)
  const slowCallMillis = input.slowCallDuration === undefined
    ? undefined
    : durationMillis(input.slowCallDuration, "policy.slowCallDuration", true)
  if (typeof slowCallMillis === "string") return invalid("policy.slowCallDuration", slowCallMillis)
  const slowCallRateThreshold = input.slowCallRateThreshold ?? 1
  const badSlow = fraction(slowCallRateThreshold, "policy.slowCallRateThreshold")
  if (badSlow !== undefined) return invalid("policy.slowCallRateThreshold", badSlow)
  return {
    _tag: "Valid",
    config: { _tag: "FailureRate", window, minimumCalls, failureRateThreshold, slowCallMillis, slowCallRateThreshold }
  }
}

/**
 * Checks user options and fills in defaults (an anonymous breaker gets its number here). Every problem is an
 * `Expected X, got Y` message naming the option.
 */
export const validate = (options: CircuitBreaker.Options = {}): Validated<Resolved> => {
  const halfOpenMaxCalls = options.halfOpenMaxCalls ?? 5
  const resetTimeoutMillis = durationMillis(options.resetTimeout ?? "30 seconds", "resetTimeout", false)
  const bad = (key: keyof typeof fields, value: unknown): Validated<never> | undefined => {
    const message = value === undefined ? undefined : fields[key](value)
    return message === undefined ? undefined : invalid(key, message)
  }
  const early = bad("halfOpenMaxCalls", halfOpenMaxCalls) ??
    (typeof resetTimeoutMillis === "string" ? invalid("resetTimeout", resetTimeoutMillis) : undefined) ??
    bad("name", options.name) ?? bad("isFailure", options.isFailure) ?? bad("metrics", options.metrics)
  if (early !== undefined) return early
  const policy = policyOf(options)
  if (policy._tag === "Invalid") return policy
  return {
    _tag: "Valid",
    config: {
      name: options.name ?? `anonymous circuit breaker #${++anonymous.count}`,
      resetTimeoutMillis: resetTimeoutMillis as number,
      halfOpenMaxCalls,
      policy: policy.config,
      isFailure: options.isFailure,
      metrics: options.metrics ?? true
    }
  }
}

// -----------------------------------------------------------------------------------------------------------------
// Metrics and events (no descriptions, so that `Metric.counter(<name>)` in user code reads the same series)
// -----------------------------------------------------------------------------------------------------------------

const stateGauge = Metric.gauge("effect_throttles_circuit_breaker_state")

const transitionsTotal = Metric.counter("effect_throttles_circuit_breaker_transitions_total")

const callsTotal = Metric.counter("effect_throttles_circuit_breaker_calls_total")

const stateValue = (state: core.StateName): number => state === "closed" ? 0 : state === "half-open" ? 1 : 2

/** One breaker's instruments: the module's metrics tagged with its name. */
class Instruments {
  readonly state: Metric.Metric.Gauge<number>
  readonly success: Metric.Metric.Counter<number>
  readonly failure: Metric.Metric.Counter<number>
  readonly rejected: Metric.Metric.Counter<number>
  readonly slow: Metric.Metric.Counter<number>
  private readonly transitions = new Map<string, Metric.Metric.Counter<number>>()
  constructor(readonly name: string) {
    this.state = Metric.tagged(stateGauge, "name", name)
    const calls = Metric.tagged(callsTotal, "name", name)
    this.success = Metric.tagged(calls, "outcome", "success")
    this.failure = Metric.tagged(calls, "outcome", "failure")
    this.rejected = Metric.tagged(calls, "outcome", "rejected")
    this.slow = Metric.tagged(calls, "outcome", "slow")
  }
  transition(from: core.StateName, to: core.StateName): Metric.Metric.Counter<number> {
    const key = `${from}>${to}`
    let counter = this.transitions.get(key)
    if (counter === undefined) {
      counter = Metric.taggedWithLabels(transitionsTotal, [
        MetricLabel.make("name", this.name),
        MetricLabel.make("from", from),
        MetricLabel.make("to", to)
      ])
      this.transitions.set(key, counter)
    }
    return counter
  }
}

/** The constructors of `CircuitBreaker.Event`. */
export const Event = Data.taggedEnum<CircuitBreaker.Event>()

const eventOf = (config: core.Config, t: core.Transition): CircuitBreaker.Event => {
  switch (t.to) {
    case "open":
      return Event.Opened({
        from: t.from as "closed" | "half-open",
        at: t.at,
        halfOpenAt: t.at + config.resetTimeoutMillis
      })
    case "half-open":
      return Event.HalfOpened({ at: t.at })
    case "closed":
      return Event.Closed({ from: t.from as "open" | "half-open", at: t.at })
  }
}

// -----------------------------------------------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------------------------------------------

/** What a step leaves to do after its synchronous part, combined. */
const andThen = (a: Effect.Effect<void> | undefined, b: Effect.Effect<void> | undefined) =>
  a === undefined ? b : b === undefined ? a : Effect.zipRight(a, b)

/** A breaker: the machine's state and everything that watches it. */
class CircuitBreakerImpl implements CircuitBreaker.Service {
  readonly name: string
  /** The machine's state; changed only by `run`. */
  private current: core.State
  /** `undefined` with `metrics: false`. */
  private readonly instruments: Instruments | undefined
  readonly changes: Stream.Stream<CircuitBreaker.Change>
  readonly events: Stream.Stream<CircuitBreaker.Event>

  constructor(
    private readonly config: Resolved,
    private readonly scope: Scope.Scope,
    private readonly changesHub: PubSub.PubSub<CircuitBreaker.Change>,
    private readonly eventHub: EventHub<CircuitBreaker.Event>
  ) {
    this.name = config.name
    this.current = core.initial(config)
    this.instruments = config.metrics ? new Instruments(config.name) : undefined
    this.instruments?.state.unsafeUpdate(0, [])
    this.changes = Stream.fromPubSub(changesHub)
    this.events = eventHub.stream
  }

  /**
   * One step of the machine at the current `Clock` time, uninterruptibly: the new state, its gauge, counters,
   * changes and events in one synchronous step (`note` adds what the step's value means: a rejection, a call's
   * outcome); then what must wait (the half-open timer, span events, held-back events).
   */
  private run<A>(
    f: (state: core.State, now: number) => core.Step<A>,
    note?: (value: A, now: number) => Effect.Effect<void> | undefined
  ): Effect.Effect<A> {
    return Effect.uninterruptible(Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const before = this.current
      const step = f(before, now)
      this.current = step.state
      let after = step.transitions.length === 0 ? undefined : this.transitioned(step.transitions, now)
      const state = step.state
      if (state._tag === "Open" && state.generation !== before.generation) {
        after = andThen(after, this.armHalfOpenTimer(core.halfOpenAt(this.config, state)))
      }
      if (note !== undefined) after = andThen(after, note(step.value, now))
      after = andThen(after, this.eventHub.flush())
      return after === undefined ? Effect.succeed(step.value) : Effect.as(after, step.value)
    }))
  }

  /** Records transitions (synchronously) and returns their span events. */
  private transitioned(transitions: ReadonlyArray<core.Transition>, now: number): Effect.Effect<void> | undefined {
    const instruments = this.instruments
    for (const t of transitions) {
      instruments?.transition(t.from, t.to).unsafeUpdate(1, [])
      this.changesHub.unsafeOffer(t) // unbounded: always accepted, in order
      if (this.eventHub.active) this.eventHub.emit(eventOf(this.config, t))
    }
    if (instruments === undefined) return undefined
    instruments.state.unsafeUpdate(stateValue(core.stateName(this.current)), [])
    return Effect.forEach(
      transitions,
      (t) => spanEvent("effect_throttles.circuit_breaker.transition", now, { name: this.name, from: t.from, to: t.to }),
      { discard: true }
    )
  }

  /**
   * Sleeps until `at` (`sleepUntil`: exact on the live clock), then lets the machine observe the time (a no-op if
   * the breaker has moved on). Runs in the
   * breaker's scope, interruptibly (closing the scope must not wait for it), outside any caller's span.
   */
  private armHalfOpenTimer(at: number): Effect.Effect<void> {
    // The `Clock`'s whole milliseconds may trail the precise clock `sleepUntil` wakes on by a fraction of one: an
    // open breaker is observed at `at` at the latest, so the transition is not put off (nor the timer spun).
    const timer = Effect.zipRight(
      live.sleepUntil(at),
      this.run((state, now) => core.normalize(this.config, state, state._tag === "Open" ? Math.max(now, at) : now))
    )
    return Effect.asVoid(
      Effect.forkIn(Effect.interruptible(Effect.mapInputContext(timer, Context.omit(Tracer.ParentSpan))), this.scope)
    )
  }

  /** A rejection: counted, published, and a span event on the caller's span. */
  private readonly noteAdmission = (admission: core.Admission, now: number): Effect.Effect<void> | undefined => {
    if (admission._tag === "Admitted") return undefined
    if (this.eventHub.active) {
      this.eventHub.emit(
        Event.Rejected({ state: admission.state, at: now, retryAfter: Duration.millis(admission.retryAfterMillis) })
      )
    }
    if (this.instruments === undefined) return undefined
    this.instruments.rejected.unsafeUpdate(1, [])
    return spanEvent("effect_throttles.circuit_breaker.rejected", now, {
      name: this.name,
      state: admission.state,
      retry_after_ms: admission.retryAfterMillis
    })
  }

  /** A completed call, counted by outcome (ignored and interrupted calls are not counted). */
  private noteCall(outcome: failure.Outcome, ticket: core.Ticket, now: number): undefined {
    const instruments = this.instruments
    if (instruments === undefined) return undefined
    if (outcome === "failure") instruments.failure.unsafeUpdate(1, [])
    else if (outcome === "success") {
      ;(core.isSlow(this.config, now - ticket.startedAt) ? instruments.slow : instruments.success).unsafeUpdate(1, [])
    }
    return undefined
  }

  readonly protect = (<A, E, R, B, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>
  ): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        this.run((state, now) => core.admit(this.config, state, now), this.noteAdmission),
        (admission): Effect.Effect<A | B, E | E2 | CircuitOpenError, R | R2> => {
          if (admission._tag === "Rejected") {
            return Effect.fail(
              new CircuitOpenError({
                key: this.name,
                retryAfter: Duration.millis(admission.retryAfterMillis),
                state: admission.state
              })
            )
          }
          const ticket = admission.ticket
          return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
            const verdict = failure.classify(exit, this.config.isFailure)
            const result: Effect.Effect<A | B, E | E2, R2> = Option.isSome(verdict.error) && options !== undefined
              ? restore(options.orElse(verdict.error.value))
              : verdict.exit
            return Effect.zipRight(
              this.run(
                (state, now) => core.complete(this.config, state, ticket, verdict.outcome, now),
                (_, now) => this.noteCall(verdict.outcome, ticket, now)
              ),
              result
            )
          })
        }
      )
    )) as CircuitBreaker.Service["protect"]

  readonly protectFn = (<Args extends ReadonlyArray<any>, A, E, R, B, E2, R2>(
    f: (...args: Args) => Effect.Effect<A, E, R>,
    options?: CircuitBreaker.ProtectOptions<E, B, E2, R2>
  ) =>
  (...args: Args) => this.protect(Effect.suspend(() => f(...args)), options!)) as CircuitBreaker.Service["protectFn"]

  readonly state: Effect.Effect<CircuitBreaker.State> = this.run((state, now) => {
    const step = core.normalize(this.config, state, now)
    return { ...step, value: core.stateName(step.state) }
  })

  readonly failures: Effect.Effect<number> = this.run((state, now) => {
    const step = core.normalize(this.config, state, now)
    return { ...step, value: core.failures(step.state) }
  })

  readonly reset: Effect.Effect<void> = this.run((state, now) => core.reset(this.config, state, now))

  readonly trip: Effect.Effect<void> = this.run((state, now) => core.trip(this.config, state, now))
}

/** Builds a breaker from validated options, in the current scope. */
const build = (config: Resolved): Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const changes = yield* PubSub.unbounded<CircuitBreaker.Change>()
    const events = yield* EventHub.make<CircuitBreaker.Event>()
    yield* Effect.addFinalizer(() => Effect.zipRight(PubSub.shutdown(changes), events.shutdown))
    return new CircuitBreakerImpl(config, scope, changes, events)
  })

/** `CircuitBreaker.make`. */
export const make = (options?: CircuitBreaker.Options): Effect.Effect<CircuitBreaker.Service, never, Scope.Scope> =>
  Effect.suspend(() => {
    const validated = validate(options)
    return validated._tag === "Invalid" ? check.die(validated.message) : build(validated.config)
  })

/** `CircuitBreaker.make` with every option read from `Config`; bad values fail with a `ConfigError`. */
export const makeConfig = (
  options: Config.Config.Wrap<CircuitBreaker.Options>
): Effect.Effect<CircuitBreaker.Service, ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(fromConfig(options, fields, validate), build)
