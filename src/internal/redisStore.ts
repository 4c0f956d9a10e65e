/**
 * Where a Redis throttle keeps its state: the `Store` interface (one call per script operation, plus wake-ups),
 * its Redis implementation (EVALSHA with NOSCRIPT reload, a timeout on every call, never queued while offline,
 * stale calls refused by the script) and its in-memory implementation (`redisCore.ts` on Effect's clock: the fake
 * store of the unit tests and the `"local"` fallback).
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import type * as Scope from "effect/Scope"
import { type Cluster, Command, type Redis as IORedis } from "ioredis"
import * as finalizer from "./finalizer.js"
import * as core from "./redisCore.js"
import { preciseNowOf } from "./liveTimer.js"
import { SCRIPT } from "./redisScript.js"
import { tagged } from "./throttleInstrument.js"

/** A store call that failed: an error from Redis or the connection, or no answer within the timeout. */
export class StoreFailure extends Data.TaggedError("StoreFailure")<{ readonly cause: unknown }> {
  override get message(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause)
  }
}

/** The state of one throttle, somewhere. */
export interface Store {
  /**
   * The caller's clock time (Effect's `Clock`, ms) at which the store's time `at` has surely passed: the identity
   * when the store runs on the caller's clock (the memory store; Redis in the tests' clock mode). For Redis's own
   * clock it uses the tightest lower bound of the clock offset seen in recent replies (the fastest round trip), so
   * a waiter never starts before its slot, and does not inherit the latency of its own reply.
   */
  readonly toClientTime: (at: number) => number
  /** Runs one script operation. */
  readonly call: (op: core.Op, args: ReadonlyArray<string>) => Effect.Effect<core.Reply, StoreFailure>
  /**
   * Runs one script operation and calls `done` once with its reply or failure (maybe before returning): `call`
   * without an Effect of its own, for the batches of acquisitions (one per script call, on the fast path). `now` is
   * the caller's clock time (ms), read on the throttle's clock.
   */
  readonly send: (
    op: core.Op,
    args: ReadonlyArray<string>,
    now: number,
    done: (result: core.Reply | StoreFailure) => void
  ) => void
  /**
   * Calls `onMessage` with every message of the throttle's channel while the scope is open: `"w"` when a release (in
   * any process) may let a queued waiter in, `"p"` when a pause was set.
   */
  readonly subscribe: (onMessage: (message: string) => void) => Effect.Effect<void, never, Scope.Scope>
}

/** A client: ioredis' `Redis` or `Cluster`. */
export type Client = IORedis | Cluster

/** The SHA1 of the script, as `EVALSHA` wants it. */
export const SHA = createHash("sha1").update(SCRIPT).digest("hex")

const storeErrorsKey = MetricKey.counter("effect_throttles_store_errors_total", {
  description: "Redis throttle store calls that failed or timed out",
  incremental: true
})

/** `effect_throttles_store_errors_total`: store calls that failed or timed out. */
export const storeErrors = Metric.fromMetricKey(storeErrorsKey)

const storeLatencyKey = MetricKey.histogram(
  "effect_throttles_store_latency_seconds",
  MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 16 }),
  "Redis throttle store call latency"
)

/** `effect_throttles_store_latency_seconds`: time per store call. */
export const storeLatency = Metric.fromMetricKey(storeLatencyKey)

/** Options of the Redis store. */
export interface RedisStoreOptions {
  readonly client: Client
  readonly keys: ReadonlyArray<string>
  readonly config: core.Config
  /** The throttle's own wake-up channel, unless `wake` is given. */
  readonly channel: string
  /**
   * A key of a keyed throttle: its wake-ups go through the keyed throttle's hub (its channel, every message tagged
   * with `tag`) instead of a channel of its own.
   */
  readonly wake?: { readonly hub: WakeHub; readonly tag: string } | undefined
  /** Every call fails after this long. */
  readonly timeout: Duration.Duration
  /** `"server"`: the script reads `TIME`; `"client"`: the caller's Effect Clock is passed in (tests). */
  readonly clock: "server" | "client"
  /**
   * The caller's clock (ms), as its throttle reads it (`preciseNowOf`): read when a reply comes back, to bound the
   * offset between the server's clock and the caller's (`toClientTime`).
   */
  readonly now: () => number
  /** Tags of the metrics. */
  readonly name: string
}

/** The caller's clock in milliseconds, read as its throttle reads it (`preciseNowOf`: one origin per clock). */
const clockMillis: Effect.Effect<number> = Effect.clockWith((clock) => Effect.sync(preciseNowOf(clock)))

/** One RESP bulk string. */
const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`

/** The arguments of a Command built empty (its own are set after). */
const NO_ARGS: Array<string> = []

const isNoScript = (e: unknown): boolean => e instanceof Error && e.message.startsWith("NOSCRIPT")

/** A store call in flight, for the shared timeout timer (a class, not a literal: see Pending in redisThrottle.ts). */
class InFlight {
  done = false
  constructor(readonly deadline: number, readonly expire: () => void) {}
}

/** The Redis store. */
export const makeRedisStore = (options: RedisStoreOptions): Store => {
  const { client, config, keys, now: clientClock, wake } = options
  const channel = wake?.hub.channel ?? options.channel
  const timeoutMillis = Duration.toMillis(options.timeout)
  const fixed = core.fixedArgs(config, channel, wake?.tag)
  /** server time - client time, from the last reply (to date a call's deadline on the server's clock). */
  let offset: number | undefined
  // the hooks themselves, updated in the reply's step (one update per call, without a key lookup)
  const labels = [MetricLabel.make("name", options.name), MetricLabel.make("backend", "redis")]
  const errors = tagged(storeErrorsKey, labels)
  const latency = tagged(storeLatencyKey, labels)

  // The offset server - client is at least (server time at the script) - (client time at the reply), the client
  // time read when the reply is handled: the script ran before that. (Reckoning it as the call's `now` plus the
  // round trip overstated it whenever `now` was read some time before the call went out, a collection or another
  // fiber's turn in between, and waiters then started before their slots: in the 4-process bench, one process woke
  // 28 reserved callers up to 2.3 ms early after one such reading, until the bound aged out.) The largest bound
  // (the fastest round trip) is kept, aged by 100 ppm of clock drift per elapsed millisecond.
  let lowerOffset = Number.NEGATIVE_INFINITY
  let lowerAt = 0
  const aged = (now: number): number => lowerOffset - (now - lowerAt) * 1e-4
  const noteOffset = (bound: number): void => {
    const now = performance.now()
    if (bound >= aged(now)) {
      lowerOffset = bound
      lowerAt = now
    }
  }
  const toClientTime = (at: number): number =>
    options.clock === "client" ? at : at - aged(performance.now())

  // EVALSHA as a Command whose arguments are set already flat: ioredis' command methods flatten theirs with
  // `Array.prototype.flat`, about 5 µs alone for the 36 arguments of a batch of four, and the largest part of
  // ioredis' share of a grant in a CPU profile of 8 callers. Set flat, the CPU per grant of 8 callers went down by
  // 12–30% (medians of three runs of `bench/redisBaseline.ts`: 43.2 → 38.0, 46.4 → 33.7, 47.0 → 32.9 µs). A
  // client with a `keyPrefix` goes through the method, which applies the prefix to the keys.
  // Its bytes on the wire are put together here too, from the parts that are the same in every call of this
  // throttle (the script's SHA, the keys, the rates and options: most of the bytes) encoded once: ioredis encodes
  // every argument of every call again, concatenating, which was 1.26 KB of garbage per grant (of 8.2 KB in all) at
  // 8 callers. The arguments stay set on the command for everything else ioredis reads them for (the slot of a
  // Cluster, a resend after a reconnect writes the same bytes again).
  const head = [SHA, String(keys.length), ...keys]
  const headBytes = `$7\r\nevalsha\r\n${head.map(bulk).join("")}`
  const fixedBytes = fixed.map(bulk).join("")
  /** The RESP of `EVALSHA head argv`; `argv` is `argvWith`'s: op, now, deadline, the fixed part, the op's own. */
  const wire = (argv: ReadonlyArray<string>): string => {
    const parts = [
      `*${head.length + argv.length + 1}\r\n`,
      headBytes,
      bulk(argv[0] as string),
      bulk(argv[1] as string),
      bulk(argv[2] as string),
      fixedBytes
    ]
    for (let i = 3 + fixed.length; i < argv.length; i++) parts.push(bulk(argv[i] as string))
    return parts.join("")
  }
  const evalsha: (argv: ReadonlyArray<string>) => Promise<unknown> =
    (client.options as { readonly keyPrefix?: unknown }).keyPrefix
      ? (argv) => client.evalsha(SHA, keys.length, ...keys, ...argv) as Promise<unknown>
      : (argv) => {
        const command = new Command("evalsha", NO_ARGS, { replyEncoding: "utf8" })
        command.args = head.concat(argv)
        command.toWritable = () => wire(argv)
        return client.sendCommand(command) as Promise<unknown>
      }
  const send = (argv: ReadonlyArray<string>): Promise<unknown> =>
    evalsha(argv).catch((e) =>
      isNoScript(e) ? client.eval(SCRIPT, keys.length, ...keys, ...argv) : Promise.reject(e)
    )

  // The timeout bounds real I/O, so it is a real timer (Effect.timeout costs a fiber race per call, several times
  // the cost of the call itself on a busy event loop), and one timer for all the calls in flight: they all have the
  // same timeout and are sent in order, so the earliest deadline is the oldest call's. An answered call is marked,
  // and the answered calls at the head of the line are dropped at once (calls are answered in order, so the line
  // holds the calls in flight, not a timeout's worth of answered ones with their callers); the timer is left
  // running, and when it fires it is set again for the oldest unanswered call (so a busy throttle sets it about once
  // per timeout, not once per call). It does not keep the process alive: a call in flight is on a connection,
  // which does.
  const timedOut = `no answer from Redis within ${Duration.format(options.timeout)}`
  const inFlight: Array<InFlight> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const dropAnswered = (): void => {
    while (inFlight.length > 0 && (inFlight[0] as InFlight).done) inFlight.shift()
  }
  const arm = (): void => {
    dropAnswered()
    const head = inFlight[0]
    if (head === undefined) return
    timer = setTimeout(onTimer, Math.max(0, head.deadline - performance.now()))
    timer.unref()
  }
  const onTimer = (): void => {
    timer = undefined
    const now = performance.now()
    while (inFlight.length > 0 && ((inFlight[0] as InFlight).done || (inFlight[0] as InFlight).deadline <= now)) {
      const head = inFlight.shift() as InFlight
      if (!head.done) {
        head.done = true
        head.expire()
      }
    }
    arm()
  }

  // Every failure is counted, whichever way it fails: refused at once while the connection is down (the common
  // case during an outage: ioredis notices a dead server before the next call), an error reply, a timeout, a
  // stale call. Returns a function that drops the call (its caller gave up: `done` is not called).
  const start = (
    op: core.Op,
    args: ReadonlyArray<string>,
    clientNow: number,
    done: (result: core.Reply | StoreFailure) => void
  ): () => void => {
    const fail = (cause: unknown): void => {
      errors.update(1)
      done(new StoreFailure({ cause }))
    }
    // Never queue a command while offline: it could run after its caller gave up.
    if (client.status !== "ready") {
      fail(new Error(`Redis connection is ${client.status}`))
      return () => {}
    }
    const now = options.clock === "client" ? clientNow : undefined
    const deadline = options.clock === "client"
      ? clientNow + timeoutMillis
      : offset === undefined
      ? undefined
      : clientNow + offset + timeoutMillis
    const argv = core.argvWith(fixed, op, now, deadline, args)
    const started = performance.now()
    const call = new InFlight(started + timeoutMillis, () => fail(new Error(timedOut)))
    inFlight.push(call)
    if (timer === undefined) arm()
    send(argv).then(
      (reply) => {
        if (call.done) return
        call.done = true
        dropAnswered()
        if (!Array.isArray(reply)) return fail(new Error(`unexpected reply ${String(reply)}`))
        if (reply[0] === "stale") return fail(new Error("the call reached Redis after its deadline"))
        const serverNow = Number(reply[0])
        // (the deadline's offset may be late by the call's delay: a stale call is then refused a little later)
        offset = serverNow - clientNow
        noteOffset(serverNow - clientClock())
        latency.update((performance.now() - started) / 1000)
        done(reply as core.Reply)
      },
      (cause) => {
        if (call.done) return
        call.done = true
        dropAnswered()
        fail(cause)
      }
    )
    return () => {
      call.done = true
      dropAnswered()
    }
  }

  const call = (op: core.Op, args: ReadonlyArray<string>): Effect.Effect<core.Reply, StoreFailure> =>
    Effect.flatMap(clockMillis, (clientNow) =>
      Effect.async<core.Reply, StoreFailure>((resume) => {
        const drop = start(op, args, clientNow, (result) =>
          resume(result instanceof StoreFailure ? Effect.fail(result) : Effect.succeed(result)))
        return Effect.sync(drop)
      }))

  const subscribe = (onMessage: (message: string) => void): Effect.Effect<void, never, Scope.Scope> =>
    wake === undefined ? listen(client, channel, onMessage) : wake.hub.subscribe(wake.tag, onMessage)

  return { call, send: (op, args, now, done) => void start(op, args, now, done), subscribe, toClientTime }
}

/** Calls `onMessage` with every message on `channel` while the scope is open. */
const listen = (
  client: Client,
  channel: string,
  onMessage: (message: string) => void
): Effect.Effect<void, never, Scope.Scope> =>
  finalizer.acquireRelease(
    Effect.sync(() => subscriberOf(client).add(channel, onMessage)),
    (remove) => Effect.promise(remove)
  )

/**
 * The wake-ups of a keyed throttle's keys: one channel for all of them, subscribed once, each message tagged with
 * the key it is for (`"w<tag>"`, `"p<tag>"`) and handed to that key's throttles in this process as `"w"` / `"p"`.
 * A key's throttle joins with a map entry, not a SUBSCRIBE of its own (a new key costs no command on the subscriber
 * connection, and Redis holds one subscription per process instead of one per live key). Every process of the
 * keyed throttle receives every key's messages; they come only when a release may let a queued waiter in, or a
 * pause was set, and a key not live here costs a map lookup.
 */
export interface WakeHub {
  readonly channel: string
  /** Calls `onMessage` with the messages for `tag` (without the tag) while the scope is open. */
  readonly subscribe: (tag: string, onMessage: (message: string) => void) => Effect.Effect<void, never, Scope.Scope>
}

/** Subscribes to `channel` for the scope's lifetime; see `WakeHub`. */
export const makeWakeHub = (client: Client, channel: string): Effect.Effect<WakeHub, never, Scope.Scope> => {
  // (a set per tag: a dropped key's throttle may still be closing when the key's next one is made)
  const handlers = new Map<string, Set<(message: string) => void>>()
  const dispatch = (message: string): void => {
    const set = handlers.get(message.slice(1))
    if (set === undefined) return
    const kind = message.slice(0, 1)
    for (const handler of set) handler(kind)
  }
  const hub: WakeHub = {
    channel,
    subscribe: (tag, onMessage) =>
      finalizer.acquireRelease(
        Effect.sync(() => {
          let set = handlers.get(tag)
          if (set === undefined) handlers.set(tag, set = new Set())
          set.add(onMessage)
          return set
        }),
        (set) =>
          Effect.sync(() => {
            set.delete(onMessage)
            if (set.size === 0 && handlers.get(tag) === set) handlers.delete(tag)
          })
      )
  }
  return Effect.as(listen(client, channel, dispatch), hub)
}

/**
 * One subscriber connection per client, shared by every throttle on it (a channel per throttle). It is opened by
 * the first subscription and lives as long as the client: closed when the client ends, not when its last channel
 * goes (a keyed throttle that makes and drops keys one after another would otherwise open a connection per key).
 */
interface Subscriber {
  readonly add: (channel: string, onMessage: (message: string) => void) => () => Promise<void>
}

const subscribers = new WeakMap<Client, Subscriber>()

const subscriberOf = (client: Client): Subscriber => {
  const existing = subscribers.get(client)
  if (existing !== undefined) return existing
  const handlers = new Map<string, Set<(message: string) => void>>()
  let connection: Client | undefined
  const open = (): Client => {
    // a QUIT may be queued while it connects (nothing stale can run); SUBSCRIBE and UNSUBSCRIBE wait for ready
    const c = client.duplicate({ enableOfflineQueue: true } as never)
    c.on("message", (ch: string, message: string) => {
      for (const handler of handlers.get(ch) ?? []) handler(message)
    })
    // a lost subscription only costs latency: waiters re-check on their own
    c.on("error", () => {})
    // SUBSCRIBE is sent on a ready connection only, and every channel again on each ready (a reconnect): queued
    // while the connection is opening, ioredis (5.8.2 and later, redis/ioredis#2037) may send it between its own
    // handshake commands, which then fail in subscriber mode, and the channel was never subscribed. Subscribing
    // a channel twice is harmless.
    c.on("ready", () => {
      if (handlers.size > 0) c.subscribe(...handlers.keys()).catch(() => {})
    })
    return c
  }
  client.on("end", () => {
    const c = connection
    connection = undefined
    if (c !== undefined) c.quit().then(() => {}, () => c.disconnect())
  })
  const subscriber: Subscriber = {
    add: (channel, onMessage) => {
      connection ??= open()
      let set = handlers.get(channel)
      if (set === undefined) {
        set = new Set()
        handlers.set(channel, set)
        if (connection.status === "ready") connection.subscribe(channel).catch(() => {})
      }
      set.add(onMessage)
      return async () => {
        set.delete(onMessage)
        if (set.size > 0 || handlers.get(channel) !== set) return
        handlers.delete(channel)
        const c = connection
        if (c !== undefined && c.status === "ready") await c.unsubscribe(channel).then(() => {}, () => {})
      }
    }
  }
  subscribers.set(client, subscriber)
  return subscriber
}

/** The in-memory store: `redisCore` on Effect's clock. `failing()` makes every call fail (for tests). */
export interface MemoryStore extends Store {
  readonly state: core.State
  /** Runs `op` at a given time (to seed the `"local"` fallback with this process's recent grants). */
  readonly callAt: (now: number, op: core.Op, args: ReadonlyArray<string>) => core.Reply
  /** Sets whether calls fail (unit tests of the store-error policies). */
  readonly setFailing: (failing: boolean) => void
}

/** An in-memory store with the script's semantics. */
export const makeMemoryStore = (config: core.Config, onMessage?: (message: string) => void): MemoryStore => {
  const state = core.makeState(config.limits.length)
  const listeners = new Set<(message: string) => void>()
  if (onMessage !== undefined) listeners.add(onMessage)
  let failing = false
  const callAt = (now: number, op: core.Op, args: ReadonlyArray<string>): core.Reply => {
    const { paused, reply, wake } = core.run(config, state, now, op, args)
    if (wake) for (const listener of listeners) listener("w")
    if (paused) for (const listener of listeners) listener("p")
    return reply
  }
  const answer = (now: number, op: core.Op, args: ReadonlyArray<string>): core.Reply | StoreFailure =>
    failing ? new StoreFailure({ cause: new Error("store unavailable") }) : callAt(now, op, args)
  return {
    toClientTime: (at) => at,
    state,
    callAt,
    setFailing: (f) => {
      failing = f
    },
    call: (op, args) =>
      Effect.flatMap(clockMillis, (now) =>
        Effect.suspend(() => {
          const result = answer(now, op, args)
          return result instanceof StoreFailure ? Effect.fail(result) : Effect.succeed(result)
        })),
    send: (op, args, now, done) => done(answer(now, op, args)),
    subscribe: (onWake) =>
      finalizer.acquireRelease(
        Effect.sync(() => listeners.add(onWake)),
        () => Effect.sync(() => listeners.delete(onWake))
      ).pipe(Effect.asVoid)
  }
}
