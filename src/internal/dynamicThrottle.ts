/**
 * The adaptive throttle's Effect shell: validates options (the options kit), keeps the core's state
 * (`dynamicThrottleCore.ts`) in one mutable field and applies each step synchronously at the `Clock` time, together
 * with the rate gauge, the adjustment counter and the events that describe it (so the gauge never disagrees with
 * `rate`). Waiting is a sleep until the reserved slot (`liveTimer.sleepUntil`: exact on the live clock, a plain
 * sleep on `TestClock`); a wait that actually waits is an `effect_throttles.acquire` span.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import type { Stream } from "effect/Stream"
import type { DynamicThrottle } from "../DynamicThrottle.js"
import * as core from "./dynamicThrottleCore.js"
import * as failure from "./failure.js"
import * as live from "./liveTimer.js"
import { EventHub } from "./observability.js"
import * as check from "./options.js"
import { fromConfig, invalid, type Validated } from "./optionsConfig.js"

// -----------------------------------------------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------------------------------------------

/** A validated throttle: the core's configuration and what only the shell uses. */
export interface Resolved extends core.Config {
  readonly name: string
  readonly metrics: boolean
  readonly isFailure: ((error: unknown) => boolean) | undefined
}

const positive = (u: unknown, option: string) =>
  typeof u === "number" && Number.isFinite(u) && u > 0 ? undefined : check.expected(`${option} to be a finite number > 0`, u)

/** The checks of the options that stand alone (also applied to each one read from its own `Config`). */
const fields = {
  name: (u: unknown) => check.string(u, "name"),
  initialRate: (u: unknown) => positive(u, "initialRate"),
  minRate: (u: unknown) => positive(u, "minRate"),
  maxRate: (u: unknown) => positive(u, "maxRate"),
  window: (u: unknown) => check.int(u, "window", 1),
  increaseFactor: (u: unknown) =>
    typeof u === "number" && Number.isFinite(u) && u >= 1
      ? undefined
      : check.expected("increaseFactor to be a finite number >= 1", u),
  decreaseFactor: (u: unknown) => check.number(u, "decreaseFactor", "in (0, 1]", (n) => n > 0 && n <= 1),
  jitter: (u: unknown) => check.number(u, "jitter", "in [0, 1)", (n) => n >= 0 && n < 1),
  isFailure: (u: unknown) => check.fn(u, "isFailure"),
  metrics: (u: unknown) => check.boolean(u, "metrics")
} as const

/** Checks user options and fills in defaults; every problem is an `Expected X, got Y` message naming the option. */
export const validate = (options: DynamicThrottle.Options): Validated<Resolved> => {
  const {
    decreaseFactor = 0.75,
    increaseFactor = 1.25,
    initialRate,
    isFailure,
    jitter = 0.2,
    lowerBound = 0.25,
    maxRate = 100,
    metrics = true,
    minRate = 0.01,
    name = "default",
    upperBound = 0.75,
    window = 100
  } = options ?? ({} as Partial<DynamicThrottle.Options>)
  const bad = (key: keyof typeof fields, value: unknown): Validated<never> | undefined => {
    const message = fields[key](value)
    return message === undefined ? undefined : invalid(key, message)
  }
  const single = bad("initialRate", initialRate) ?? bad("minRate", minRate) ?? bad("maxRate", maxRate)
  if (single !== undefined) return single
  if (!(minRate <= initialRate && initialRate <= maxRate)) {
    return invalid(
      "initialRate",
      `Expected 0 < minRate <= initialRate <= maxRate, got minRate ${check.printValue(minRate)}, initialRate ${
        check.printValue(initialRate)
      }, maxRate ${check.printValue(maxRate)}`
    )
  }
  const badWindow = bad("window", window)
  if (badWindow !== undefined) return badWindow
  const bounded = (u: unknown) => typeof u === "number" && Number.isFinite(u)
  if (!bounded(lowerBound) || !bounded(upperBound) || !(0 <= lowerBound && lowerBound <= upperBound && upperBound <= 1)) {
    return invalid(
      bounded(lowerBound) && lowerBound >= 0 && lowerBound <= 1 ? "upperBound" : "lowerBound",
      `Expected 0 <= lowerBound <= upperBound <= 1, got lowerBound ${check.printValue(lowerBound)}, upperBound ${
        check.printValue(upperBound)
      }`
    )
  }
  const rest = bad("increaseFactor", increaseFactor) ?? bad("decreaseFactor", decreaseFactor) ??
    bad("jitter", jitter) ?? bad("name", name) ?? bad("metrics", metrics) ??
    (isFailure === undefined ? undefined : bad("isFailure", isFailure))
  if (rest !== undefined) return rest
  return {
    _tag: "Valid",
    config: {
      initialRate,
      minRate,
      maxRate,
      window,
      upperBound,
      lowerBound,
      increaseFactor,
      decreaseFactor,
      jitter,
      name,
      metrics,
      isFailure
    }
  }
}

// -----------------------------------------------------------------------------------------------------------------
// Metrics and events (no descriptions, so that `Metric.counter(<name>)` in user code reads the same series)
// -----------------------------------------------------------------------------------------------------------------

const rateGauge = Metric.gauge("effect_throttles_dynamic_throttle_rate")

const adjustmentsTotal = Metric.counter("effect_throttles_dynamic_throttle_adjustments_total")

/** One throttle's instruments: the module's metrics tagged with its name. */
class Instruments {
  readonly rate: Metric.Metric.Gauge<number>
  readonly up: Metric.Metric.Counter<number>
  readonly down: Metric.Metric.Counter<number>
  constructor(name: string) {
    this.rate = Metric.tagged(rateGauge, "name", name)
    const adjustments = Metric.tagged(adjustmentsTotal, "name", name)
    this.up = Metric.tagged(adjustments, "direction", "up")
    this.down = Metric.tagged(adjustments, "direction", "down")
  }
}

/** The constructors of `DynamicThrottle.Event`. */
export const Event = Data.taggedEnum<DynamicThrottle.Event>()

/** Why the rate changed. */
type Reason = "adapted" | "setRate" | "throttled"

// -----------------------------------------------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------------------------------------------

/** An adaptive throttle: the core's state and everything that watches it. */
class DynamicThrottleImpl implements DynamicThrottle.Service {
  readonly name: string
  /** The core's state; changed only in synchronous steps (`step`, `withPermit`'s reservation and cancellation). */
  private current: core.State
  /** `undefined` with `metrics: false`. */
  private readonly instruments: Instruments | undefined
  private readonly drawJitter: Effect.Effect<number>
  readonly events: Stream<DynamicThrottle.Event>

  constructor(private readonly config: Resolved, private readonly hub: EventHub<DynamicThrottle.Event>) {
    this.name = config.name
    this.current = core.initial(config)
    this.instruments = config.metrics ? new Instruments(config.name) : undefined
    this.instruments?.rate.unsafeUpdate(config.initialRate, [])
    this.drawJitter = config.jitter === 0 ? Effect.succeed(0) : Random.nextRange(-config.jitter, config.jitter)
    this.events = hub.stream
  }

  /**
   * One step at the current `Clock` time: the new state and, when the rate moved, its gauge, the adjustment
   * counter and a `RateChanged` event, all synchronously.
   */
  private step(f: (state: core.State, now: number) => core.State, reason: Reason): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const before = this.current
      const after = f(before, now)
      this.current = after
      if (after.rate !== before.rate) {
        const direction = after.rate > before.rate ? "up" : "down"
        const instruments = this.instruments
        if (instruments !== undefined) {
          instruments.rate.unsafeUpdate(after.rate, [])
          ;(direction === "up" ? instruments.up : instruments.down).unsafeUpdate(1, [])
        }
        if (this.hub.active) {
          this.hub.emit(Event.RateChanged({ from: before.rate, to: after.rate, direction, reason, at: now }))
        }
      }
      if (after.holdUntil > before.holdUntil && this.hub.active) {
        this.hub.emit(Event.Paused({ until: after.holdUntil, at: now }))
      }
      return this.hub.flush() ?? Effect.void
    })
  }

  /**
   * Sleeps until `at` (exactly on the live clock: `sleepUntil` settles the last millisecond); then, if a pause was
   * reported meanwhile, sleeps its length and checks again.
   */
  private waitUntil(at: number, appliedShift: number): Effect.Effect<void> {
    return Effect.zipRight(
      live.sleepUntil(at),
      Effect.suspend(() => {
        const shift = this.current.shift
        return shift > appliedShift ? this.waitUntil(at + shift - appliedShift, shift) : Effect.void
      })
    )
  }

  /** The wait for a reserved slot: a span (`effect_throttles.acquire`) only when it waits, with metrics on. */
  private wait(ticket: core.Ticket, reservedAt: number): Effect.Effect<void> {
    const wait = this.waitUntil(ticket.at, ticket.shift)
    if (ticket.delay <= 0 || this.instruments === undefined) return wait
    return Effect.withSpan(
      Effect.zipRight(
        wait,
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.annotateCurrentSpan("waited_ms", now - reservedAt))
      ),
      "effect_throttles.acquire",
      { attributes: { name: this.name, permits: 1 } }
    )
  }

  readonly withPermit = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(this.drawJitter, (u) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [ticket, next] = core.reserve(this.current, now, u)
          this.current = next
          return Effect.zipRight(
            restore(this.wait(ticket, now)).pipe(
              Effect.onInterrupt(() =>
                Effect.sync(() => {
                  this.current = core.cancel(this.current, ticket)
                })
              )
            ),
            Effect.flatMap(Effect.exit(restore(self)), (exit) => {
              const verdict = failure.classify(exit, this.config.isFailure)
              const outcome = verdict.outcome
              return outcome === "success" || outcome === "failure"
                ? Effect.zipRight(
                  this.step((state) => core.record(this.config, state, outcome === "success"), "adapted"),
                  verdict.exit
                )
                : verdict.exit
            })
          )
        }))
    )

  readonly rate: Effect.Effect<number> = Effect.sync(() => this.current.rate)

  readonly setRate = (rate: number): Effect.Effect<void> =>
    Effect.suspend(() =>
      typeof rate !== "number" || Number.isNaN(rate)
        ? check.die(check.expected("rate to be a number", rate))
        : this.step((state) => core.setRate(this.config, state, rate), "setRate")
    )

  readonly successes: Effect.Effect<number> = Effect.sync(() => this.current.successes)

  readonly failures: Effect.Effect<number> = Effect.sync(() => this.current.failures)

  readonly reset: Effect.Effect<void> = Effect.sync(() => {
    this.current = core.resetCounts(this.current)
  })

  readonly reportThrottled = (retryAfter?: Duration.DurationInput): Effect.Effect<void> =>
    Effect.suspend(() => {
      let retryMillis: number | undefined
      if (retryAfter !== undefined) {
        const d = check.duration(retryAfter, "retryAfter", { allowZero: true })
        if (typeof d === "string") return check.die(d)
        retryMillis = Duration.toMillis(d)
      }
      return this.step((state, now) => core.reportThrottled(this.config, state, now, retryMillis), "throttled")
    })
}

/** Builds a throttle from validated options. */
const build = (config: Resolved): Effect.Effect<DynamicThrottle.Service> =>
  Effect.map(EventHub.make<DynamicThrottle.Event>(), (hub) => new DynamicThrottleImpl(config, hub))

/** `DynamicThrottle.make`. */
export const make = (options: DynamicThrottle.Options): Effect.Effect<DynamicThrottle.Service> =>
  Effect.suspend(() => {
    const validated = validate(options)
    return validated._tag === "Invalid" ? check.die(validated.message) : build(validated.config)
  })

/** `DynamicThrottle.make` with every option read from `Config`; bad values fail with a `ConfigError`. */
export const makeConfig = (
  options: Config.Config.Wrap<DynamicThrottle.Options>
): Effect.Effect<DynamicThrottle.Service, ConfigError.ConfigError> =>
  Effect.flatMap(fromConfig(options, fields, validate), build)
