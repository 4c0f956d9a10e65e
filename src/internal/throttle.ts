/**
 * The in-memory `Throttle` service: the pure core of `throttleCore.ts` behind a thin Effect shell, the class
 * `ThrottleEngine` of `throttleEngine.ts` (this module builds one per throttle; a `KeyedThrottle` one per key).
 *
 * State lives in one mutable object (the engine) that is only touched synchronously inside `Effect.sync` /
 * `Effect.suspend`, so every decision ("grant now, or queue") is taken and applied in one step — the same atomicity
 * `Ref.modify` gives, without copying a queue on every operation. Waiters are parked fibers (`Effect.async`, whose
 * resume callback is kept on the waiter, like a `Deferred` without the extra object) in the FIFO list of
 * `waiterQueue.ts`, whose module doc has the lifecycle of a waiter as a table.
 *
 * Timers: only the waiter at the head of the queue ever sleeps, for exactly the time its permits are due; the
 * others stay parked. When the head is granted, the same step grants every following waiter that is already due
 * and wakes the new head so that it sleeps for its own due time. One wake-up per grant, no polling — except that on
 * Effect's live clock the head of a window-mode throttle finishes the last millisecond of its wait in event-loop
 * turns (`liveTimer.ts`), because Node's timers are only good to about a millisecond. A smooth throttle relies on
 * its GCRA burst instead (never a loop of turns). A caller with `maxWait` also has its own deadline timer.
 *
 * Metrics, spans and events are updated in the same synchronous step as the state they describe
 * (`throttleInstrument.ts`); with `metrics: false` only events remain.
 *
 * @internal
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as live from "./liveTimer.js"
import * as check from "./options.js"
import * as optionsConfig from "./optionsConfig.js"
import * as core from "./throttleCore.js"
import * as engine from "./throttleEngine.js"
import * as instrument from "./throttleInstrument.js"

export type { Settle } from "./liveTimer.js"
export { isLiveClock } from "./liveTimer.js"

/** The options of a throttle, resolved and validated. */
export interface Resolved {
  readonly core: core.Config
  readonly name: string
  readonly metrics: boolean
}

/** Validates the options; returns the resolved configuration or the "Expected X, got Y" message. */
export const resolveConfig = (
  rates: Rate.Rate | ReadonlyArray<Rate.Rate>,
  options: Throttle.Options | undefined
): Resolved | string => {
  const list: ReadonlyArray<Rate.Rate> = Array.isArray(rates) ? rates : [rates as Rate.Rate]
  const measure = options?.measure ?? "start"
  const smooth = options?.smooth ?? false
  const maxConcurrent = options?.maxConcurrent ?? Number.POSITIVE_INFINITY
  const name = options?.name ?? "default"
  const metrics = options?.metrics ?? true
  const invalid = check.oneOf(measure, "option measure", ["start", "release"]) ??
    (typeof smooth === "boolean" || (typeof smooth === "object" && smooth !== null)
      ? undefined
      : check.expected("option smooth to be a boolean or { burst }", smooth)) ??
    (typeof smooth === "object" && smooth !== null ? check.int(smooth.burst, "option smooth.burst", 1) : undefined) ??
    (maxConcurrent === Number.POSITIVE_INFINITY ? undefined : check.int(maxConcurrent, "option maxConcurrent", 1)) ??
    check.string(name, "option name") ??
    check.boolean(metrics, "option metrics")
  if (invalid !== undefined) return invalid
  const windows = list.map((rate) => ({ limit: rate.limit, period: Duration.toMillis(rate.period) }))
  const interval = smooth === false ? 0 : core.smoothInterval(windows)
  const burst = smooth === false ? 0 : smooth === true ? core.defaultBurst(interval) : smooth.burst
  return {
    core: { windows, measure: measure as "start" | "release", interval, burst, maxConcurrent },
    name,
    metrics
  }
}

/**
 * The in-memory service's idleness probe: the engine's `idleAt` (the clock time, ms, from which the throttle is
 * truly idle — nobody waiting, nothing in flight, every window empty, no pause or smooth schedule pending — or
 * `undefined` while it is busy), reachable from the service. `KeyedThrottle` asks its engines directly; this is
 * what the tests read through `Throttle.make`.
 */
export const IdleAt: unique symbol = Symbol.for("effect-throttles/Throttle/IdleAt") as never

/** Reads the idleness probe of an in-memory service; `undefined` for other backends. */
export const idleAt = (service: Throttle.Service<unknown>): number | undefined => {
  const probe = (service as unknown as { readonly [IdleAt]?: () => number | undefined })[IdleAt]
  return probe === undefined ? undefined : probe()
}

/** Builds the in-memory service. */
export const make = (
  input: Rate.RatesInput,
  options?: Throttle.Options
): Effect.Effect<Throttle.Service, Rate.InvalidRateError, Scope.Scope> =>
  Effect.flatMap(Rate.decodeAll(input), (rates) => {
    const resolved = resolveConfig(rates, options)
    if (typeof resolved === "string") return check.die(resolved)
    return Effect.flatMap(Effect.clock, (clock) => {
      // On the live clock a smooth schedule tolerates a timer's lateness (see core.LIVE_TOLERANCE).
      const { config, settle } = engine.setup(rates, resolved.core, clock)
      const throttle = makeEngine(rates, { ...resolved, core: config }, live.preciseNow(clock), (d) => clock.sleep(d), settle)
      return Effect.as(Effect.addFinalizer(() => throttle.shutdown()), serviceOf(throttle))
    })
  })

/** The option checks that apply to a value read from config (the rate has its own validation). */
const configChecks: optionsConfig.FieldChecks = {
  measure: (u) => check.oneOf(u, "a value for option measure", ["start", "release"]),
  smooth: (u) => check.boolean(u, "a value for option smooth"),
  burst: (u) => check.int(u, "a value for option burst", 1),
  maxConcurrent: (u) => check.int(u, "a value for option maxConcurrent", 1),
  name: (u) => check.string(u, "a value for option name"),
  metrics: (u) => check.boolean(u, "a value for option metrics")
}

/**
 * `layerConfig`'s effect: a `Config` of the rate, or a `Config.Wrap` of the whole options object whose every value
 * is checked inside its own config (so a `ConfigError` names the key).
 */
export const makeFromConfig = (
  config: Config.Config<Rate.RatesInput> | Config.Config.Wrap<Throttle.ConfigOptions>,
  options: Throttle.Options | undefined
): Effect.Effect<Throttle.Service, Rate.InvalidRateError | ConfigError.ConfigError, Scope.Scope> => {
  if (Config.isConfig(config)) {
    return Effect.flatMap(config as Config.Config<Rate.RatesInput>, (input) => make(input, options))
  }
  const read = optionsConfig.fromConfig(
    config as Config.Config.Wrap<Throttle.ConfigOptions>,
    configChecks,
    (o: Throttle.ConfigOptions) => ({ _tag: "Valid", config: o })
  )
  return Effect.flatMap(read, ({ burst, rate, smooth, ...rest }) =>
    make(rate, {
      ...options,
      ...rest,
      ...(smooth === undefined ? {} : { smooth: smooth && burst !== undefined ? { burst } : smooth })
    }))
}

/**
 * The service over an explicit clock (for tests of the live-clock settling). `now` must be non-decreasing; `sleep`
 * waits for a duration on the same clock.
 */
export const makeService = (
  rate: Rate.Rate | ReadonlyArray<Rate.Rate>,
  resolved: Resolved | core.Config,
  now: () => number,
  sleep: (duration: Duration.Duration) => Effect.Effect<void>,
  settle?: live.Settle
): { readonly service: Throttle.Service; readonly shutdown: Effect.Effect<void> } => {
  const rates = (Array.isArray(rate) ? rate : [rate]) as unknown as readonly [Rate.Rate, ...Array<Rate.Rate>]
  const full: Resolved = "core" in resolved ? resolved : { core: resolved, name: "default", metrics: false }
  const throttle = makeEngine(rates, full, now, sleep, settle)
  return { service: serviceOf(throttle), shutdown: throttle.shutdown() }
}

/** One in-memory throttle of its own: an engine with its own clock reading, sleep and instrument. */
const makeEngine = (
  rates: readonly [Rate.Rate, ...Array<Rate.Rate>],
  resolved: Resolved,
  now: () => number,
  sleep: (duration: Duration.Duration) => Effect.Effect<void>,
  settle: live.Settle | undefined
): engine.ThrottleEngine =>
  new engine.ThrottleEngine(rates, resolved.core, settle, {
    now,
    sleep,
    name: resolved.name,
    metrics: resolved.metrics,
    instrument: instrument.make(resolved.name, resolved.metrics),
    sharedInstrument: false
  })

/** The engine's service, with the idleness probe. */
const serviceOf = (throttle: engine.ThrottleEngine): Throttle.Service => {
  const service = throttle.service
  Object.defineProperty(service, IdleAt, { value: () => throttle.idleAt() })
  return service
}
