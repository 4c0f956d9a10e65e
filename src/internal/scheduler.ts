/**
 * The Scheduler's implementation: aiometer's run functions on top of Effect's own concurrency.
 *
 * - `maxAtOnce` is the `concurrency` of `Effect.forEach` (iterables) or of `Stream.mapEffect` (streams). Nothing of
 *   ours runs per task when it is the only option, so the cost is Effect's own.
 * - `maxPerSecond` is a smooth `Throttle` (`limit = ceil(r)`, `period = limit / r` seconds): starts spaced `1 / r`
 *   seconds apart, the first one immediate. A task takes its `maxAtOnce` place first and then waits for its start
 *   inside that place (aiometer's order), so starts never bunch up behind busy places.
 * - `throttle` (shared): every task runs inside `throttle.withPermit`.
 *
 * Iterables go through `Effect.forEach` (materialized by it); streams through `Stream.mapEffect`, which pulls the
 * source only as places free up (plus Effect's small internal buffer).
 *
 * Paced admission: with `maxPerSecond` and no `maxAtOnce`, the input is not forked all at once (a fiber per item,
 * nearly all of them only waiting for their start). At most `PACED_LOOKAHEAD` tasks wait for their start at any
 * time, so the fibers that exist are the running tasks plus a few: for an iterable a driver forks the tasks one
 * after another; for a stream (and in `amap`) the source lets an element through only when there is a place.
 * On a real clock this matters beyond memory: forking thousands of fibers stalls the event loop for tens of
 * milliseconds right after the first start, and the rate never makes up that delay (the window that lets the
 * schedule catch up then holds the catch-up burst back a period later).
 *
 * Metrics (unless `metrics: false`): a task is counted once it has started (its place and its permits taken):
 * `effect_throttles_scheduler_running` goes up by one in the step the task starts and down in the step it ends,
 * in which `effect_throttles_scheduler_tasks_total` counts its outcome. Both carry the run's `name`. A task
 * interrupted by the run's own teardown is counted (as interrupted) when the run is over: see `Meter`. With
 * `metrics: false` nothing of this runs (the fast path stays Effect's own `forEach`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Scheduler from "../Scheduler.js"
import type { Throttle } from "../Throttle.js"
import { firstFailure } from "./failure.js"
import * as check from "./options.js"
import { PACED_LOOKAHEAD, rateOf } from "./schedulerCore.js"
import * as memoryThrottle from "./throttle.js"
import { isThrottle } from "./throttleBackend.js"

/** See `Scheduler.RunAnyError`. */
export class RunAnyError<out E = unknown> extends Data.TaggedError("RunAnyError")<{
  /** The error of every task, in input order. */
  readonly errors: ReadonlyArray<E>
}> {
  override get message(): string {
    const first = this.errors[0]
    const shown = first instanceof Error ? first.message : String(first)
    return `All ${this.errors.length} task(s) of runAny failed; the first with: ${shown}`
  }
}

type Input<A, E, R> = Iterable<A> | Stream.Stream<A, E, R>

type Wrap<RP> = <A, E, R>(task: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | RP>

/** Options after validation. */
export interface Plan<RP> {
  readonly concurrency: number | "unbounded"
  readonly maxPerSecond: number | undefined
  readonly throttle: Throttle.Service | undefined
  readonly onProgress: ((progress: Scheduler.Progress) => Effect.Effect<void, never, RP>) | undefined
  readonly name: string
  readonly metrics: boolean
}

/** Validates the options: the resolved plan, or the "Expected X, got Y" message of the first bad option. */
export const resolvePlan = <RP>(options: Scheduler.Options<RP> | undefined): Plan<RP> | string => {
  const { maxAtOnce, maxPerSecond, throttle, onProgress, name, metrics } = options ?? {}
  const invalid = (maxAtOnce === undefined ? undefined : check.int(maxAtOnce, "option maxAtOnce", 1)) ??
    (maxPerSecond === undefined || (typeof maxPerSecond === "number" && Number.isFinite(maxPerSecond) && maxPerSecond > 0)
      ? undefined
      : check.expected("option maxPerSecond to be a finite number > 0", maxPerSecond)) ??
    (throttle === undefined || isThrottle(throttle)
      ? undefined
      : check.expected("option throttle to be a Throttle service", throttle)) ??
    (onProgress === undefined ? undefined : check.fn(onProgress, "option onProgress")) ??
    (name === undefined ? undefined : check.string(name, "option name")) ??
    (metrics === undefined ? undefined : check.boolean(metrics, "option metrics"))
  if (invalid !== undefined) return invalid
  return {
    concurrency: maxAtOnce ?? "unbounded",
    maxPerSecond,
    throttle,
    onProgress,
    name: name ?? "default",
    metrics: metrics ?? true
  }
}

export { PACED_LOOKAHEAD, rateOf } from "./schedulerCore.js"

/** The rate of the `maxPerSecond` throttle (see `rateOf`). */
const ownRate = (maxPerSecond: number) => {
  const { limit, periodMillis } = rateOf(maxPerSecond)
  return { limit, period: Duration.millis(periodMillis) }
}

const isStream = (u: unknown): u is Stream.Stream<unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && Stream.StreamTypeId in u

// ---------------------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------------------

/**
 * `effect_throttles_scheduler_tasks_total` (tags `name`, `outcome` = success / failure / interrupted). No
 * description (here and below), so that `Metric.counter(<name>)` in user code reads the same metric.
 */
export const tasksTotal: Metric.Metric.Counter<number> = Metric.counter("effect_throttles_scheduler_tasks_total")

/** `effect_throttles_scheduler_running` (tag `name`). */
export const running: Metric.Metric.Gauge<number> = Metric.gauge("effect_throttles_scheduler_running")

/** No fiber-level tags: a run's metrics carry the run's own tags only. */
const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

/**
 * The metrics of one run. A task is counted as it starts (`start`, one synchronous step: the gauge goes up) and
 * its end is observed by two continuations (`observe`: the gauge goes down and the outcome is counted, in one
 * step). That is all a task pays; where the results are collected anyway, the success continuation also stores
 * the result (`runAll`), in place of `Effect.forEach`'s own collecting one.
 *
 * A task interrupted from outside (by the run's own teardown: a fail-fast failure, `runAny`'s winner, an ended
 * `amap` stream, an interrupted caller) runs no handler, so `finish`, run once the run is over and every task has
 * stopped, counts the tasks that started and never reported an end as interrupted, and takes them off the gauge.
 */
class Meter {
  /** Tasks started in this run. */
  private started = 0
  /** Tasks of this run whose end has been counted. */
  private ended = 0
  private readonly gauge: Metric.Metric.Gauge<number>
  private readonly success: Metric.Metric.Counter<number>
  private readonly failure: Metric.Metric.Counter<number>
  private readonly interrupted: Metric.Metric.Counter<number>

  constructor(name: string) {
    const tag = MetricLabel.make("name", name)
    this.gauge = Metric.taggedWithLabels(running, [tag])
    this.success = Metric.taggedWithLabels(tasksTotal, [tag, MetricLabel.make("outcome", "success")])
    this.failure = Metric.taggedWithLabels(tasksTotal, [tag, MetricLabel.make("outcome", "failure")])
    this.interrupted = Metric.taggedWithLabels(tasksTotal, [tag, MetricLabel.make("outcome", "interrupted")])
  }

  /** A task starts now. */
  readonly start = (): void => {
    this.started++
    this.gauge.unsafeModify(1, NO_TAGS)
  }

  private end(counter: Metric.Metric.Counter<number>, n: number): void {
    this.ended += n
    this.gauge.unsafeModify(-n, NO_TAGS)
    counter.unsafeUpdate(n, NO_TAGS)
  }

  /** A task succeeded. */
  readonly succeeded = (): void => this.end(this.success, 1)

  /** A task failed (or interrupted itself): counted, and the cause passed on. */
  readonly onFailure = (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
    this.end(Cause.isInterruptedOnly(cause) ? this.interrupted : this.failure, 1)
    return Effect.failCause(cause)
  }

  /** The end of a successful task whose value is passed on. */
  private readonly passOn = (value: unknown): Effect.Effect<unknown> => {
    this.succeeded()
    return Effect.succeed(value)
  }

  /**
   * `task` with its end observed: a success by a `flatMap` continuation, a failure by a `catchAllCause` one (the
   * pair measured cheaper than one `matchCauseEffect` on the hot path).
   */
  readonly observe = <A, E, R>(
    task: Effect.Effect<A, E, R>,
    onSuccess: (value: A) => Effect.Effect<A> = this.passOn as (value: A) => Effect.Effect<A>
  ): Effect.Effect<A, E, R> =>
    Effect.catchAllCause(Effect.flatMap(task, onSuccess), this.onFailure as (cause: Cause.Cause<E>) => Effect.Effect<never, E>)

  /** `task`, counted from now. For a caller that builds the task exactly when it starts (`Effect.forEach`'s `f`). */
  readonly eager = <A, E, R>(task: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    this.start()
    return this.observe(task)
  }

  /** `task`, counted from the moment the returned effect starts. */
  readonly lazy = <A, E, R>(task: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => this.eager(task))

  /** Once the run is over: the tasks that never reported an end were interrupted with it. */
  readonly finish: Effect.Effect<void> = Effect.sync(() => {
    const lost = this.started - this.ended
    if (lost > 0) this.end(this.interrupted, lost)
  })
}

/** The meter of a run, unless `metrics: false`. */
const makeMeter = <RP>(plan: Plan<RP>): Meter | undefined => plan.metrics ? new Meter(plan.name) : undefined

/** Progress counters of one run, and the report of a snapshot to `onProgress` (when watched). */
interface Progress<RP> {
  started: number
  completed: number
  failed: number
  total: number | undefined
  readonly report: Effect.Effect<void, never, RP> | undefined
}

const makeProgress = <RP>(plan: Plan<RP>, total: number | undefined): Progress<RP> => {
  const { onProgress } = plan
  const progress: Progress<RP> = {
    started: 0,
    completed: 0,
    failed: 0,
    total,
    report: onProgress === undefined ? undefined : Effect.suspend(() =>
      onProgress({
        started: progress.started,
        completed: progress.completed,
        failed: progress.failed,
        total: progress.total
      })
    )
  }
  return progress
}

/**
 * The per-task wrapper of a plan: the `maxPerSecond` throttle (`own`), then the shared throttle, then the progress
 * counters and the metrics around the task. `undefined` when there is nothing to add but the metrics (the fast
 * path: Effect's own concurrency, with the meter's one frame per task).
 */
const makeWrap = <RP>(
  plan: Plan<RP>,
  progress: Progress<RP>,
  meter: Meter | undefined,
  own: Throttle.Service | undefined,
  started?: Effect.Effect<void>
): Wrap<RP> | undefined => {
  const { throttle } = plan
  const report = progress.report
  if (own === undefined && throttle === undefined && report === undefined) return undefined
  const limited = <A, E, R>(task: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const counted = meter === undefined ? task : meter.lazy(task)
    const shared = throttle === undefined ? counted : throttle.withPermit(counted)
    if (own === undefined) return shared
    return own.withPermit(started === undefined ? shared : Effect.zipRight(started, shared))
  }
  if (report === undefined) return limited
  const onStart = Effect.suspend(() => {
    progress.started++
    return report
  })
  return (task) =>
    Effect.matchCauseEffect(limited(Effect.zipRight(onStart, task)), {
      onFailure: (cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        progress.failed++
        return Effect.zipRight(report, Effect.failCause(cause))
      },
      onSuccess: (value) => {
        progress.completed++
        return Effect.as(report, value)
      }
    })
}

/** The `maxPerSecond` throttle of a plan, if any, in the current scope. */
const ownThrottle = <RP>(plan: Plan<RP>) =>
  plan.maxPerSecond === undefined
    ? Effect.succeed(undefined)
    : Effect.orDie(memoryThrottle.make(ownRate(plan.maxPerSecond), { smooth: true }))

/**
 * The admission gate of paced admission: `places` places, one driver that `take`s them (waiting while none is
 * free) and tasks that `release` them. A task releases its place between its grant and its first step, so the
 * release is one synchronous step: it never delays the start it follows.
 */
interface Gate {
  readonly take: Effect.Effect<void>
  readonly release: Effect.Effect<void>
}

const makeGate = (places: number): Gate => {
  let free = places
  let driver: ((effect: Effect.Effect<void>) => void) | undefined
  const park = Effect.async<void>((resume) => {
    driver = resume
    return Effect.sync(() => {
      if (driver === resume) driver = undefined
    })
  })
  return {
    take: Effect.suspend(() => {
      if (free === 0) return park
      free--
      return Effect.void
    }),
    release: Effect.sync(() => {
      const resume = driver
      if (resume === undefined) {
        free++
        return
      }
      driver = undefined // the freed place goes straight to the waiting driver
      resume(Effect.void)
    })
  }
}

/**
 * Runs `body` with the plan's wrapper; the `maxPerSecond` throttle lives in a scope around `body`. When `paced`
 * (paced admission applies), `body` also gets the admission gate: a driver takes a place before forking a task,
 * and the task gives it back as soon as the throttle lets it start.
 */
const withPlan = <RP, X, E, R>(
  plan: Plan<RP>,
  progress: Progress<RP>,
  meter: Meter | undefined,
  paced: boolean,
  body: (wrap: Wrap<RP> | undefined, gate: Gate | undefined) => Effect.Effect<X, E, R>
): Effect.Effect<X, E, R> => {
  if (plan.maxPerSecond === undefined) return body(makeWrap(plan, progress, meter, undefined), undefined)
  return Effect.scoped(Effect.flatMap(ownThrottle(plan), (own) => {
    if (!paced) return body(makeWrap(plan, progress, meter, own), undefined)
    const gate = makeGate(PACED_LOOKAHEAD)
    return body(makeWrap(plan, progress, meter, own, gate.release), gate)
  }))
}

/** A source that lets an element through only once the gate has a place for its task (paced admission). */
const gated = <A, E, R>(source: Stream.Stream<A, E, R>, gate: Gate | undefined): Stream.Stream<A, E, R> =>
  gate === undefined ? source : Stream.tap(source, () => gate.take)

/**
 * Paced admission of `items` (see the module doc): the tasks are forked one after another, each once `gate` has a
 * place. Fails fast like `Effect.forEach`: the first failure of a task stops the driver and interrupts the others
 * (closing the scope of the fiber set). Results are stored in input order when `collect` is true.
 */
const runPaced = <A, C, E, R>(
  items: ReadonlyArray<A>,
  one: (item: A, index: number) => Effect.Effect<C, E, R>,
  gate: Gate,
  collect: boolean
): Effect.Effect<Array<C>, E, R> =>
  Effect.scoped(Effect.gen(function*() {
    const results: Array<C> = collect ? new Array(items.length) : []
    const set = yield* FiberSet.make<void, E>()
    const store = collect
      ? (item: A, i: number) =>
        Effect.map(one(item, i), (c) => {
          results[i] = c
        })
      : (item: A, i: number) => Effect.asVoid(one(item, i))
    const driver = Effect.forEach(
      items,
      (item, i) => Effect.zipRight(gate.take, FiberSet.run(set, store(item, i))),
      { discard: true }
    )
    yield* Effect.raceFirst(Effect.zipRight(driver, FiberSet.awaitEmpty(set)), FiberSet.join(set))
    // The last task may have failed in the same instant as the set became empty: its failure still wins.
    const failed = yield* Deferred.poll(set.deferred)
    if (Option.isSome(failed)) yield* (failed.value as Effect.Effect<void, E>)
    return results
  }))

/** Counts the items of a stream for the progress total, reported when the stream ends (only when watched). */
const counted = <A, E, R, RP>(stream: Stream.Stream<A, E, R>, progress: Progress<RP>): Stream.Stream<A, E, R | RP> => {
  const report = progress.report
  if (report === undefined) return stream
  let pulled = 0
  return stream.pipe(
    Stream.tap(() => Effect.sync(() => void pulled++)),
    Stream.onEnd(Effect.suspend(() => {
      progress.total = pulled
      return report
    }))
  )
}

/**
 * The fast path with metrics (only `maxAtOnce`, or nothing): `Effect.forEach` with the meter's one frame per task,
 * which also stores the result when `collect` is true (in place of `forEach`'s own collecting frame).
 */
const runMetered = <A, C, E, R>(
  items: ReadonlyArray<A>,
  task: (item: A, index: number) => Effect.Effect<C, E, R>,
  meter: Meter,
  concurrency: number | "unbounded",
  collect: boolean
): Effect.Effect<Array<C>, E, R> => {
  if (!collect) {
    const ended = (): Effect.Effect<C> => {
      meter.succeeded()
      return Effect.void as Effect.Effect<never>
    }
    return Effect.as(
      Effect.forEach(items, (item, i) => {
        meter.start()
        return meter.observe(task(item, i), ended)
      }, { concurrency, discard: true }),
      []
    )
  }
  return Effect.suspend(() => {
    const results: Array<C> = new Array(items.length)
    return Effect.as(
      Effect.forEach(items, (item, i) => {
        meter.start()
        return meter.observe(task(item, i), (value): Effect.Effect<C> => {
          results[i] = value
          meter.succeeded()
          return Effect.void as Effect.Effect<never>
        })
      }, { concurrency, discard: true }),
      results
    )
  })
}

/**
 * Runs `task(item, index)` for every input under the plan and `settle` around each limited task (identity,
 * `Effect.exit`, `runAny`'s attempt), collecting the results in input order when `collect` is true. The one engine
 * behind `runEach`, `runAll` and `runAny`.
 */
const drive = <A, B, E, R, C, E3, R3, E2, R2, RP>(
  input: Input<A, E2, R2>,
  task: (item: A, index: number) => Effect.Effect<B, E, R>,
  settle: ((effect: Effect.Effect<B, E, R | RP>, index: number) => Effect.Effect<C, E3, R3>) | undefined,
  options: Scheduler.Options<RP> | undefined,
  collect: boolean
): Effect.Effect<Array<C>, E3 | E2, R3 | R2 | RP> =>
  Effect.suspend(() => {
    const plan = resolvePlan(options)
    if (typeof plan === "string") return check.die(plan)
    const stream = isStream(input) ? input as Stream.Stream<A, E2, R2> : undefined
    const items = stream !== undefined
      ? undefined
      : Array.isArray(input)
      ? input as ReadonlyArray<A>
      : Array.from(input as Iterable<A>)
    const progress = makeProgress(plan, items?.length)
    const meter = makeMeter(plan)
    const paced = plan.concurrency === "unbounded" && plan.maxPerSecond !== undefined
    const run = withPlan(plan, progress, meter, paced, (wrap, gate) => {
      // Effect's own concurrency builds each task when it starts it, so the meter may count it right then.
      const limited = wrap !== undefined
        ? (item: A, i: number) => wrap(Effect.suspend(() => task(item, i)))
        : meter === undefined
        ? task
        : stream !== undefined
        ? (item: A, i: number) => meter.lazy(task(item, i))
        : (item: A, i: number) => meter.eager(task(item, i))
      const one = (settle === undefined ? limited : (item: A, i: number) => settle(limited(item, i), i)) as (
        item: A,
        index: number
      ) => Effect.Effect<C, E3, R3 | RP>
      if (stream !== undefined) {
        const mapped = Stream.mapEffect(
          Stream.zipWithIndex(gated(counted(stream, progress), gate)),
          ([item, i]) => one(item, i),
          { concurrency: plan.concurrency }
        )
        return collect
          ? Effect.map(Stream.runCollect(mapped), Chunk.toArray)
          : Effect.as(Stream.runDrain(mapped), [] as Array<C>)
      }
      if (gate !== undefined) return runPaced(items!, one, gate, collect)
      if (wrap === undefined && meter !== undefined && settle === undefined) {
        // The fast path with metrics: the meter's frame also stores the result (no second frame per task).
        return runMetered(items!, task as unknown as (item: A, index: number) => Effect.Effect<C, E3, R3>, meter, plan.concurrency, collect)
      }
      return collect
        ? Effect.forEach(items!, one, { concurrency: plan.concurrency })
        : Effect.as(Effect.forEach(items!, one, { concurrency: plan.concurrency, discard: true }), [] as Array<C>)
    })
    const finished = meter === undefined ? run : Effect.ensuring(run, meter.finish)
    return Effect.catchAllCause(finished, (cause) => Effect.failCause(firstFailure(cause)))
  })

/** `Scheduler.runEach`. */
export const runEach = <A, B, E, R, E2, R2, RP>(
  items: Input<A, E2, R2>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  options: Scheduler.Options<RP> | undefined
): Effect.Effect<void, E | E2, R | R2 | RP> => Effect.asVoid(drive(items, f, undefined, options, false))

const identity = <A>(a: A): A => a

/** `Scheduler.runAll`, failing fast or settling every task. */
export const runAll = <A, E, R, E2, R2, RP>(
  effects: Input<Effect.Effect<A, E, R>, E2, R2>,
  options: Scheduler.RunAllOptions<RP> | undefined
): Effect.Effect<Array<A> | Array<Exit.Exit<A, E>>, E | E2, R | R2 | RP> =>
  options?.settle === true
    ? drive(effects, identity, (effect) => Effect.exit(effect), options, true) as Effect.Effect<
      Array<Exit.Exit<A, E>>,
      E2,
      R | R2 | RP
    >
    : drive(effects, identity, undefined, options, true) as Effect.Effect<Array<A>, E | E2, R | R2 | RP>

/** `Scheduler.amap`: results in completion order; closing the stream interrupts the running tasks. */
export const amap = <A, B, E, R, E2, R2, RP>(
  items: Input<A, E2, R2>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  options: Scheduler.Options<RP> | undefined
): Stream.Stream<B, E | E2, R | R2 | RP> =>
  Stream.unwrapScoped(Effect.suspend(() => {
    const plan = resolvePlan(options)
    if (typeof plan === "string") return check.die(plan)
    const progress = makeProgress(plan, undefined)
    const meter = makeMeter(plan)
    const source: Stream.Stream<A, E2, R2 | RP> = isStream(items)
      ? counted(items as Stream.Stream<A, E2, R2>, progress)
      : Stream.suspend(() => {
        const array = Array.isArray(items) ? items as ReadonlyArray<A> : Array.from(items as Iterable<A>)
        progress.total = array.length
        return Stream.fromIterable(array)
      })
    // The maxPerSecond throttle lives in the stream's scope: it is closed when the stream ends. The meter's
    // finalizer is added first, so it runs last, once every task has stopped.
    const finish = meter === undefined ? Effect.void : Effect.addFinalizer(() => meter.finish)
    return Effect.zipRight(finish, Effect.map(ownThrottle(plan), (own) => {
      const gate = own !== undefined && plan.concurrency === "unbounded" ? makeGate(PACED_LOOKAHEAD) : undefined
      const wrap = makeWrap(plan, progress, meter, own, gate?.release)
      const run = wrap !== undefined
        ? ([item, i]: [A, number]) => wrap(Effect.suspend(() => f(item, i)))
        : meter === undefined
        ? ([item, i]: [A, number]) => f(item, i)
        : ([item, i]: [A, number]) => meter.lazy(f(item, i))
      return Stream.mapEffect(Stream.zipWithIndex(gated(source, gate)), run, {
        concurrency: plan.concurrency,
        unordered: true
      })
    }))
  }))

/** Marks the winner of `runAny`: carried in the error channel to stop the others. */
class Won<A> {
  constructor(readonly value: A) {}
}

/** `Scheduler.runAny`. */
export const runAny = <A, E, R, E2, R2, RP>(
  effects: Input<Effect.Effect<A, E, R>, E2, R2>,
  options: Scheduler.Options<RP> | undefined
): Effect.Effect<A, RunAnyError<E> | Cause.NoSuchElementException | E2, R | R2 | RP> =>
  Effect.suspend(() => {
    const errors: Array<E> = []
    let count = 0
    const attempt = (effect: Effect.Effect<A, E, R | RP>, index: number): Effect.Effect<void, Won<A>, R | RP> => {
      count++
      return Effect.matchCauseEffect(effect, {
        onFailure: (cause) => {
          const failure = Cause.failureOrCause(cause)
          if (Either.isRight(failure)) return Effect.failCause(failure.right) // defect or interruption
          errors[index] = failure.left
          return Effect.void
        },
        onSuccess: (value) => Effect.fail(new Won(value))
      })
    }
    return drive(effects, identity, attempt, options, false).pipe(
      Effect.matchEffect({
        onFailure: (error): Effect.Effect<A, RunAnyError<E> | E2> =>
          error instanceof Won ? Effect.succeed(error.value as A) : Effect.fail(error as E2),
        onSuccess: (): Effect.Effect<A, RunAnyError<E> | Cause.NoSuchElementException> =>
          count === 0
            ? Effect.fail(new Cause.NoSuchElementException("Scheduler.runAny: no effects to run"))
            : Effect.fail(new RunAnyError({ errors }))
      })
    )
  })
