import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { main as githubClient } from "../../examples/github-client.js"
import { main as server } from "../../examples/server.js"

describe("examples/github-client.ts and examples/server.ts run and exit by themselves", () => {
  it.live("github-client: every repo fetched, no 429 (the first response told the quota)", () =>
    Effect.gen(function*() {
      const result = yield* githubClient
      expect(result.fetched).toBe(result.sent)
      expect(result.rejected).toBe(0)
    }), 30_000)

  it.live("server: 3 × 200 then 2 × 429 with the headers, and 200 again a second later", () =>
    Effect.gen(function*() {
      expect(yield* server).toEqual([
        `200  RateLimit: "default";r=2;t=1  RateLimit-Policy: "default";q=3;w=1`,
        `200  RateLimit: "default";r=1;t=1  RateLimit-Policy: "default";q=3;w=1`,
        `200  RateLimit: "default";r=0;t=1  RateLimit-Policy: "default";q=3;w=1`,
        `429  RateLimit: "default";r=0;t=1  RateLimit-Policy: "default";q=3;w=1  Retry-After: 1`,
        `429  RateLimit: "default";r=0;t=1  RateLimit-Policy: "default";q=3;w=1  Retry-After: 1`,
        `200  RateLimit: "default";r=2;t=1  RateLimit-Policy: "default";q=3;w=1`
      ])
    }), 30_000)
})
