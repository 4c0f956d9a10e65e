import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { HttpRateLimit } from "effect-throttles/http"

class Items extends HttpApiGroup.make("items")
  .add(HttpApiEndpoint.get("list", "/items").addSuccess(Schema.Array(Schema.String)))
  .middleware(HttpRateLimit.Api)
{}

class Api extends HttpApi.make("api").add(Items) {}

const ItemsLive = HttpApiBuilder.group(Api, "items", (handlers) => handlers.handle("list", () => Effect.succeed(["a"])))

describe("HttpRateLimit.Api (HttpApi middleware)", () => {
  it.live("2/10s per API key: 200, 200, then 429 with Retry-After and the RateLimit headers; keys independent", () =>
    Effect.gen(function*() {
      const ApiLive = HttpApiBuilder.api(Api).pipe(
        Layer.provide(ItemsLive),
        Layer.provide(HttpRateLimit.apiLayer({ rate: "2/10s", key: (request) => request.headers["x-api-key"] ?? "" }))
      )
      const { dispose, handler } = HttpApiBuilder.toWebHandler(Layer.mergeAll(ApiLive, HttpServer.layerContext))
      try {
        const send = (key: string) =>
          Effect.promise(() => handler(new Request("http://localhost/items", { headers: { "x-api-key": key } })))
        const responses = yield* Effect.forEach(["k1", "k1", "k1", "k2"], send)
        expect(responses.map((r) => r.status)).toEqual([200, 200, 429, 200])
        expect(responses.map((r) => r.headers.get("ratelimit"))).toEqual([
          `"default";r=1;t=10`,
          `"default";r=0;t=10`,
          `"default";r=0;t=10`,
          `"default";r=1;t=10`
        ])
        expect(responses[0]!.headers.get("ratelimit-policy")).toBe(`"default";q=2;w=10`)
        expect(responses[0]!.headers.get("retry-after")).toBeNull()
        expect(Number(responses[2]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(9)
        expect(yield* Effect.promise(() => responses[2]!.json())).toMatchObject({ _tag: "TooManyRequests" })
      } finally {
        yield* Effect.promise(dispose)
      }
    }))

  it.live("the permit goes back when the request's scope closes (maxConcurrent 1: one request after another)", () =>
    Effect.gen(function*() {
      const ApiLive = HttpApiBuilder.api(Api).pipe(
        Layer.provide(ItemsLive),
        Layer.provide(HttpRateLimit.apiLayer({ rate: "1000/s", options: { maxConcurrent: 1 } }))
      )
      const { dispose, handler } = HttpApiBuilder.toWebHandler(Layer.mergeAll(ApiLive, HttpServer.layerContext))
      try {
        const send = Effect.promise(() => handler(new Request("http://localhost/items")))
        // each request holds the one permit until its response is produced; kept, the second would be refused
        const statuses = yield* Effect.forEach([1, 2, 3], () => Effect.map(send, (r) => r.status))
        expect(statuses).toEqual([200, 200, 200])
      } finally {
        yield* Effect.promise(dispose)
      }
    }))
})
