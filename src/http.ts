/**
 * Rate limits at HTTP's edge, for `@effect/platform` 0.97 (an optional peer dependency: only this subpath,
 * `effect-throttles/http`, loads it).
 *
 * Client side, {@link ThrottledHttpClient}: every request goes through a throttle per key (by default the URL's
 * host), and what servers say is obeyed. A throttled answer (`429`, `503`) pauses the key — every request for it
 * waits — until `Retry-After` (seconds or HTTP-date), the `RateLimit` reset (IETF draft, current structured form
 * and the older `RateLimit-Reset`) or `X-RateLimit-Reset` (epoch seconds), then the request is sent again, up to
 * `maxRetries` times; a success saying `remaining` is 0 pauses the key until the reset before the next request is
 * sent. A throttled answer without a usable header pauses the key for 1 second. Malformed headers are ignored.
 *
 * Server side, {@link HttpRateLimit}: a middleware for `HttpApp` / `HttpRouter` (and one for `HttpApi`) deciding
 * each request with the throttle's `attempt` (never waits): refused requests get `429` with `Retry-After`,
 * `RateLimit` and `RateLimit-Policy`; admitted responses carry `RateLimit` and `RateLimit-Policy` too.
 *
 * @example
 * ```ts
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 * import { ThrottledHttpClient } from "effect-throttles/http"
 *
 * const Client = ThrottledHttpClient.layer({ rate: "10/s", maxConcurrent: 4 }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * const program = Effect.flatMap(HttpClient.HttpClient, (client) => client.get("https://api.example.com/items"))
 * program.pipe(Effect.provide(Client), Effect.scoped, Effect.runPromise)
 * ```
 *
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as DynamicThrottle from "./DynamicThrottle.js"
import * as client from "./internal/httpClient.js"
import * as server from "./internal/httpRateLimit.js"
import type * as KeyedThrottle from "./KeyedThrottle.js"
import type { InvalidRateError, RatesInput } from "./Rate.js"
import type { Throttle } from "./Throttle.js"

export {
  /**
   * A request still answered "throttled" after its last retry. It is the `cause` of the
   * `HttpClientError.ResponseError` (reason `"StatusCode"`, the last response) the request fails with:
   * `key`, the last `status`, `retryAfter` (what the server asked for last, or the default 1 s pause) and
   * `attempts` (every request sent).
   *
   * @since 0.2.0
   * @category errors
   */
  HttpRateLimitedError
} from "./internal/httpErrors.js"

/**
 * @since 0.2.0
 * @category models
 */
export declare namespace ThrottledHttpClient {
  /**
   * Options of {@link ThrottledHttpClient}. Invalid options are defects ("Expected X, got Y").
   *
   * @since 0.2.0
   * @category models
   */
  export interface Options {
    /**
     * The rate of each key (one rate, several windows `"5000/h, 10/s"`, or a function of the key). Without a
     * rate (and without `throttle`), requests are only paused when a server says so (and paced with `adaptive`).
     * A bad constant rate fails the layer with `InvalidRateError`; a bad rate returned for one key fails that
     * key's requests with a `RequestError` whose `cause` is the `InvalidRateError`.
     */
    readonly rate?: RatesInput | ((key: string) => RatesInput) | undefined
    /** The throttle key of a request. Default: the URL's host (`new URL(url).host`: host and non-default port). */
    readonly key?: ((request: HttpClientRequest.HttpClientRequest) => string) | undefined
    /** At most this many requests in flight per key (an integer >= 1). Default: no cap. */
    readonly maxConcurrent?: number | undefined
    /**
     * What a slot of the throttles this client creates measures (see `Throttle.Options.measure`). Default
     * `"release"`: a slot is held from the grant until `period` after the response arrived, so the server never
     * sees more than `limit` requests in one window, whatever the network delays. `"start"` can let a slow request
     * and a fast one land in the same window at the server.
     */
    readonly measure?: "start" | "release" | undefined
    /**
     * Use this throttle instead of creating one per key: a `Throttle.Service` (every key shares it; e.g. a Redis
     * throttle, so replicas share one quota) or a `KeyedThrottle` (one per key). Excludes `rate` and
     * `maxConcurrent`.
     */
    readonly throttle?: Throttle.Service<any> | KeyedThrottle.KeyedThrottle<string, any, any> | undefined
    /** Statuses that mean "throttled, come back later". Default `[429, 503]`. */
    readonly retryOn?: ReadonlyArray<number> | undefined
    /** Retries after the first attempt (an integer >= 0; 3 means at most 4 requests sent). Default `3`. */
    readonly maxRetries?: number | undefined
    /**
     * Pace each key with a `DynamicThrottle` that finds the server's rate (AIMD): the rate is cut by 0.7 on a
     * throttled answer — once per overload episode: answers to requests sent before the last cut do not cut again
     * — and raised by 1.2 after every 10 answers in a row that were not throttled. `true` for the HTTP defaults
     * (initial and maximum rate: the key's rate, else 10/s rising to at most 1000/s; minimum 0.1/s; jitter 0.1),
     * or DynamicThrottle options overriding them (e.g. `{ initialRate: 5, maxRate: 50 }`). Default: off.
     */
    readonly adaptive?: boolean | Partial<DynamicThrottle.DynamicThrottle.Options> | undefined
    /**
     * How long a key's throttle, and what the client knows of the key (its pause, the allowance the server told,
     * the adaptive rate it learnt), are kept after its last request ended. A key still paused, or with a told
     * allowance before its reset, is kept until then. The client looks for idle keys when a request starts (no
     * timer of its own): a client left alone keeps them until its next request. Default `"1 minute"` (see
     * `KeyedThrottle`).
     */
    readonly idleTimeToLive?: Duration.DurationInput | undefined
    /** The name of the throttles this client creates (metrics, events). Default `"http"`. */
    readonly name?: string | undefined
  }
}

/**
 * An `HttpClient` that throttles every request per key and obeys 429 / `Retry-After` / `RateLimit` /
 * `X-RateLimit-*`. See the module doc for what each header does.
 *
 * @since 0.2.0
 * @category constructors
 */
export const ThrottledHttpClient: {
  /**
   * Wraps the `HttpClient` in context: `Layer<HttpClient, InvalidRateError, HttpClient>`.
   *
   * @example
   * ```ts
   * import { FetchHttpClient } from "@effect/platform"
   * import { Layer } from "effect"
   * import { ThrottledHttpClient } from "effect-throttles/http"
   *
   * const Client = ThrottledHttpClient.layer({ rate: "5000/h, 10/s", maxConcurrent: 8 }).pipe(
   *   Layer.provide(FetchHttpClient.layer)
   * )
   * ```
   */
  readonly layer: (
    options: ThrottledHttpClient.Options
  ) => Layer.Layer<HttpClient.HttpClient, InvalidRateError, HttpClient.HttpClient>
  /**
   * Wraps one client (scoped: the per-key throttles live as long as the scope).
   *
   * @example
   * ```ts
   * import { HttpClient } from "@effect/platform"
   * import { Effect } from "effect"
   * import { ThrottledHttpClient } from "effect-throttles/http"
   *
   * const program = Effect.gen(function*() {
   *   const github = yield* ThrottledHttpClient.wrap({ rate: "10/s", adaptive: true })(yield* HttpClient.HttpClient)
   *   return yield* github.get("https://api.github.com/rate_limit")
   * })
   * ```
   */
  readonly wrap: (
    options: ThrottledHttpClient.Options
  ) => <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ) => Effect.Effect<
    HttpClient.HttpClient.With<E | HttpClientError.RequestError | HttpClientError.ResponseError, R>,
    InvalidRateError,
    Scope.Scope
  >
} = { layer: client.layer, wrap: client.wrap }

/**
 * @since 0.2.0
 * @category models
 */
export declare namespace HttpRateLimit {
  /**
   * Options of {@link HttpRateLimit}. Give `rate` or `throttle`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Options {
    /** The rate of each key (or a function of the key). Example: `"3/s"`, `"100/min, 10/s"`. */
    readonly rate?: RatesInput | ((key: string) => RatesInput) | undefined
    /**
     * The key of a request. Default: the client's address (`request.remoteAddress`; behind a proxy, put
     * `HttpMiddleware.xForwardedHeaders` in front, or key on a token or user id).
     */
    readonly key?: ((request: HttpServerRequest.HttpServerRequest) => string) | undefined
    /**
     * Use this throttle instead: a `Throttle.Service` (one quota for all; e.g. a Redis throttle shared by the
     * replicas) or a `KeyedThrottle`.
     */
    readonly throttle?: Throttle.Service<any> | KeyedThrottle.KeyedThrottle<string, any, any> | undefined
    /** Options of the throttles created per key (`measure`, `smooth`, `maxConcurrent`, ...). */
    readonly options?: Throttle.Options | undefined
    /** The policy name in `RateLimit` / `RateLimit-Policy`. Default `"default"`. */
    readonly policy?: string | undefined
    /** How long a key's throttle is kept after its last use. Default `"1 minute"`. */
    readonly idleTimeToLive?: Duration.DurationInput | undefined
  }

  /**
   * The middleware: an `HttpMiddleware` that keeps the app's error and context types (adding the request).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Middleware {
    <E, R>(self: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest>
  }
}

/**
 * Server-side rate limiting.
 *
 * Each request is decided at once by its key's throttle (`attempt`, never waits). Refused:
 * `429 Too Many Requests` with `Retry-After: <seconds>`, `RateLimit: "<policy>";r=<remaining>;t=<reset>` and
 * `RateLimit-Policy: "<policy>";q=<quota>;w=<window>` (whole seconds, rounded up: a client is never told to come
 * back early). Admitted: the app runs and its response gets `RateLimit` and `RateLimit-Policy`; the permit is
 * released when the response is produced. With `"3/s"`, five requests at once get 200, 200, 200, 429, 429.
 *
 * @since 0.2.0
 * @category constructors
 */
export const HttpRateLimit: {
  /**
   * The middleware for an `HttpApp` / `HttpRouter` (scoped: the per-key throttles live as long as the scope).
   *
   * @example
   * ```ts
   * import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
   * import { Effect, Layer } from "effect"
   * import { HttpRateLimit } from "effect-throttles/http"
   *
   * const router = HttpRouter.empty.pipe(HttpRouter.get("/", HttpServerResponse.text("hello")))
   * const serve = Effect.gen(function*() {
   *   const rateLimit = yield* HttpRateLimit.middleware({ rate: "10/s" })
   *   return yield* Layer.launch(HttpServer.serve(router, rateLimit))
   * })
   * ```
   */
  readonly middleware: (
    options: HttpRateLimit.Options
  ) => Effect.Effect<HttpRateLimit.Middleware, InvalidRateError, Scope.Scope>
  /**
   * The `HttpApi` middleware tag: add it to a group or an endpoint (`.middleware(HttpRateLimit.Api)`) and provide
   * {@link HttpRateLimit.apiLayer}. A refused request fails with {@link HttpRateLimit.TooManyRequests} (status 429).
   */
  readonly Api: typeof server.HttpRateLimitApi
  /** The implementation of {@link HttpRateLimit.Api}. */
  readonly apiLayer: (options: HttpRateLimit.Options) => Layer.Layer<server.HttpRateLimitApi, InvalidRateError>
  /** The error of a refused `HttpApi` request: status 429, `retryAfter` in seconds. */
  readonly TooManyRequests: typeof server.TooManyRequests
} = {
  middleware: server.middleware,
  Api: server.HttpRateLimitApi,
  apiLayer: server.apiLayer,
  TooManyRequests: server.TooManyRequests
}
