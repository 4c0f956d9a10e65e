/**
 * The Redis throttle's client: a `Throttle.Backend` over a `Store` (`redisStore.ts`). One store call decides each
 * acquisition (batched with the calls of other fibers of this process into one script call); the caller then
 * sleeps exactly the wait the store returned, and an interrupted sleeper cancels its reservation. With
 * `maxConcurrent`, a caller first takes a lease (queued FIFO in the store, woken by pub/sub on a release, with a
 * bounded re-check), then the rate reservation in the same call; held leases are renewed while held.
 *
 * Store failures go through one place, `routeNow`, which applies `onStoreError`.
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import * as Rate from "../Rate.js"
import type { ThrottleRedis } from "../redis.js"
import type { Throttle } from "../Throttle.js"
import * as finalizer from "./finalizer.js"
import * as live from "./liveTimer.js"
import * as check from "./options.js"
import * as core from "./redisCore.js"
import { Redis, settled } from "./redisClient.js"
import {
  makeMemoryStore,
  makeRedisStore,
  type MemoryStore,
  type Store,
  StoreFailure,
  type WakeHub
} from "./redisStore.js"
import { checkPermits, decodeMaxWait, makeWith, maxPermits } from "./throttleBackend.js"
import { type Instrument, make as makeInstrument } from "./throttleInstrument.js"
import { ThrottleReleaseError, ThrottleStoreError, ThrottleTimeoutError } from "./throttleErrors.js"

/** What to do when the store does not answer. */
export type OnStoreError = "local" | "allow" | "wait" | "fail"

/** Options after validation. */
export interface Resolved {
  readonly key: string
  readonly prefix: string
  readonly name: string
  readonly rates: Arr.NonEmptyReadonlyArray<Rate.Rate>
  readonly config: core.Config
  readonly onStoreError: OnStoreError
  readonly storeTimeout: Duration.Duration
  readonly leaseTtl: Duration.Duration
  readonly metrics: boolean
}

/** The options a user passes (validated here: any shape may arrive at run time). */
export type InputOptions = ThrottleRedis.Options

/** Checks the options (a message for the first bad one) and the rates; nothing touches Redis. */
export const resolve = (options: InputOptions): Effect.Effect<Resolved, Rate.InvalidRateError> =>
  Effect.suspend(() => {
    if (typeof options !== "object" || options === null) {
      return check.die(check.expected("options to be an object with key and rate", options))
    }
    const invalid = core.checkKey(options.key, "option key") ??
      (options.prefix === undefined ? undefined : core.checkKey(options.prefix, "option prefix")) ??
      (options.measure === undefined ? undefined : check.oneOf(options.measure, "option measure", ["start", "release"])) ??
      (options.maxConcurrent === undefined ? undefined : check.int(options.maxConcurrent, "option maxConcurrent", 1)) ??
      (options.onStoreError === undefined
        ? undefined
        : check.oneOf(options.onStoreError, "option onStoreError", ["local", "allow", "wait", "fail"])) ??
      (options.name === undefined ? undefined : check.string(options.name, "option name")) ??
      (options.metrics === undefined ? undefined : check.boolean(options.metrics, "option metrics")) ??
      (options.smooth === undefined || typeof options.smooth === "boolean"
        ? undefined
        : typeof options.smooth === "object" && options.smooth !== null
        ? check.int(options.smooth.burst, "option smooth.burst", 1)
        : check.expected("option smooth to be a boolean or { burst }", options.smooth))
    if (invalid !== undefined) return check.die(invalid)
    const leaseTtl = check.duration(options.leaseTtl ?? "30 seconds", "option leaseTtl")
    if (typeof leaseTtl === "string") return check.die(leaseTtl)
    const storeTimeout = check.duration(options.storeTimeout ?? "1 second", "option storeTimeout")
    if (typeof storeTimeout === "string") return check.die(storeTimeout)
    return Effect.map(Rate.decodeAll(options.rate), (rates): Resolved => {
      let interval = 0
      for (const rate of rates) interval = Math.max(interval, Duration.toMillis(rate.period) / rate.limit)
      const smooth = options.smooth !== undefined && options.smooth !== false
      const burst = !smooth
        ? 0
        : typeof options.smooth === "object"
        ? options.smooth.burst
        : Math.max(1, Math.ceil(1 / interval))
      return {
        key: options.key,
        prefix: options.prefix ?? "effect-throttles",
        name: options.name ?? "default",
        metrics: options.metrics ?? true,
        rates,
        onStoreError: options.onStoreError ?? "local",
        storeTimeout,
        leaseTtl,
        config: {
          limits: rates.map((r) => r.limit),
          periods: rates.map((r) => Duration.toMillis(r.period)),
          interval: smooth ? interval : 0,
          burst,
          maxConcurrent: options.maxConcurrent ?? 0,
          leaseTtl: Duration.toMillis(leaseTtl),
          measure: options.measure ?? "start"
        }
      }
    })
  })

/** Where a reply came from: the shared store, or this process's fallback. */
type Source = "shared" | "local"

interface Routed {
  readonly reply: core.Reply
  readonly source: Source
}

/** `answer` after `log` (the log line a store going down or coming back calls for), if any. */
const afterLog = <A, E>(log: Effect.Effect<void> | undefined, answer: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  log === undefined ? answer : Effect.zipRight(log, answer)

/** An exception thrown while routing (a bug): passed on to the callers as a defect, never left unanswered. */
class RouteDefect {
  constructor(readonly defect: unknown) {}
}

/** One request's answer in a batch's reply: its element, where it came from, and the call's time (store clock). */
interface Answer {
  readonly reply: core.Reply | string
  readonly source: Source
  readonly now: number
}

/** What a submitted request gets back: its answer, or the store's failure. */
type Submitted = Answer | StoreFailure

/**
 * A request waiting for its batch: queued synchronously by its caller (so no flush can miss it), answered through
 * `resume` once its caller waits, or through `answer` if the answer comes first.
 *
 * A class, not an object literal, and so is every object made per call on this path: V8 tracks the objects of a
 * literal by its allocation site and, once enough of them outlive a young-generation collection (a burst of
 * waiters does that), allocates all the later ones directly in the old generation. There, dead, they keep
 * pointing at young objects (a caller's resume callback, its answer), which then survive every scavenge until a
 * full collection. Measured with `node --trace-gc-nvp`, 8 callers in a loop: literals here made 340 KB promoted per
 * scavenge (pauses of 2.1 ms); see `deliver` for the other half.
 */
class Pending implements core.Request {
  resume: ((result: Effect.Effect<Submitted>) => void) | undefined = undefined
  answer: Effect.Effect<Submitted> | undefined = undefined
  constructor(
    readonly n: number,
    readonly id: string,
    readonly maxWait: number,
    readonly mode: "w" | "t"
  ) {}
}

/**
 * Answers `pending`. The resume callback is dropped once called, and `dispatch` empties its batch after delivering:
 * a batch or an entry that lives through a young-generation collection is promoted, and (until the next full
 * collection) kept every fiber it still pointed at alive through the following ones. Measured with
 * `node --trace-gc-nvp`, 8 callers in a loop on one key: 880 KB promoted per scavenge without the two lines,
 * 150–250 KB with them; scavenge pauses 3.8 ms → 1.8 ms on average.
 */
const deliver = (pending: Pending, answer: Effect.Effect<Submitted>): void => {
  const resume = pending.resume
  if (resume !== undefined) {
    pending.resume = undefined
    resume(answer)
  } else pending.answer = answer
}

/** The most requests in one script call (a larger burst is split into several calls, pipelined). */
const MAX_BATCH = 256

/** The most script calls of acquisitions in flight at once (two lanes; see `flush`). */
const MAX_SENDING = 2

/** The timer loop's budget for settling turns (see `live.TurnBudget`): a tenth of every 100 ms. */
const TURN_WINDOW_MILLIS = 100
const TURN_SHARE = 0.1

/** A wake-up signal: waiters take the current gate before asking the store, so no wake-up is missed. */
class Signal {
  gate: Deferred.Deferred<void> = Deferred.unsafeMake<void>(FiberId.none)
  fire = (): void => {
    const gate = this.gate
    this.gate = Deferred.unsafeMake<void>(FiberId.none)
    Deferred.unsafeDone(gate, Exit.void)
  }
}

/**
 * A ring of the last `capacity` grants (time, permits). It starts small and doubles up to `capacity` as grants
 * come (a keyed throttle has a Redis throttle per key: a key used a few times costs a few hundred bytes, not
 * `capacity` of them).
 */
class Recent {
  times = new Float64Array(0)
  permits = new Float64Array(0)
  next = 0
  size = 0
  constructor(readonly capacity: number) {}
  push(at: number, n: number): void {
    if (this.size === this.times.length && this.size < this.capacity) this.grow()
    this.times[this.next] = at
    this.permits[this.next] = n
    this.next = (this.next + 1) % this.times.length
    if (this.size < this.times.length) this.size++
  }
  /** Doubles the ring. It grows as soon as it is full, before it ever wraps: its entries are in order from 0. */
  private grow(): void {
    const length = Math.min(this.capacity, Math.max(16, this.times.length * 2))
    const times = new Float64Array(length)
    const permits = new Float64Array(length)
    times.set(this.times)
    permits.set(this.permits)
    this.times = times
    this.permits = permits
    this.next = this.size
  }
  /** The grants after `since`, oldest first. */
  forEach(since: number, f: (at: number, n: number) => void): void {
    const length = this.times.length
    for (let i = 0; i < this.size; i++) {
      const j = (this.next - this.size + i + length) % length
      const at = this.times[j] as number
      if (at > since) f(at, this.permits[j] as number)
    }
  }
}

interface Lease {
  member: string
  n: number
  readonly source: Source
}

/** Times closer than this (milliseconds) count as equal (Effect's durations are whole nanoseconds). */
const EPSILON = 1e-5


const idPrefix = randomBytes(6).toString("base64url")
let idCounter = 0
const nextId = (): string => `${idPrefix}${(idCounter++).toString(36)}`

/**
 * Builds the throttle over `shared` (Redis in production; a memory store in unit tests). Scoped: the lease renewal
 * fiber and the wake-up subscription live in the scope.
 */
export const makeWithStore = (
  shared: Store,
  resolved: Resolved,
  onGrant?: (at: number, n: number) => void,
  onSettle?: () => void,
  given?: Instrument
): Effect.Effect<Throttle.Service<ThrottleStoreError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // the clock of the scope that made the throttle (as in memory), read synchronously on the fast path
    const clock = yield* Effect.clock
    const nowMillis = live.preciseNowOf(clock)
    const clientMillis: Effect.Effect<number> = Effect.sync(nowMillis)
    const { config, onStoreError } = resolved
    const maxC = config.maxConcurrent
    const measure = config.measure ?? "start"
    // a permit in flight is a lease in the store: with maxConcurrent, and under measure "release"
    const leasing = maxC > 0 || measure === "release"
    const recheck = Math.min(config.leaseTtl / 3, 1000)
    const storeTimeoutMillis = Duration.toMillis(resolved.storeTimeout)
    const maxPeriod = Math.max(...config.periods)
    const signal = new Signal()
    // closing the scope interrupts the waiters (as in memory); later calls are interrupted at once
    const closed = yield* Deferred.make<void>()
    let isClosed = false
    // (straight to the scope: a keyed throttle adds these for every new key; see finalizer.ts)
    yield* finalizer.addTo(
      scope,
      Effect.suspend(() => {
        isClosed = true
        return Deferred.interrupt(closed)
      })
    )
    yield* finalizer.addTo(
      scope,
      Effect.sync(() => {
        for (const entry of pending.splice(0)) deliver(entry, Effect.interrupt)
      })
    )
    const orClosed = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.raceFirst(self, Deferred.await(closed) as Effect.Effect<never>)
    // the same metrics (tagged with the throttle's name), events and spans as the in-memory throttle (a key of a
    // keyed throttle is given its part of the keyed throttle's instrument)
    const instrument = given ?? makeInstrument(resolved.name, resolved.metrics)
    const gauges = () => instrument.gauges(waiting, inFlight)

    let inFlight = 0
    let grantedSoFar = 0
    let waiting = 0
    const held: Array<Lease> = []
    const sleeping = new Set<Lease>()
    /** This process's recent grants (client time), to seed the local fallback: at most the largest limit of them. */
    const recent = new Recent(Math.min(Math.max(...config.limits), 10_000))

    // -- routing: the one place where onStoreError applies ------------------------------------------------------
    let local: MemoryStore | undefined
    let down = false
    let retryAt = 0

    const seeding: core.Config = { ...config, maxConcurrent: 0, measure: "start" }
    const localStore = (now: number): MemoryStore => {
      if (local === undefined) {
        local = makeMemoryStore(config, (message) => {
          if (message === "p") pauseEpoch++
          else signal.fire()
        })
        // replayed as grants of a throttle without leases: they take window slots only (as leases nobody renews or
        // releases, they would hold the fallback's permits for leaseTtl)
        const state = local.state
        recent.forEach(now - maxPeriod, (at, n) => {
          core.run(seeding, state, at, "acquire", core.acquireArgs([{ n, id: nextId(), maxWait: -1, mode: "w" }]))
        })
      }
      return local
    }

    /** Notes a failure of the shared store: the warning to log when it was up until now. */
    const noteDown = (failure: StoreFailure, now: number): Effect.Effect<void> | undefined => {
      retryAt = now + storeTimeoutMillis
      if (down) return undefined
      down = true
      return Effect.logWarning(
        `Throttle "${resolved.name}": Redis store failed for key "${resolved.key}" (${failure.message}); onStoreError: "${onStoreError}"`
      )
    }
    /** Notes an answer of the shared store: the notice to log when it was down until now. */
    const noteUp = (): Effect.Effect<void> | undefined => {
      if (!down) return undefined
      down = false
      local = undefined
      return Effect.logInfo(`Throttle "${resolved.name}": Redis store answers again for key "${resolved.key}"`)
    }

    /**
     * Runs `op` on the shared store, or under "local" on the fallback while the shared one is down, and calls `done`
     * once with the reply and where it came from, or the store's failure (under the other policies), and the log
     * line that the store's going down or coming back calls for. The one place where onStoreError applies: for the
     * batches of acquisitions (`dispatch`) directly, for the other operations through `route`.
     */
    const routeNow = (
      op: core.Op,
      args: ReadonlyArray<string>,
      now: number,
      done: (result: Routed | StoreFailure | RouteDefect, log: Effect.Effect<void> | undefined) => void
    ): void => {
      const fallback = (log: Effect.Effect<void> | undefined): void => {
        let result: Routed | RouteDefect
        try {
          result = { reply: localStore(now).callAt(now, op, args), source: "local" }
        } catch (defect) {
          result = new RouteDefect(defect)
        }
        done(result, log)
      }
      if (onStoreError === "local" && down && now < retryAt) return fallback(undefined)
      shared.send(op, args, now, (result) => {
        if (!(result instanceof StoreFailure)) return done({ reply: result, source: "shared" }, noteUp())
        const log = noteDown(result, now)
        if (onStoreError === "local") fallback(log)
        else done(result, log)
      })
    }

    /** `routeNow` as an effect. */
    const route = (op: core.Op, args: ReadonlyArray<string>): Effect.Effect<Routed, StoreFailure> =>
      Effect.flatMap(clientMillis, (now) =>
        Effect.async<Routed, StoreFailure>((resume) =>
          routeNow(op, args, now, (result, log) => {
            const answer = result instanceof StoreFailure
              ? Effect.fail(result)
              : result instanceof RouteDefect
              ? Effect.die(result.defect)
              : Effect.succeed(result)
            resume(afterLog(log, answer))
          })
        ))

    /** Runs a follow-up (cancel, leave, release, renew) on the store the first call went to; errors ignored. */
    const followUp = (source: Source, op: core.Op, args: ReadonlyArray<string>): Effect.Effect<void> =>
      source === "local"
        ? Effect.flatMap(clientMillis, (now) =>
          Effect.sync(() => {
            if (local !== undefined) local.callAt(now, op, args)
          }))
        : Effect.ignore(shared.call(op, args))

    // -- leases: renewed every leaseTtl / 3 while this process holds any (one fiber, started by the first lease and
    // ended when none is left: an idle throttle has no timer)
    const renew = Effect.suspend(() => {
      const bySource: Record<Source, Array<string>> = { shared: [], local: [] }
      for (const lease of held) bySource[lease.source].push(lease.member)
      for (const lease of sleeping) bySource[lease.source].push(lease.member)
      return Effect.all([
        bySource.shared.length > 0 ? followUp("shared", "renew", bySource.shared) : Effect.void,
        bySource.local.length > 0 ? followUp("local", "renew", bySource.local) : Effect.void
      ], { discard: true })
    })
    let renewing = false
    const renewal: Effect.Effect<void> = Effect.zipRight(
      Effect.sleep(Duration.millis(config.leaseTtl / 3)),
      Effect.suspend(() => {
        if (held.length === 0 && sleeping.size === 0) {
          renewing = false
          return Effect.void
        }
        return Effect.zipRight(renew, renewal)
      })
    )
    /** Makes sure the leases of this process are renewed (call after adding one). */
    const keepRenewing: Effect.Effect<void> = Effect.suspend(() => {
      if (renewing) return Effect.void
      renewing = true
      // (interruptible: a fork inherits the uninterruptible region of the acquisition that starts it)
      return Effect.asVoid(Effect.forkIn(Effect.interruptible(renewal), scope))
    })

    /** Incremented on every pause (this process's, or another's through pub/sub): sleepers then confirm. */
    let pauseEpoch = 0

    /** Asks the store whether a woken reservation still stands after a pause: `undefined` if so (or unknown). */
    const confirm = (
      source: Source,
      args: ReadonlyArray<string>
    ): Effect.Effect<Extract<core.Outcome, { _tag: "Reserved" }> | undefined> => {
      const call: Effect.Effect<core.Reply | undefined> = source === "local"
        ? Effect.flatMap(clientMillis, (now) =>
          Effect.sync(() => local === undefined ? undefined : local.callAt(now, "confirm", args)))
        : Effect.orElseSucceed(shared.call("confirm", args), () => undefined)
      return Effect.map(call, (reply) => {
        const out = reply?.[1] as core.Reply | undefined
        if (out === undefined || out[0] !== "moved") return undefined
        const outcome = core.decodeOutcome(["ok", ...out.slice(1)], "w")
        return outcome._tag === "Reserved" ? outcome : undefined
      })
    }

    // -- batching: concurrent acquisitions of this process go to the store together, in at most two script calls
    // in flight (see sendHere). A caller waits on a plain callback (no Deferred), and a batch is sent and answered
    // by plain functions (no Effect of its own): this sits on the fast path, once per acquisition.
    const pending: Array<Pending> = []
    let scheduled = false
    /** Script calls of acquisitions in flight. */
    let sending = 0
    /** Answers a batch from a reply of the store (`log`, if any, is run by the first caller before its answer). */
    const answerAll = (batch: Array<Pending>, reply: core.Reply, source: Source, log: Effect.Effect<void> | undefined) => {
      const now = core.replyNumber(reply[0])
      // the callers granted at once share one answer (most of a busy batch)
      let grantedNow: Effect.Effect<Submitted> | undefined
      for (let i = 0; i < batch.length; i++) {
        const element = reply[i + 1] as core.Reply | string
        const answer = element === core.GRANTED
          ? (grantedNow ??= Effect.succeed({ reply: core.GRANTED, source, now }))
          : Effect.succeed({ reply: element, source, now })
        deliver(batch[i] as Pending, i === 0 ? afterLog(log, answer) : answer)
      }
    }
    /** Answers every caller of a batch with one effect (`log` first, by the first caller). */
    const answerEach = (batch: Array<Pending>, answer: Effect.Effect<Submitted>, log: Effect.Effect<void> | undefined) => {
      for (let i = 0; i < batch.length; i++) deliver(batch[i] as Pending, i === 0 ? afterLog(log, answer) : answer)
    }
    /**
     * Sends a batch through `routeNow` and answers its callers from the reply. Then, if requests came meanwhile,
     * hands the next call to their first caller.
     */
    const dispatch = (batch: Array<Pending>): void => {
      sending++
      routeNow("acquire", core.acquireArgs(batch), nowMillis(), (result, log) => {
        sending--
        if (result instanceof StoreFailure) answerEach(batch, Effect.succeed(result), log)
        else if (result instanceof RouteDefect) answerEach(batch, Effect.die(result.defect), log)
        else answerAll(batch, result.reply, result.source, log)
        batch.length = 0
        // the requests that came while calls were in flight: their first caller is handed the next call
        if (sending < MAX_SENDING && !scheduled && pending.length > 0) {
          scheduled = true
          const first = pending[0] as Pending
          deliver(first, Effect.zipRight(sendHere, answerOf(first)))
        }
      })
    }
    const flush = (): void => {
      scheduled = false
      if (pending.length === 0) return
      if (sending === 0 && pending.length >= 2 && pending.length <= MAX_BATCH) {
        // nothing in flight: two calls, the first half and the rest, so that Redis runs the second while this
        // process answers the first half's callers; each half then comes back on its own (two lanes)
        // (both taken from the line before either is sent: a store may answer at once, and the requests still in
        // the line would then be handed to their first caller as the next call)
        const first = pending.splice(0, pending.length >> 1)
        const rest = pending.splice(0)
        dispatch(first)
        dispatch(rest)
        return
      }
      // one call, or several (a burst over MAX_BATCH): sent at once, pipelined, in order
      const batches: Array<Array<Pending>> = []
      while (pending.length > 0) batches.push(pending.splice(0, MAX_BATCH))
      for (const batch of batches) dispatch(batch)
    }
    // At most two script calls of acquisitions are in flight (MAX_SENDING), and the requests made meanwhile go
    // together in the next one: under a steady stream of callers the batches grow with the load instead of each
    // caller paying the script's fixed cost (60–75 µs per call on the bench machine, which at 10 000 calls a
    // second one by one is most of Redis's time, and the queue in front of it the callers' latency).
    // A batch that finds nothing in flight goes as two calls, its first half and the rest (two lanes): Redis runs
    // the second while this process answers the first half, whose callers then send their next requests without
    // waiting for the other half (closed loop of 8 callers, each build in processes of its own, ten rounds,
    // `bench/redisBaseline.ts`: 24 249 grants/s, p99 1.54 ms and 33.0 µs of CPU per grant, against 15 564, 2.04 and
    // 42.3 with one call in flight; up to 3, 4 or 6 in flight did no better than 2).
    // The first caller of a batch sends it from its own fiber (no fiber per batch): it yields once, so that the
    // calls made meanwhile join the batch, then sends it; the reply answers every caller in the batch's order. When
    // requests came while calls were in flight, their first caller is resumed to send them. Every caller waits
    // uninterruptibly (each is inside the uninterruptible region of its acquisition): a batch in flight when the
    // scope closes still answers its callers, within storeTimeout; one not sent yet is interrupted by the
    // finalizer above.
    const sendHere = Effect.uninterruptible(Effect.zipRight(Effect.yieldNow(), Effect.sync(flush)))
    /** Waits for `entry`'s answer (taken once: the answer may be the hand-over of the next call, then the reply). */
    const answerOf = (entry: Pending): Effect.Effect<Submitted> =>
      Effect.async<Submitted>((resume) => {
        const answer = entry.answer
        if (answer !== undefined) {
          entry.answer = undefined
          resume(answer)
        } else entry.resume = resume
      })
    /** Sends a request with the current batch: the store's reply, or its failure (never fails itself). */
    const submit = (n: number, id: string, maxWait: number, mode: "w" | "t"): Effect.Effect<Submitted> => {
      if (isClosed) return Effect.interrupt
      // queued now, not when the caller suspends: a flush that starts in between (the caller's fiber may yield to
      // the scheduler after forking it) must see it
      const entry = new Pending(n, id, maxWait, mode)
      pending.push(entry)
      const answered = answerOf(entry)
      if (scheduled || sending >= MAX_SENDING) return answered
      scheduled = true
      return Effect.zipRight(sendHere, answered)
    }

    // -- sleepers: the reserved callers of this process wait on one timer, set for the earliest, and resume in the
    // order of their grant times (then of their arrival) ---------------------------------------------------------
    interface Sleeper {
      readonly at: number
      readonly deferred: Deferred.Deferred<void>
      done: boolean
    }
    const sleepers: Array<Sleeper> = []
    let kick = Deferred.unsafeMake<void>(FiberId.none)
    let timerRunning = false
    // the turns the timer loop may take (see TurnBudget): one budget for the throttle, since the loop ends whenever
    // no caller is reserved and starts again with the next
    const budget = new live.TurnBudget(TURN_WINDOW_MILLIS, TURN_SHARE)
    const timerLoop: Effect.Effect<void> = Effect.gen(function*() {
      // on the live clock the last millisecond is waited out in event-loop turns (as in memory): a timer alone
      // fires up to a tick late, and the starts of a burst would carry it
      const clock = yield* Effect.clock
      const settle = live.settleFor(clock, Number.POSITIVE_INFINITY)
      const preciseMillis = live.preciseNowOf(clock)
      for (;;) {
        while (sleepers.length > 0 && (sleepers[0] as Sleeper).done) sleepers.shift()
        const head = sleepers[0]
        if (head === undefined) {
          timerRunning = false
          return
        }
        const now = yield* clientMillis
        if (head.at <= now + EPSILON) {
          while (sleepers.length > 0 && ((sleepers[0] as Sleeper).done || (sleepers[0] as Sleeper).at <= now + EPSILON)) {
            const sleeper = sleepers.shift() as Sleeper
            if (!sleeper.done) {
              sleeper.done = true
              Deferred.unsafeDone(sleeper.deferred, Exit.void)
            }
          }
          continue
        }
        // the last stretch is waited in turns while the budget lasts, then on a timer (`coarse`: a tick late at most)
        const near = settle !== undefined && head.at - now < settle.lead + settle.minTimer
        const turning = near && budget.allows(now)
        const step = live.stepTowards(head.at, preciseMillis, (d) => clock.sleep(d), settle, near && !turning)
        if (turning) {
          // a turn is short (not raced with a new earliest sleeper)
          yield* step
          budget.spend(preciseMillis() - now)
        } else {
          // a timer is raced with a new earliest sleeper
          yield* Effect.raceFirst(step, Deferred.await(kick))
        }
      }
    })
    /** Waits until `at` (client milliseconds); interrupted, it leaves the line. */
    const sleepUntil = (at: number, onSettle: (() => void) | undefined): Effect.Effect<void> =>
      Effect.suspend(() => {
        const sleeper: Sleeper = { at, deferred: Deferred.unsafeMake<void>(FiberId.none), done: false }
        let i = sleepers.length
        while (i > 0 && (sleepers[i - 1] as Sleeper).at > at) i--
        sleepers.splice(i, 0, sleeper)
        if (onSettle !== undefined) onSettle()
        const wait = Effect.onInterrupt(Deferred.await(sleeper.deferred), () =>
          Effect.sync(() => {
            sleeper.done = true
          }))
        if (!timerRunning) {
          timerRunning = true
          return Effect.zipRight(Effect.forkIn(timerLoop, scope), wait)
        }
        if (i === 0) {
          // a new earliest: re-arm the timer
          const previous = kick
          kick = Deferred.unsafeMake<void>(FiberId.none)
          Deferred.unsafeDone(previous, Exit.void)
        }
        return wait
      })

    // -- grants -------------------------------------------------------------------------------------------------
    const toStoreError = (failure: StoreFailure) => new ThrottleStoreError({ key: resolved.key, cause: failure.cause })

    const grantNow = (n: number, now: number, waited: number): void => {
      inFlight += n
      grantedSoFar += n
      recent.push(now, n)
      instrument.granted(n, waited)
      gauges()
    }
    const noteGrant = (n: number, now: number, waited: number): Effect.Effect<void> =>
      Effect.sync(() => grantNow(n, now, waited))

    const timedOut = (n: number, maxWait: Duration.Duration, waited: number, retryAfter: number) =>
      Effect.zipRight(
        Effect.sync(() => instrument.timedOut(n, waited, retryAfter)),
        Effect.fail(
          new ThrottleTimeoutError({
            key: resolved.name,
            permits: n,
            maxWait,
            waited: Duration.millis(waited),
            retryAfter: Duration.millis(retryAfter)
          })
        )
      )

    const backoff = (attempt: number) => Duration.millis(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)))

    /**
     * The end of an acquisition the store granted: the caller takes the permits (counted from here on, its lease
     * renewed), unless it was interrupted meanwhile (an interruption waits for the uninterruptible store call to
     * end): then it gives them back without having seen them, as in memory a waiter interrupted at the moment of
     * its grant. The check is one fiber-ref read; the interruptible step is taken only when an interruption is
     * pending (the fast path has no `onInterrupt` per grant).
     */
    const complete = (
      restore: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
      n: number,
      lease: Lease | undefined,
      at: number,
      waited: number
    ): Effect.Effect<void> => {
      const take = (): Effect.Effect<void> => {
        grantNow(n, at, waited)
        if (lease === undefined) return Effect.void
        held.push(lease)
        return renewing ? Effect.void : keepRenewing
      }
      return Effect.withFiberRuntime<void>((fiber) =>
        Cause.isEmpty(fiber.getFiberRef(FiberRef.interruptedCause))
          ? take()
          : Effect.onInterrupt(
            Effect.flatMap(restore(Effect.void), take),
            // the window keeps the slot (a grant is a start); a lease goes back to the store
            () => lease === undefined ? Effect.void : followUp(lease.source, "release", [lease.member, String(n)])
          )
      )
    }

    const acquire = (
      n: number,
      maxWait: Duration.Duration | undefined
    ): Effect.Effect<void, ThrottleStoreError | ThrottleTimeoutError> =>
      // the mask's body runs when the effect runs (no `suspend` needed inside it): the synchronous part of the
      // fast path costs no Effect step of its own
      Effect.uninterruptibleMask((restore) => acquireMasked(restore, n, maxWait))

    /** `acquire`'s body, inside a mask whose `restore` makes its waits interruptible (also `withPermits`'). */
    const acquireMasked = (
      restore: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
      n: number,
      maxWait: Duration.Duration | undefined
    ): Effect.Effect<void, ThrottleStoreError | ThrottleTimeoutError> => {
      if (isClosed) return Effect.interrupt
      const startedAt = nowMillis()
      const maxWaitMillis = maxWait === undefined ? -1 : Duration.toMillis(maxWait)
      const id = nextId()
      waiting++
      gauges()
      const gate = signal.gate
      const epoch = pauseEpoch
      return Effect.flatMap(submit(n, id, maxWaitMillis, "w"), (first) => {
        // the fast path: granted at once (most calls when the limit is not reached)
        if (!(first instanceof StoreFailure) && first.reply === core.GRANTED) {
          waiting--
          gauges()
          if (onGrant !== undefined) onGrant(first.now, n)
          const lease = leasing ? { member: core.leaseMember(n, id), n, source: first.source } : undefined
          return complete(restore, n, lease, startedAt, 0)
        }
        return waitFor(restore, n, maxWait, maxWaitMillis, id, startedAt, { result: first, gate, epoch })
      })
    }

    /**
     * The rest of an acquisition that was not granted at once: sleeps until its reservation, waits in the lease
     * queue, or applies the store-error policy; asks the store again as often as needed. `first` is the reply to
     * the first request (sent with `gate` and `epoch` current).
     */
    const waitFor = (
      restore: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
      n: number,
      maxWait: Duration.Duration | undefined,
      maxWaitMillis: number,
      id: string,
      startedAt: number,
      first: { readonly result: Submitted; readonly gate: Deferred.Deferred<void>; readonly epoch: number }
    ): Effect.Effect<void, ThrottleStoreError | ThrottleTimeoutError> =>
      Effect.gen(function*() {
        const member = leasing ? core.leaseMember(n, id) : ""
        let failures = 0
        let next: typeof first | undefined = first
        let now = startedAt
        for (;;) {
          const elapsed = now - startedAt
          const remaining = maxWaitMillis < 0 ? -1 : Math.max(0, maxWaitMillis - elapsed)
          let sent = next
          next = undefined
          if (sent === undefined) {
            const gate = signal.gate
            const epoch = pauseEpoch
            sent = { result: yield* submit(n, id, remaining, "w"), gate, epoch }
          }
          const { epoch: epochAtSubmit, gate, result } = sent
          if (result instanceof StoreFailure) {
            switch (onStoreError) {
              case "fail":
                return yield* Effect.fail(toStoreError(result))
              case "allow":
                return yield* noteGrant(n, now, elapsed)
              default: {
                // "wait" (and "local" whose fallback cannot fail): admit nobody, try again with backoff
                if (maxWaitMillis >= 0 && elapsed >= maxWaitMillis) {
                  return yield* timedOut(n, maxWait as Duration.Duration, elapsed, 0)
                }
                let pause = backoff(failures++)
                if (maxWaitMillis >= 0) pause = Duration.min(pause, Duration.millis(maxWaitMillis - elapsed))
                yield* restore(Effect.sleep(pause))
                now = nowMillis()
                continue
              }
            }
          }
          failures = 0
          const { reply, source } = result
          const outcome = core.decodeOutcome(reply, "w", result.now)
          switch (outcome._tag) {
            case "Reserved": {
              const lease: Lease | undefined = leasing ? { member, n, source } : undefined
              if (lease !== undefined) {
                sleeping.add(lease)
                yield* keepRenewing
              }
              let reserved = outcome
              let epoch = epochAtSubmit
              let slept = false
              while (reserved.wait > 0) {
                slept = true
                const receivedAt = nowMillis()
                const current = reserved
                // never before the slot on the store's clock, and at the latest its wait after the reply
                const due = source === "local"
                  ? current.at
                  : Math.min(shared.toClientTime(current.at), receivedAt + current.wait)
                yield* instrument.traced(restore(orClosed(sleepUntil(due, onSettle))), n, startedAt, nowMillis).pipe(
                  Effect.onInterrupt(() =>
                    Effect.suspend(() => {
                      if (lease !== undefined) sleeping.delete(lease)
                      return followUp(source, "cancel", core.cancelArgs(n, id, current, member))
                    })
                  )
                )
                // a pause was set while it slept: the store says whether its slot still stands
                if (pauseEpoch === epoch) break
                epoch = pauseEpoch
                const confirmed = yield* confirm(source, core.cancelArgs(n, id, current, member))
                if (confirmed === undefined) break
                reserved = confirmed
              }
              if (lease !== undefined) sleeping.delete(lease)
              if (onGrant !== undefined) onGrant(reserved.at, n)
              const at = slept ? nowMillis() : now
              return yield* complete(restore, n, lease, at, at - startedAt)
            }
            case "Late":
              return yield* timedOut(n, maxWait as Duration.Duration, elapsed, outcome.retryAfter)
            case "Queued": {
              let timeout = recheck
              if (outcome.hint >= 0) timeout = Math.min(timeout, outcome.hint)
              if (maxWaitMillis >= 0) {
                if (remaining <= 0) {
                  yield* followUp(source, "leave", [member])
                  return yield* timedOut(n, maxWait as Duration.Duration, elapsed, 0)
                }
                timeout = Math.min(timeout, remaining)
              }
              if (onSettle !== undefined) onSettle()
              yield* instrument.traced(
                restore(
                  // (a hint that is a rounding error would have it ask again at the same instant: at least EPSILON)
                  orClosed(Effect.ignore(Effect.timeout(Deferred.await(gate), Duration.millis(Math.max(EPSILON, timeout)))))
                ),
                n,
                startedAt,
                nowMillis
              ).pipe(
                Effect.onInterrupt(() => followUp(source, "leave", [member]))
              )
              now = nowMillis()
              continue
            }
            case "Decided":
              return yield* Effect.die(new Error("unexpected decision for a waiting acquire"))
          }
        }
      }).pipe(
        // (not a `finally`: a generator left at a failed or interrupted `yield*` never runs it)
        Effect.ensuring(Effect.sync(() => {
          waiting--
          gauges()
        }))
      )

    const decideNow = (n: number): Effect.Effect<Throttle.Decision, ThrottleStoreError> =>
      Effect.gen(function*() {
        const id = nextId()
        const result = yield* submit(n, id, -1, "t")
        const now = nowMillis()
        if (result instanceof StoreFailure) {
          if (onStoreError === "fail") return yield* Effect.fail(toStoreError(result))
          const limit = resolved.rates[0].limit
          if (onStoreError === "allow") {
            yield* noteGrant(n, now, 0)
            return {
              granted: true,
              limit,
              remaining: Math.max(0, limit - n),
              retryAfter: Duration.zero,
              resetAfter: Duration.zero
            }
          }
          return {
            granted: false,
            limit,
            remaining: 0,
            retryAfter: resolved.storeTimeout,
            resetAfter: resolved.storeTimeout
          }
        }
        const outcome = core.decodeOutcome(result.reply, "t", result.now)
        if (outcome._tag !== "Decided") return yield* Effect.die(new Error("unexpected outcome of a decision"))
        if (outcome.granted) {
          if (onGrant !== undefined) onGrant(result.now, n)
          if (leasing) {
            held.push({ member: core.leaseMember(n, id), n, source: result.source })
            yield* keepRenewing
          }
          yield* noteGrant(n, now, 0)
        }
        return {
          granted: outcome.granted,
          limit: outcome.limit,
          remaining: outcome.remaining,
          retryAfter: Duration.millis(outcome.retryAfter),
          resetAfter: Duration.millis(outcome.resetAfter)
        }
      })

    const attempt = (n: number, reason: "attempt" | "tryAcquire") =>
      Effect.uninterruptible(
        Effect.tap(decideNow(n), (decision) =>
          decision.granted
            ? Effect.void
            : Effect.sync(() => instrument.rejected(n, reason, Duration.toMillis(decision.retryAfter))))
      )

    const release = (n: number): Effect.Effect<void, ThrottleStoreError | ThrottleReleaseError> =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (n > inFlight) return Effect.fail(new ThrottleReleaseError({ requested: n, inFlight }))
        return letGo(n) ?? Effect.void
      }))

    /**
     * Gives back `n` permits in flight (at most `inFlight`, checked by the caller): the count at once, and the
     * leases they held, if any, through the store (the returned effect; `undefined` when there is nothing to send).
     */
    const letGo = (n: number): Effect.Effect<void> | undefined => {
      inFlight -= n
      gauges()
      if (!leasing) return undefined
      const calls: Array<Effect.Effect<void>> = []
      let left = n
      while (left > 0 && held.length > 0) {
        const lease = held[held.length - 1] as Lease
        const r = Math.min(left, lease.n)
        calls.push(followUp(lease.source, "release", [lease.member, String(r)]))
        left -= r
        if (r === lease.n) held.pop()
        else {
          lease.member = core.leaseMember(lease.n - r, lease.member.slice(lease.member.indexOf(":") + 1))
          lease.n -= r
        }
      }
      return Effect.all(calls, { discard: true })
    }

    /**
     * `withPermits(n, options)(self)`: one mask around the acquisition and a release frame (`matchCauseEffect`,
     * pushed while uninterruptible, `self` restored), as in memory; the derived one (`makeWith`) would wrap a
     * masked `acquire` in a second mask and `self` in `ensuring` with an ignored `release`, several Effect steps
     * and objects more per grant on the hot path of a busy throttle. Bad arguments are the same defects as
     * `acquire`'s, when the effect runs.
     */
    const maxConcurrent = maxC > 0 ? maxC : Number.POSITIVE_INFINITY
    const max = maxPermits(resolved.rates, maxConcurrent)
    const withPermits = (n: number, options?: Throttle.AcquireOptions) => {
      const invalid = checkPermits(n, max, maxConcurrent)
      const maxWait = decodeMaxWait(options)
      // (when more than is still in flight was released by hand meanwhile, nothing more is: as the derived
      // `ensuring(self, ignore(release(n)))` did, whose release then failed)
      const releasing = {
        onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
          const after = n > inFlight ? undefined : letGo(n)
          return after === undefined ? Exit.failCause(cause) : Effect.zipRight(after, Exit.failCause(cause))
        },
        onSuccess: (value: unknown): Effect.Effect<unknown> => {
          const after = n > inFlight ? undefined : letGo(n)
          return after === undefined ? Exit.succeed(value) : Effect.as(after, value)
        }
      }
      return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | ThrottleStoreError | ThrottleTimeoutError, R> => {
        if (invalid !== undefined) return check.die(invalid)
        if (typeof maxWait === "string") return check.die(maxWait)
        return Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(
            acquireMasked(restore, n, maxWait),
            () => Effect.matchCauseEffect(restore(self), releasing) as Effect.Effect<A, E, R>
          )
        )
      }
    }
    const withOnePermit = withPermits(1)

    const pause = (duration: Duration.Duration): Effect.Effect<void, ThrottleStoreError> =>
      Effect.gen(function*() {
        const result = yield* Effect.either(route("pause", [core.num(Duration.toMillis(duration))]))
        pauseEpoch++
        const now = yield* clientMillis
        if (result._tag === "Left") {
          if (onStoreError === "fail") return yield* Effect.fail(toStoreError(result.left))
          return
        }
        const until = core.replyNumber(result.right.reply[1]) - core.replyNumber(result.right.reply[0]) + now
        instrument.paused(until)
      })

    const stats: Effect.Effect<Throttle.Stats, ThrottleStoreError> = Effect.gen(function*() {
      const result = yield* Effect.either(route("stats", []))
      const now = yield* clientMillis
      if (result._tag === "Left") {
        if (onStoreError === "fail") return yield* Effect.fail(toStoreError(result.left))
        return { inFlight, waiting, available: 0, granted: grantedSoFar, pausedUntil: undefined }
      }
      const s = core.decodeStats(result.right.reply)
      return {
        inFlight,
        waiting: s.waiting,
        available: s.available,
        granted: grantedSoFar,
        pausedUntil: s.pausedUntil > s.now ? s.pausedUntil - s.now + now : undefined
      }
    })

    // -- leases: renewed while held, wake-ups from other processes -----------------------------------------------
    yield* shared.subscribe((message) => {
      if (message === "p") pauseEpoch++
      else signal.fire()
    })
    return makeWith<ThrottleStoreError>({
      name: resolved.name,
      rates: resolved.rates,
      measure,
      burst: config.burst,
      maxConcurrent,
      acquire,
      release,
      withPermits: withPermits as Throttle.Service<ThrottleStoreError>["withPermits"],
      withPermit: (<A, E, R>(self: Effect.Effect<A, E, R>, options?: Throttle.AcquireOptions) =>
        options === undefined ? withOnePermit(self) : withPermits(1, options)(self)) as Throttle.Service<
          ThrottleStoreError
        >["withPermit"],
      tryAcquire: (n) => Effect.map(attempt(n, "tryAcquire"), (d) => d.granted),
      attempt: (n) => attempt(n, "attempt"),
      pause,
      stats,
      events: instrument.events
    })
  })

/** The wake-up channel of the throttle `key` (of a keyed throttle: the key of the keyed throttle itself). */
export const wakeChannel = (prefix: string, key: string): string => `{${prefix}:${key}}:wake`

/** The hidden option of the tests: `"client"` passes Effect's Clock to the script instead of reading `TIME`. */
export const ClockMode: unique symbol = Symbol.for("effect-throttles/redis/ClockMode") as never

/** The hidden option of the tests: called with the store's grant time (ms) of every grant. */
export const OnGrant: unique symbol = Symbol.for("effect-throttles/redis/OnGrant") as never

/** The hidden option of the tests: called when a caller starts waiting (its store call is done). */
export const OnSettle: unique symbol = Symbol.for("effect-throttles/redis/OnSettle") as never

/**
 * Builds a Redis throttle over the `Redis` client in context. A keyed throttle's key is given its part of the
 * keyed throttle's instrument and its tag on the keyed throttle's wake-up channel.
 */
export const make = (
  options: InputOptions,
  given?: Instrument,
  wake?: { readonly hub: WakeHub; readonly tag: string }
): Effect.Effect<Throttle.Service<ThrottleStoreError>, Rate.InvalidRateError, Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* resolve(options)
    const client = yield* Redis
    // a client still connecting (just created) gets up to storeTimeout to be ready: calls are never queued
    yield* Effect.promise(() => settled(client, Duration.toMillis(resolved.storeTimeout)))
    const keys = core.keys(resolved.prefix, resolved.key, resolved.rates.length)
    const hidden = options as {
      readonly [ClockMode]?: "server" | "client"
      readonly [OnGrant]?: (at: number, n: number) => void
      readonly [OnSettle]?: () => void
    }
    const clock = hidden[ClockMode] ?? "server"
    const store = makeRedisStore({
      client,
      keys,
      config: resolved.config,
      channel: wakeChannel(resolved.prefix, resolved.key),
      wake,
      timeout: resolved.storeTimeout,
      clock,
      now: live.preciseNowOf(yield* Effect.clock),
      name: resolved.name
    })
    return yield* makeWithStore(store, resolved, hidden[OnGrant], hidden[OnSettle], given)
  })
