/**
 * `ThrottledHttpClient`: an `HttpClient` whose requests go through a throttle per key (by default the URL's host)
 * and which obeys what servers say — `Retry-After`, `RateLimit`, `X-RateLimit-*` — by pausing the key.
 *
 * One request, one attempt after the other:
 * 1. the key's throttle grants a permit (it waits while the key is paused, by `Throttle.pause`);
 * 2. with `adaptive`, the key's `DynamicThrottle` admits it at its current rate;
 * 3. the local gate holds it while a pause learnt meanwhile is still running (a request admitted just before a
 *    pause began is not sent into it), and while the allowance the server told (`remaining` before `reset`, less
 *    the requests in flight) is used up; then it is sent;
 * 4. the answer is read before the permit is given back: a throttled status pauses the key for what the headers
 *    say (or `DEFAULT_PAUSE_MILLIS`) and the request is tried again, up to `maxRetries` times; a success that says
 *    nothing remains pauses the key until the reset; `remaining` / `reset` update the allowance.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as DynamicThrottle from "../DynamicThrottle.js"
import type { HttpRateLimitedError as HttpRateLimitedErrorType, ThrottledHttpClient } from "../http.js"
import * as Rate from "../Rate.js"
import type { Throttle } from "../Throttle.js"
import * as finalizer from "./finalizer.js"
import * as check from "./options.js"
import * as core from "./httpHeadersCore.js"
import { HttpRateLimitedError } from "./httpErrors.js"
import { validate as validateDynamic } from "./dynamicThrottle.js"
import * as throttles from "./httpThrottles.js"
import { type Timed, TimerHeap } from "./keyedThrottleCore.js"

/** The pause after a throttled answer that says nothing about when to come back. */
export const DEFAULT_PAUSE_MILLIS = 1000

/** The default key: the URL's host (with a non-default port). */
export const defaultKey = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    return new URL(request.url).host
  } catch {
    return request.url
  }
}

/** Statuses treated as "throttled" by default. */
export const DEFAULT_RETRY_ON: ReadonlyArray<number> = [429, 503]

/** A throttled answer inside the adaptive throttle's permit (its failure outcome). */
class Throttled {
  constructor(readonly response: HttpClientResponse.HttpClientResponse, readonly wait: number) {}
}

/**
 * Per-key state of this client: the local pause gate and the adaptive throttle. A key's state is dropped once
 * nothing of it is in use or pending — no request of the key running, its pause over, the told allowance past its
 * reset — and that has lasted `idleTimeToLive` (what the adaptive throttle learnt goes with it), so a client that
 * meets many hosts (a crawler) keeps memory bounded by the hosts in use.
 */
interface KeyState extends Timed {
  readonly key: string
  /** Requests of this key between their start and their end (retries included). */
  active: number
  /** When the last request of the key ended (meaningful while `active` is 0). */
  idleSince: number
  pausedUntil: number
  /** What the server said may still be sent before its quota resets. */
  budget: core.Budget
  /** Requests sent and not yet answered. */
  inFlight: number
  lastCutAt: number
  dynamic: DynamicThrottle.DynamicThrottle.Service | undefined
}

/** The fastest of a throttle's windows, in requests per second. */
const perSecond = (rates: ReadonlyArray<Rate.Rate>): number =>
  Math.max(...rates.map((rate) => rate.limit / (Duration.toMillis(rate.period) / 1000)))

/** The adaptive defaults for HTTP: cut once per overload episode, probe upwards every 10 clean answers. */
export const adaptiveOptions = (
  user: Partial<DynamicThrottle.DynamicThrottle.Options>,
  keyRate: number | undefined
): DynamicThrottle.DynamicThrottle.Options => {
  const initialRate = user.initialRate ?? keyRate ?? 10
  return {
    window: 10,
    upperBound: 0.9,
    lowerBound: 0,
    increaseFactor: 1.2,
    decreaseFactor: 0.7,
    jitter: 0.1,
    ...user,
    initialRate,
    minRate: user.minRate ?? Math.min(0.1, initialRate),
    maxRate: user.maxRate ?? Math.max(initialRate, keyRate ?? 1000),
    isFailure: (error) => error instanceof Throttled
  }
}

/** The probe of how many keys a client keeps state for (for tests): `keyStates(client)`. */
const KeyStates: unique symbol = Symbol.for("effect-throttles/ThrottledHttpClient/KeyStates") as never

/** How many keys a client made by `wrap` keeps state for; `undefined` for another client. */
export const keyStates = (client: HttpClient.HttpClient.With<unknown, unknown>): number | undefined => {
  const probe = (client as unknown as { readonly [KeyStates]?: () => number })[KeyStates]
  return probe === undefined ? undefined : probe()
}

interface Resolved {
  readonly keyOf: (request: HttpClientRequest.HttpClientRequest) => string
  /** How long a key's state outlives its last use (ms). */
  readonly idleTimeToLive: number
  readonly retryOn: ReadonlySet<number>
  readonly maxRetries: number
  readonly adaptive: Partial<DynamicThrottle.DynamicThrottle.Options> | undefined
  readonly name: string
  /** Whether a key's throttle carries a rate of the user's (not only `maxConcurrent`): it then seeds `adaptive`. */
  readonly ratedKeys: boolean
}

const validate = (options: ThrottledHttpClient.Options): Resolved | string => {
  const o = options ?? {}
  const problem = (o.key === undefined ? undefined : check.fn(o.key, "key")) ??
    (o.maxRetries === undefined ? undefined : check.int(o.maxRetries, "maxRetries", 0)) ??
    (o.maxConcurrent === undefined ? undefined : check.int(o.maxConcurrent, "maxConcurrent", 1)) ??
    (o.measure === undefined ? undefined : check.oneOf(o.measure, "measure", ["start", "release"])) ??
    (o.retryOn === undefined || (Array.isArray(o.retryOn) && o.retryOn.every((s) => Number.isInteger(s)))
      ? undefined
      : check.expected("retryOn to be an array of status codes", o.retryOn)) ??
    (o.adaptive === undefined || typeof o.adaptive === "boolean" ||
        (typeof o.adaptive === "object" && o.adaptive !== null)
      ? undefined
      : check.expected("adaptive to be a boolean or DynamicThrottle options", o.adaptive)) ??
    (o.throttle === undefined || throttles.isGiven(o.throttle)
      ? undefined
      : check.expected("throttle to be a Throttle or a KeyedThrottle", o.throttle)) ??
    (o.throttle !== undefined && (o.rate !== undefined || o.maxConcurrent !== undefined)
      ? check.expected("either throttle or rate/maxConcurrent, not both", "both")
      : undefined)
  if (problem !== undefined) return problem
  const idleTimeToLive = check.duration(o.idleTimeToLive ?? "1 minute", "idleTimeToLive", {
    allowZero: true,
    allowInfinite: true
  })
  if (typeof idleTimeToLive === "string") return idleTimeToLive
  const adaptive = o.adaptive === undefined || o.adaptive === false ? undefined : o.adaptive === true ? {} : o.adaptive
  if (adaptive !== undefined) {
    // checked once here, with the defaults a key without a rate gets (a key's own rate only moves the defaults)
    const checked = validateDynamic(adaptiveOptions(adaptive, undefined))
    if (checked._tag === "Invalid") return checked.message.replace("Expected ", "Expected adaptive.")
  }
  return {
    keyOf: o.key ?? defaultKey,
    idleTimeToLive: Duration.toMillis(idleTimeToLive),
    retryOn: new Set(o.retryOn ?? DEFAULT_RETRY_ON),
    maxRetries: o.maxRetries ?? 3,
    adaptive,
    name: o.name ?? "http",
    ratedKeys: o.rate !== undefined || o.throttle !== undefined
  }
}

const throttleSource = (
  options: ThrottledHttpClient.Options
): Effect.Effect<
  (key: string) => Effect.Effect<Throttle.Service<unknown> | undefined, unknown, Scope.Scope>,
  Rate.InvalidRateError,
  Scope.Scope
> => {
  if (options.throttle !== undefined) return Effect.succeed(throttles.fromGiven(options.throttle))
  const rate = options.rate
  if (rate === undefined && options.maxConcurrent === undefined) return Effect.succeed(() => Effect.succeed(undefined))
  // Without a rate, `maxConcurrent` alone caps each key: a window too wide to ever be the limit.
  return throttles.fromRate(
    rate ?? { limit: Number.MAX_SAFE_INTEGER, period: Duration.seconds(1) },
    {
      measure: options.measure ?? "release",
      ...(options.maxConcurrent === undefined ? {} : { maxConcurrent: options.maxConcurrent }),
      name: options.name ?? "http"
    },
    options.idleTimeToLive
  )
}

const requestError = (request: HttpClientRequest.HttpClientRequest, key: string) => (cause: unknown) =>
  new HttpClientError.RequestError({
    request,
    reason: "Transport",
    cause,
    description: `the throttle of key ${JSON.stringify(key)} failed: ${
      typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)
    }`
  })

/** Wraps one client; see `ThrottledHttpClient.wrap`. */
export const wrap = (options: ThrottledHttpClient.Options) =>
<E, R>(
  client: HttpClient.HttpClient.With<E, R>
): Effect.Effect<
  HttpClient.HttpClient.With<E | HttpClientError.RequestError | HttpClientError.ResponseError, R>,
  Rate.InvalidRateError,
  Scope.Scope
> =>
  Effect.suspend(() => {
    const resolved = validate(options)
    if (typeof resolved === "string") return check.die(resolved)
    return Effect.map(throttleSource(options), (throttleOf) => {
      const states = new Map<string, KeyState>()
      // Idle keys by the time to look at them again. A key's time never moves earlier, so a key that is used again,
      // or whose pause grew, is not re-timed on the hot path: it is looked at when its old time comes, and queued
      // again for its new time if it must stay (one heap operation per key per idle period).
      const idle = new TimerHeap<KeyState>()
      const droppableAt = (state: KeyState): number =>
        Math.max(state.idleSince + resolved.idleTimeToLive, state.pausedUntil, state.budget.until)
      const sweep = (now: number): void => {
        for (let next = idle.peek(); next !== undefined && next.heapTime <= now; next = idle.peek()) {
          idle.pop()
          if (next.active > 0) continue // in use: queued again when its last request ends
          const at = droppableAt(next)
          if (at <= now) states.delete(next.key)
          else idle.push(next, at)
        }
      }
      const enter = (key: string, now: number): KeyState => {
        sweep(now)
        let state = states.get(key)
        if (state === undefined) {
          state = {
            key,
            active: 0,
            idleSince: now,
            heapIndex: -1,
            heapTime: 0,
            pausedUntil: Number.NEGATIVE_INFINITY,
            budget: core.unknownBudget,
            inFlight: 0,
            lastCutAt: Number.NEGATIVE_INFINITY,
            dynamic: undefined
          }
          states.set(key, state)
        }
        state.active++
        return state
      }
      const leave = (state: KeyState, now: number): void => {
        if (--state.active > 0) return
        state.idleSince = now
        if (state.heapIndex < 0 && resolved.idleTimeToLive !== Number.POSITIVE_INFINITY) idle.push(state, droppableAt(state))
      }
      const dynamicOf = (
        state: KeyState,
        throttle: Throttle.Service<unknown> | undefined
      ): Effect.Effect<DynamicThrottle.DynamicThrottle.Service | undefined> => {
        if (resolved.adaptive === undefined) return Effect.succeed(undefined)
        if (state.dynamic !== undefined) return Effect.succeed(state.dynamic)
        const keyRate = throttle === undefined || !resolved.ratedKeys ? undefined : perSecond(throttle.rates)
        return Effect.tap(
          DynamicThrottle.make({ name: resolved.name, ...adaptiveOptions(resolved.adaptive, keyRate) }),
          (dynamic) => Effect.sync(() => (state.dynamic = dynamic))
        )
      }

      // The local gate: wait out a pause that began after this request was admitted, and the end of a window
      // whose quota the server said is used up; then take one from the allowance.
      const gate = (state: KeyState): Effect.Effect<void> =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (state.pausedUntil > now) {
            return Effect.zipRight(Effect.sleep(Duration.millis(state.pausedUntil - now)), gate(state))
          }
          const admitted = core.admit(state.budget, now)
          if (admitted.send === undefined) {
            return Effect.zipRight(Effect.sleep(Duration.millis(admitted.wait)), gate(state))
          }
          state.budget = admitted.send
          return Effect.void
        })

      const execute = (
        send: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
        request: HttpClientRequest.HttpClientRequest
      ): Effect.Effect<
        HttpClientResponse.HttpClientResponse,
        E | HttpClientError.RequestError | HttpClientError.ResponseError,
        R
      > => {
        const key = resolved.keyOf(request)
        const toRequestError = requestError(request, key)
        return Effect.scoped(
          Effect.gen(function*() {
            // (the release reads the clock taken here: it goes straight to the scope, see finalizer.ts)
            const clock = yield* Effect.clock
            const state = yield* finalizer.acquireRelease(
              Effect.sync(() => enter(key, clock.unsafeCurrentTimeMillis())),
              (state) => Effect.sync(() => leave(state, clock.unsafeCurrentTimeMillis()))
            )
            const throttle = yield* Effect.mapError(throttleOf(key), toRequestError)
            const dynamic = yield* dynamicOf(state, throttle)

            const pauseKey = (wait: number, now: number) =>
              Effect.suspend(() => {
                state.pausedUntil = Math.max(state.pausedUntil, now + wait)
                return throttle === undefined || wait <= 0
                  ? Effect.void
                  : Effect.mapError(throttle.pause(Duration.millis(wait)), toRequestError)
              })

            // Reads the answer, pausing the key before the permit is given back.
            // `askedAt`: when the request asked the adaptive throttle for admission; its slot was reserved at the
            // rate in force then, so only requests that asked after the last cut can tell of a new overload.
            const classify = (response: HttpClientResponse.HttpClientResponse, askedAt: number) =>
              Effect.gen(function*() {
                const now = yield* Clock.currentTimeMillis
                const info = core.parse(response.headers, now)
                state.budget = core.learn(state.budget, info, now, state.inFlight)
                if (resolved.retryOn.has(response.status)) {
                  const wait = core.throttledWait(info) ?? DEFAULT_PAUSE_MILLIS
                  yield* pauseKey(wait, now)
                  if (dynamic !== undefined) {
                    // one cut per overload episode: answers to requests sent before the last cut only pause
                    const episode = askedAt >= state.lastCutAt
                    const before = yield* dynamic.rate
                    yield* dynamic.reportThrottled(Duration.millis(wait))
                    if (episode) state.lastCutAt = now
                    else yield* dynamic.setRate(before)
                  }
                  return yield* Effect.fail(new Throttled(response, wait))
                }
                const hold = core.exhaustedWait(info)
                if (hold !== undefined) yield* pauseKey(hold, now)
                return response
              })

            const once = (askedAt: number) =>
              Effect.zipRight(
                gate(state),
                Effect.flatMap(
                  Effect.acquireUseRelease(
                    Effect.sync(() => state.inFlight++),
                    () => send,
                    () => Effect.sync(() => state.inFlight--)
                  ),
                  (response) => classify(response, askedAt)
                )
              )
            const paced = Effect.flatMap(
              Clock.currentTimeMillis,
              (askedAt) => dynamic === undefined ? once(askedAt) : dynamic.withPermit(once(askedAt))
            )
            const permitted = throttle === undefined
              ? paced
              : Effect.flatten(Effect.mapError(
                throttle.withPermit(Effect.exit(paced)),
                toRequestError
              ))

            for (let attempts = 1;; attempts++) {
              const result = yield* Effect.either(
                permitted as Effect.Effect<
                  HttpClientResponse.HttpClientResponse,
                  E | Throttled | HttpClientError.RequestError,
                  R
                >
              )
              if (result._tag === "Right") return result.right
              const error = result.left
              if (!(error instanceof Throttled)) return yield* Effect.fail(error)
              if (attempts > resolved.maxRetries) {
                const cause: HttpRateLimitedErrorType = new HttpRateLimitedError({
                  key,
                  status: error.response.status,
                  retryAfter: Duration.millis(error.wait),
                  attempts
                })
                return yield* Effect.fail(
                  new HttpClientError.ResponseError({
                    request,
                    response: error.response,
                    reason: "StatusCode",
                    cause,
                    description: cause.message
                  })
                )
              }
              // the throttled answer is dropped: read its body so the connection can be reused
              yield* Effect.ignore(error.response.arrayBuffer)
            }
          })
        )
      }

      const throttled = HttpClient.transform(client, execute)
      Object.defineProperty(throttled, KeyStates, { value: () => states.size })
      return throttled
    })
  })

/** The layer form; see `ThrottledHttpClient.layer`. */
export const layer = (
  options: ThrottledHttpClient.Options
): Layer.Layer<HttpClient.HttpClient, Rate.InvalidRateError, HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, Effect.flatMap(HttpClient.HttpClient, (client) => wrap(options)(client)))
