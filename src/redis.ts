/**
 * The same `Throttle` across processes, with its state in Redis (`effect-throttles/redis`). A layer swap is all it
 * takes: where `ThrottleLive("10/s")` was, provide `ThrottleRedis.layer({ key: "github", rate: "10/s" })` and a
 * `Redis` connection. `ioredis` (5.x) is an optional peer dependency: only this subpath loads it.
 *
 * Algorithm: the exact sliding log of the in-memory throttle, turned into reservations and decided by one Lua
 * script per call on the Redis server's clock (`TIME`). A caller is reserved the earliest grant time at which
 * every window has room for its permits after everyone who arrived before it (FIFO in the order Redis sees the
 * requests) and sleeps exactly until then; an interrupted caller cancels its reservation. The concurrent calls of a
 * process go to Redis together, one script call per event-loop turn (several in flight when they pile up), so a
 * busy process pays one round trip for many grants.
 *
 * Guarantees, across every process using the same `key` (and the same rates):
 * - In every window `[t, t + period)` of the server's clock at most `limit` permits are granted (weights
 *   counted, every window of several). The guarantee is on Redis's clock at the moment the script decides; a
 *   caller resumes its wait's worth later on its own clock, so the starts a client sees carry its wake-up jitter
 *   (a millisecond or so). Client clocks may be skewed by minutes or hours: nothing changes.
 * - A cancelled reservation (an interrupted waiter) is removed; if it was the last one, the next arrival takes its
 *   place; in the middle of the queue its slot stays unused (it never over-admits, and those behind it keep their
 *   reserved times).
 * - `maxConcurrent` by leases: a permit in flight is a lease that expires after `leaseTtl` unless renewed (the
 *   holder renews it every `leaseTtl / 3` while it runs), so a crashed process's permits come back. The lease is
 *   taken first, then the rate reservation, so the windows count real starts. A release wakes the next waiter in
 *   any process through pub/sub, with a re-check at least every `min(leaseTtl / 3, 1 s)` as a safety net.
 * - `measure: "release"`: a slot is held from the grant until `period` after its release, across processes. Every
 *   permit in flight is then a lease (as with `maxConcurrent`): a crashed holder's slot is held until its lease
 *   expires, then for `period` more. A caller that cannot go now waits in the lease queue (FIFO) until the time
 *   the windows give it or a release anywhere, whichever comes first (no reservation ahead of time: a release can
 *   only bring that time closer).
 * - Every key has a TTL at every moment; all keys of one throttle share the hash tag `{prefix:key}` (Redis Cluster
 *   works); the script is sent by `EVALSHA` and reloaded on `NOSCRIPT` within the same call.
 * - Every store call has a timeout (`storeTimeout`, default 1 s) after which `onStoreError` applies; a call is
 *   never queued while the connection is down, and a call that reaches Redis after its deadline does nothing.
 *
 * `KeyedThrottleRedis` is the keyed form: one Redis throttle per key (per user, per client address), shared by every
 * process using the same `key`, behind the in-memory `KeyedThrottle` interface.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Throttle } from "effect-throttles"
 * import { Redis, ThrottleRedis } from "effect-throttles/redis"
 *
 * const ThrottleLayer = ThrottleRedis.layer({ key: "github", rate: "5000/h, 10/s", maxConcurrent: 20 }).pipe(
 *   Layer.provide(Redis.layer("redis://127.0.0.1:6379"))
 * )
 * const program = Effect.forEach([1, 2, 3], (i) => Throttle.withPermit(Effect.log(`call ${i}`)))
 * program.pipe(Effect.provide(ThrottleLayer), Effect.runPromise)
 * ```
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Cluster, Redis as IORedis, RedisOptions } from "ioredis"
import * as keyed from "./internal/keyedThrottleRedis.js"
import * as client from "./internal/redisClient.js"
import * as internal from "./internal/redisThrottle.js"
import type { ThrottleStoreError } from "./internal/throttleErrors.js"
import type { KeyedThrottle } from "./KeyedThrottle.js"
import type { InvalidRateError, RatesInput } from "./Rate.js"
import { Throttle } from "./Throttle.js"

export {
  /**
   * The error of a Redis throttle made with `onStoreError: "fail"` when Redis does not answer in time or fails.
   *
   * @since 0.2.0
   * @category errors
   */
  ThrottleStoreError
} from "./internal/throttleErrors.js"

/**
 * The Redis connection the Redis backends use: an `ioredis` `Redis` client or `Cluster`.
 *
 * @since 0.2.0
 * @category tags
 */
export class Redis extends client.Redis {
  /**
   * A connection we own, from a URL or ioredis options: connected when the layer is built, closed with it. A
   * server that is down does not fail the layer (the throttles' `onStoreError` applies). The offline queue is
   * off by default (`enableOfflineQueue: false`), so no command runs after its caller gave up.
   *
   * @since 0.2.0
   */
  static readonly layer: (options: Redis.LayerOptions) => Layer.Layer<Redis> = client.layer

  /**
   * An existing client (`new Redis(...)` or `new Cluster([...])` of ioredis), shared with the rest of the
   * application and not closed by us.
   *
   * @since 0.2.0
   */
  static readonly layerFromClient: (client: Redis.Client) => Layer.Layer<Redis> = client.layerFromClient
}

/**
 * @since 0.2.0
 */
export declare namespace Redis {
  /**
   * An ioredis client or Cluster.
   *
   * @since 0.2.0
   * @category models
   */
  export type Client = IORedis | Cluster

  /**
   * A `redis://` URL, or ioredis options with an optional `url`.
   *
   * @since 0.2.0
   * @category models
   */
  export type LayerOptions = string | (RedisOptions & { readonly url?: string | undefined })
}

/**
 * @since 0.2.0
 */
export declare namespace ThrottleRedis {
  /**
   * What to do when Redis does not answer within `storeTimeout` or fails:
   * - `"local"` (default): fall back to an in-memory throttle with the same rates in this process, seeded with
   *   this process's grants of the current window, until Redis answers again (logged once per outage, counted in
   *   `effect_throttles_store_errors_total`). N processes admit up to N × limit during an outage.
   * - `"allow"`: fail open — grant at once.
   * - `"wait"`: admit nobody; retry the store with backoff (50 ms doubling to 1 s). The only mode that never
   *   over-admits while Redis keeps its data (a restart without persistence restarts the windows).
   * - `"fail"` (`ThrottleRedis.make` and `KeyedThrottleRedis.make` only, not the layers): every effect fails with
   *   `ThrottleStoreError`.
   *
   * @since 0.2.0
   * @category models
   */
  export type OnStoreError = "local" | "allow" | "wait" | "fail"

  /**
   * Options of a Redis throttle.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Options<P extends OnStoreError = OnStoreError> {
    /** The throttle's key: every process using it shares one throttle. Non-empty, without `{` or `}`. */
    readonly key: string
    /** One rate, several (`"5000/h, 10/s"`, an array), as in memory. Every process must use the same rates. */
    readonly rate: RatesInput
    /**
     * `"start"` (default): a slot is held for `period` from the grant. `"release"`: from the grant until `period`
     * after its release, so at most `limit` permits are in flight across all processes and at most `limit`
     * releases fall in any window. Under `"release"` every permit in flight is a lease (see `leaseTtl`): a holder
     * that dies holds its slot until its lease expires, then for `period` more. A caller that cannot go waits in
     * the lease queue (FIFO) until the time the windows give it, or a release anywhere, whichever comes first.
     */
    readonly measure?: "start" | "release" | undefined
    /** GCRA spacing as in memory: `true` or `{ burst }` (default burst `max(1, ceil(1 ms / interval))`). */
    readonly smooth?: boolean | { readonly burst: number } | undefined
    /** At most this many permits in flight across all processes (an integer >= 1; default: no cap). */
    readonly maxConcurrent?: number | undefined
    /** How long an unrenewed lease lives (default 30 s): a crashed holder's permits come back after it. */
    readonly leaseTtl?: Duration.DurationInput | undefined
    /** The first part of the hash tag `{prefix:key}` (default `"effect-throttles"`). No `{` or `}`. */
    readonly prefix?: string | undefined
    /** See {@link OnStoreError}; default `"local"`. */
    readonly onStoreError?: P | undefined
    /** Every store call fails after this long (default 1 s), and `onStoreError` applies. */
    readonly storeTimeout?: Duration.DurationInput | undefined
    /** The name in metrics, events and errors (default `"default"`). */
    readonly name?: string | undefined
    /** `false` turns off the throttle's metrics (events still reach subscribers). Default `true`. */
    readonly metrics?: boolean | undefined
  }
}

/**
 * The Redis backend of {@link Throttle}: `make` and `layer`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const ThrottleRedis: {
  /**
   * A Redis throttle over the `Redis` connection in context. Bad options are defects and a bad rate fails with
   * `InvalidRateError`, before anything touches Redis. With `onStoreError: "fail"` the service's effects may fail
   * with `ThrottleStoreError`.
   */
  readonly make: {
    (options: ThrottleRedis.Options<"fail"> & { readonly onStoreError: "fail" }): Effect.Effect<
      Throttle.Service<ThrottleStoreError>,
      InvalidRateError,
      Redis | Scope.Scope
    >
    (
      options: ThrottleRedis.Options<"local" | "allow" | "wait">
    ): Effect.Effect<Throttle.Service, InvalidRateError, Redis | Scope.Scope>
    (options: ThrottleRedis.Options): Effect.Effect<
      Throttle.Service<ThrottleStoreError>,
      InvalidRateError,
      Redis | Scope.Scope
    >
  }
  /** A layer providing the `Throttle` service from Redis: where `ThrottleLive(...)` was. */
  readonly layer: (
    options: ThrottleRedis.Options<"local" | "allow" | "wait">
  ) => Layer.Layer<Throttle, InvalidRateError, Redis>
  /**
   * A layer whose options come from `Config`, e.g.
   * `ThrottleRedis.layerConfig({ key: Config.string("THROTTLE_KEY"), rate: Config.string("THROTTLE_RATE") })`.
   */
  readonly layerConfig: (
    options: Config.Config.Wrap<ThrottleRedis.Options<"local" | "allow" | "wait">>
  ) => Layer.Layer<Throttle, InvalidRateError | ConfigError.ConfigError, Redis>
} = {
  // one argument: the internal second one (a keyed throttle's instrument) is not for users, nor for `forEach` indexes
  make: ((options: ThrottleRedis.Options) => internal.make(options)) as any,
  layer: (options) => Layer.scoped(Throttle, internal.make(options) as any),
  layerConfig: (options) =>
    Layer.scoped(Throttle, Effect.flatMap(Config.unwrap(options), (resolved) => internal.make(resolved)) as any)
}

/**
 * A Redis throttle (the same as `ThrottleRedis.make`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = ThrottleRedis.make

/**
 * A layer of a Redis throttle (the same as `ThrottleRedis.layer`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = ThrottleRedis.layer

/**
 * A layer of a Redis throttle whose options come from `Config` (the same as `ThrottleRedis.layerConfig`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = ThrottleRedis.layerConfig

/**
 * @since 0.2.0
 */
export declare namespace KeyedThrottleRedis {
  /**
   * Options of a keyed Redis throttle: those of a Redis throttle (every key's throttle gets them), with `rate`
   * constant or a function of the key, and the key's local time to live.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Options<R, P extends ThrottleRedis.OnStoreError = "local" | "allow" | "wait">
    extends Omit<ThrottleRedis.Options<P>, "rate">
  {
    /**
     * The name of the keyed throttle in Redis: the user key `k` is the Redis throttle `"<key>:<k>"` (in `k`, `%`, `{`
     * and `}` are escaped). Every process using the same `key` and user key shares that key's throttle.
     */
    readonly key: string
    /**
     * The rate of every key, or a function giving each key its rate, called when this process makes the key's
     * throttle (again after dropping it). Every process must give a key the same rate. A bad rate returned for a
     * key fails that operation with `InvalidRateError` naming the key (asked again on the key's next use); a
     * function that throws is a defect naming the key.
     */
    readonly rate: R
    /**
     * How long this process keeps a key's throttle (its connection to the key's state, its wake-ups) after its
     * last use here (default `"1 minute"`; a duration >= 0, or `Duration.infinity`). Dropping it forgets nothing:
     * the key's windows live in Redis.
     */
    readonly idleTimeToLive?: Duration.DurationInput | undefined
  }
}

/**
 * One Redis throttle per key, shared by every process using the same `key` — per client address, per user, per
 * API token, across replicas — behind the same `KeyedThrottle` interface as the in-memory one (so it plugs into
 * `HttpRateLimit.middleware({ throttle })` and `ThrottledHttpClient`). Every key's throttle has the guarantees of
 * `ThrottleRedis` (exact sliding windows on Redis's clock, FIFO, weights, leases, `onStoreError`), and keys are
 * independent.
 *
 * This process makes a key's throttle on first use and drops it `idleTimeToLive` after its last use here (unlike
 * in memory, at once: the windows stay in Redis, with their TTLs). Permits granted by `attempt` hold the key until
 * given back with `release`. A new key's throttle is made by a fiber of the keyed throttle, and its first callers
 * wait for it interruptibly. The metrics are per keyed throttle (tagged with `name`), events per key (`get`).
 * With `onStoreError: "fail"`, every operation may fail with `ThrottleStoreError` (naming the key's Redis
 * throttle), and `get` gives a `Throttle.Service<ThrottleStoreError>`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { KeyedThrottleRedis, Redis } from "effect-throttles/redis"
 *
 * const program = Effect.gen(function*() {
 *   const perUser = yield* KeyedThrottleRedis.make({ key: "api-per-user", rate: "100/min, 5/s" })
 *   yield* perUser.withPermit("user-42")(Effect.log("a call for user 42"))
 * })
 * program.pipe(Effect.scoped, Effect.provide(Redis.layer("redis://127.0.0.1:6379")), Effect.runPromise)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const KeyedThrottleRedis: {
  /**
   * A keyed Redis throttle over the `Redis` connection in context, scoped: closing the scope drops every key
   * (interrupting its waiters). Bad options are defects, and a bad constant rate fails with `InvalidRateError`,
   * before anything touches Redis.
   */
  readonly make: {
    (
      options: KeyedThrottleRedis.Options<(key: string) => RatesInput, "fail"> & { readonly onStoreError: "fail" }
    ): Effect.Effect<KeyedThrottle<string, InvalidRateError, ThrottleStoreError>, never, Redis | Scope.Scope>
    (
      options: KeyedThrottleRedis.Options<RatesInput, "fail"> & { readonly onStoreError: "fail" }
    ): Effect.Effect<KeyedThrottle<string, never, ThrottleStoreError>, InvalidRateError, Redis | Scope.Scope>
    (
      options: KeyedThrottleRedis.Options<(key: string) => RatesInput>
    ): Effect.Effect<KeyedThrottle<string, InvalidRateError>, never, Redis | Scope.Scope>
    (
      options: KeyedThrottleRedis.Options<RatesInput>
    ): Effect.Effect<KeyedThrottle<string>, InvalidRateError, Redis | Scope.Scope>
  }
} = {
  make: keyed.make as any
}
