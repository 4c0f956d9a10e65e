/**
 * The `Redis` tag (an ioredis client or Cluster) and its layers.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import type { Client } from "./redisStore.js"

/** The tag of the Redis connection the Redis backends use. */
export class Redis extends Context.Tag("effect-throttles/redis/Redis")<Redis, Client>() {}

/** Options of `Redis.layer`: ioredis' options, with an optional `url`. */
export type LayerOptions = string | (RedisOptions & { readonly url?: string | undefined })

/**
 * Waits while the client is connecting, until it is ready, or has failed once, or `timeoutMillis` passed (the
 * throttles' `onStoreError` handles a dead server). A client between two attempts to reconnect (its server went
 * away) is not waited for: the policy applies at once (a keyed throttle makes throttles for new keys during an
 * outage, each of which would otherwise wait for the next attempt, up to `storeTimeout`).
 */
export const settled = (client: Client, timeoutMillis: number = Number.POSITIVE_INFINITY): Promise<void> =>
  client.status !== "connecting" && client.status !== "connect"
    ? Promise.resolve()
    : new Promise((resolve) => {
      const done = () => {
        client.off("ready", done)
        client.off("error", done)
        if (timer !== undefined) clearTimeout(timer)
        resolve()
      }
      const timer = Number.isFinite(timeoutMillis) ? setTimeout(done, timeoutMillis) : undefined
      client.once("ready", done)
      client.once("error", done)
    })

/**
 * A client we own: connected when the layer is built (a server that is down does not fail the layer: the
 * throttles' `onStoreError` applies), closed with the layer. The offline queue is off, so a command is never
 * queued while disconnected to run after its caller gave up.
 */
export const layer = (options: LayerOptions): Layer.Layer<Redis> =>
  Layer.scoped(
    Redis,
    Effect.acquireRelease(
      Effect.promise(async () => {
        const { url, ...rest } = typeof options === "string" ? { url: options } : options
        const merged: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...rest }
        const client = url === undefined ? new IORedis(merged) : new IORedis(url, merged)
        // errors are reported to the throttles through their calls; keep the process alive
        client.on("error", () => {})
        await settled(client)
        return client as Client
      }),
      (client) => Effect.promise(() => client.quit().then(() => {}, () => client.disconnect()))
    )
  )

/** An existing client (a `Redis` or a `Cluster`), not closed by us. */
export const layerFromClient = (client: Client): Layer.Layer<Redis> => Layer.succeed(Redis, client)
