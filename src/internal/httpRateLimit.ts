/**
 * `HttpRateLimit`: the server side. Every request asks its key's throttle for a decision (`attempt`, which never
 * waits): refused, it is answered `429` with `Retry-After`, `RateLimit` and `RateLimit-Policy`; admitted, the app
 * runs and its response carries `RateLimit` and `RateLimit-Policy`; the permit is released once the response is
 * produced (whatever the outcome).
 *
 * @internal
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type { HttpRateLimit } from "../http.js"
import * as Rate from "../Rate.js"
import * as core from "./httpHeadersCore.js"
import * as finalizer from "./finalizer.js"
import * as check from "./options.js"
import * as throttles from "./httpThrottles.js"

/** The default key: the client's address (`"unknown"` when the server does not know it). */
export const defaultKey = (request: HttpServerRequest.HttpServerRequest): string =>
  Option.getOrElse(request.remoteAddress, () => "unknown")

interface Limiter {
  /** Decides for one request: the throttle to release (when granted) and the headers to send. */
  readonly decide: (
    request: HttpServerRequest.HttpServerRequest
  ) => Effect.Effect<{
    readonly granted: boolean
    readonly headers: Record<string, string>
    readonly retryAfterSeconds: number
    readonly release: Effect.Effect<void>
  }>
}

const makeLimiter = (options: HttpRateLimit.Options): Effect.Effect<Limiter, Rate.InvalidRateError, Scope.Scope> =>
  Effect.suspend(() => {
    const o = options ?? ({} as HttpRateLimit.Options)
    const problem = (o.key === undefined ? undefined : check.fn(o.key, "key")) ??
      (o.policy === undefined ? undefined : check.string(o.policy, "policy", true)) ??
      (o.throttle === undefined && o.rate === undefined
        ? check.expected("a rate or a throttle", undefined)
        : undefined) ??
      (o.throttle === undefined || throttles.isGiven(o.throttle)
        ? undefined
        : check.expected("throttle to be a Throttle or a KeyedThrottle", o.throttle)) ??
      (o.throttle !== undefined && o.rate !== undefined
        ? check.expected("either throttle or rate, not both", "both")
        : undefined)
    if (problem !== undefined) return check.die(problem)
    const keyOf = o.key ?? defaultKey
    const policy = o.policy ?? "default"
    const source = o.throttle !== undefined
      ? Effect.succeed(throttles.fromGiven(o.throttle))
      : throttles.fromRate(o.rate!, { name: "http-server", ...o.options }, o.idleTimeToLive)
    return Effect.map(source, (throttleOf): Limiter => ({
      // The key's throttle is held (kept from being dropped as idle) by a scope of our own until the release, not
      // by the request's scope: an app's response may outlive neither, but the release must come first.
      decide: (request) =>
        Effect.orDie(Effect.flatMap(Scope.make(), (scope) =>
          Effect.onError(
            Effect.gen(function*() {
              const throttle = yield* Scope.extend(throttleOf(keyOf(request)), scope)
              const decision = yield* throttle.attempt(1)
              const window = throttle.rates.find((rate) => rate.limit === decision.limit) ?? throttle.rate
              const numbers: core.DecisionNumbers = {
                granted: decision.granted,
                limit: decision.limit,
                remaining: decision.remaining,
                retryAfter: Duration.toMillis(decision.retryAfter),
                resetAfter: Duration.toMillis(decision.resetAfter)
              }
              const close = Scope.close(scope, Exit.void)
              return {
                granted: decision.granted,
                headers: core.responseHeaders(policy, Duration.toMillis(window.period), numbers),
                retryAfterSeconds: Math.max(1, core.ceilSeconds(numbers.retryAfter)),
                release: decision.granted ? Effect.ensuring(Effect.ignore(throttle.release(1)), close) : close
              }
            }),
            (cause) => Scope.close(scope, Exit.failCause(cause))
          )))
    }))
  })

/** The 429 answer. */
export const tooManyRequests = (headers: Record<string, string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text("Too Many Requests", { status: 429, headers })

/**
 * The middleware for an `HttpApp` / `HttpRouter`; see `HttpRateLimit.middleware`. The headers are set on the
 * app's response and, for a middleware given to `HttpServer.serve` (which sends the response before the
 * middleware sees it), by a pre-response handler, as `HttpMiddleware.cors` does.
 */
export const middleware = (
  options: HttpRateLimit.Options
): Effect.Effect<HttpRateLimit.Middleware, Rate.InvalidRateError, Scope.Scope> =>
  Effect.map(makeLimiter(options), (limiter): HttpRateLimit.Middleware => <E, R>(app: HttpApp.Default<E, R>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(limiter.decide(request), (decided) => {
          if (!decided.granted) return Effect.as(decided.release, tooManyRequests(decided.headers))
          const withHeaders = (response: HttpServerResponse.HttpServerResponse) =>
            HttpServerResponse.setHeaders(response, decided.headers)
          return Effect.ensuring(
            Effect.zipRight(
              HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(withHeaders(response))),
              Effect.map(restore(app), withHeaders)
            ),
            decided.release
          )
        })
      )))

/** The failure of a request refused by the `HttpApi` middleware: answered 429. */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()(
  "TooManyRequests",
  { retryAfter: Schema.Number },
  HttpApiSchema.annotations({ status: 429 })
) {
  override get message(): string {
    return `Too many requests: retry after ${this.retryAfter} s`
  }
}

/** The `HttpApi` middleware tag. */
export class HttpRateLimitApi extends HttpApiMiddleware.Tag<HttpRateLimitApi>()("effect-throttles/HttpRateLimit", {
  failure: TooManyRequests
}) {}

/** The implementation of {@link HttpRateLimitApi}; see `HttpRateLimit.apiLayer`. */
export const apiLayer = (
  options: HttpRateLimit.Options
): Layer.Layer<HttpRateLimitApi, Rate.InvalidRateError> =>
  Layer.scoped(
    HttpRateLimitApi,
    Effect.map(makeLimiter(options), (limiter) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.flatMap(
          // the release is installed on the request's scope in the same uninterruptible step as the decision
          Effect.uninterruptible(
            Effect.tap(limiter.decide(request), (decided) =>
              decided.granted ? finalizer.add(decided.release) : decided.release)
          ),
          (decided) =>
            Effect.zipRight(
              HttpApp.appendPreResponseHandler((_, response) =>
                Effect.succeed(HttpServerResponse.setHeaders(response, decided.headers))
              ),
              decided.granted ? Effect.void : Effect.fail(new TooManyRequests({ retryAfter: decided.retryAfterSeconds }))
            )
        ))) as any
  )
