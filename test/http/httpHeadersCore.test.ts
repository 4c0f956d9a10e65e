import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as core from "../../src/internal/httpHeadersCore.js"

// 2026-11-25T12:00:00Z
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0)

describe("httpHeadersCore: Retry-After", () => {
  it.each([
    ["0", 0],
    ["1", 1000],
    ["120", 120_000],
    [" 5 ", 5000],
    ["Wed, 25 Nov 2026 12:00:03 GMT", 3000],
    ["wed, 25 nov 2026 12:00:03 gmt", 3000],
    ["Wednesday, 25-Nov-26 12:00:07 GMT", 7000],
    ["Wed Nov 25 12:01:00 2026", 60_000],
    ["Wed Nov  5 12:00:00 2026", 0], // asctime, a date in the past: no wait
    ["Wed, 25 Nov 2026 11:59:00 GMT", 0]
  ])("%j → %d ms", (value, expected) => {
    expect(core.parseRetryAfter(value, NOW)).toBe(expected)
  })

  it.each([
    "",
    "-1",
    "1.5",
    "1e3",
    "soon",
    "0x10",
    "Wed, 31 Feb 2026 12:00:00 GMT",
    "Wed, 25 Nov 2026 25:00:00 GMT",
    "Wed, 25 Nov 2026 12:00:00 UTC",
    "Wed, 25 Nov 2026 12:00:00",
    "25 Nov 2026 12:00:00 GMT",
    "Wed, 25 Foo 2026 12:00:00 GMT"
  ])("malformed %j is ignored", (value) => {
    expect(core.parseRetryAfter(value, NOW)).toBeUndefined()
  })

  it("an HTTP-date is measured against the response's Date header (client clock skew does not matter)", () => {
    const skewedClient = NOW + 3_600_000 // the client's clock is an hour ahead
    const info = core.parse(
      { "date": "Wed, 25 Nov 2026 12:00:00 GMT", "retry-after": "Wed, 25 Nov 2026 12:00:02 GMT" },
      skewedClient
    )
    expect(info.retryAfter).toBe(2000)
  })

  it("formatHttpDate round-trips through parseHttpDate", () => {
    expect(core.formatHttpDate(NOW + 5000)).toBe("Wed, 25 Nov 2026 12:00:05 GMT")
    expect(core.parseHttpDate(core.formatHttpDate(NOW + 5000), NOW)).toBe(NOW + 5000)
  })
})

describe("httpHeadersCore: structured-field lists", () => {
  it("parses strings, tokens, numbers, booleans, byte sequences and parameters", () => {
    const items = core.parseList(`"default";r=5;t=30, "burst";q=1.5;pk=:YWJj:, tok;flag;n=-3;b=?0`)!
    expect(items).toHaveLength(3)
    expect(items[0]!.value).toBe("default")
    expect([...items[0]!.params]).toEqual([["r", 5], ["t", 30]])
    expect([...items[1]!.params]).toEqual([["q", 1.5], ["pk", { bytes: "YWJj" }]])
    expect(items[2]!.value).toEqual({ token: "tok" })
    expect([...items[2]!.params]).toEqual([["flag", true], ["n", -3], ["b", false]])
  })

  it("unescapes strings", () => {
    expect(core.parseList(`"a\\"b\\\\c"`)![0]!.value).toBe(`a"b\\c`)
  })

  it.each([
    `"default";r=`,
    `"default",`,
    `"unterminated`,
    `"default";R=1`,
    `"default" "other"`,
    `(inner list)`,
    `"default";r=1234567890123456`,
    `"bad\\x"`
  ])("rejects %j", (value) => {
    expect(core.parseList(value)).toBeUndefined()
  })
})

describe("httpHeadersCore: structured-field dictionaries", () => {
  it("parses members with values, bare keys (true) and parameters; a later duplicate wins", () => {
    const members = core.parseDictionary(`limit=100, remaining=25;w=60, flag, reset=3, reset=4`)!
    expect([...members.keys()]).toEqual(["limit", "remaining", "flag", "reset"])
    expect(members.get("limit")!.value).toBe(100)
    expect([...members.get("remaining")!.params]).toEqual([["w", 60]])
    expect(members.get("flag")!.value).toBe(true)
    expect(members.get("reset")!.value).toBe(4)
  })

  it.each([`limit=`, `limit=1,`, `Limit=1`, `limit=1 remaining=2`, `limit=(1 2)`, `"quoted"=1`])(
    "rejects %j",
    (value) => {
      expect(core.parseDictionary(value)).toBeUndefined()
    }
  )
})

describe("httpHeadersCore: parse (what a response says)", () => {
  const cases: ReadonlyArray<
    readonly [string, Record<string, string>, Partial<core.RateLimitInfo>]
  > = [
    ["nothing", {}, { retryAfter: undefined, limit: undefined, remaining: undefined, reset: undefined }],
    [
      "current draft: RateLimit + RateLimit-Policy",
      { "ratelimit": `"default";r=0;t=30`, "ratelimit-policy": `"default";q=100;w=60` },
      { limit: 100, remaining: 0, reset: 30_000 }
    ],
    [
      "current draft: several policies, the one with the fewest remaining decides",
      {
        "ratelimit": `"hour";r=4000;t=3000, "second";r=0;t=1`,
        "ratelimit-policy": `"hour";q=5000;w=3600, "second";q=10;w=1`
      },
      { limit: 10, remaining: 0, reset: 1000 }
    ],
    [
      "current draft: equal remaining, the later reset decides",
      { "ratelimit": `"a";r=0;t=2, "b";r=0;t=9` },
      { limit: undefined, remaining: 0, reset: 9000 }
    ],
    [
      "current draft: an item without r is skipped",
      { "ratelimit": `"a";t=2, "b";r=3;t=4` },
      { remaining: 3, reset: 4000 }
    ],
    [
      "draft 07's combined dictionary (express-rate-limit draft-7)",
      { "ratelimit": "limit=100, remaining=0, reset=33", "ratelimit-policy": "100;w=60" },
      { limit: 100, remaining: 0, reset: 33_000 }
    ],
    [
      "draft 07's dictionary without reset or limit",
      { "ratelimit": "remaining=4" },
      { limit: undefined, remaining: 4, reset: undefined }
    ],
    [
      "draft 07's dictionary with a bad remaining: as if absent",
      { "ratelimit": "limit=100, remaining=-1, reset=3" },
      { limit: undefined, remaining: undefined, reset: undefined }
    ],
    [
      "older trio",
      { "ratelimit-limit": "10", "ratelimit-remaining": "0", "ratelimit-reset": "7" },
      { limit: 10, remaining: 0, reset: 7000 }
    ],
    [
      "older trio with draft-03 policies after the number",
      { "ratelimit-limit": "10, 10;w=1", "ratelimit-remaining": "3", "ratelimit-reset": "1" },
      { limit: 10, remaining: 3, reset: 1000 }
    ],
    [
      "GitHub: X-RateLimit-Reset in epoch seconds",
      {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(NOW / 1000 + 42)
      },
      { limit: 5000, remaining: 0, reset: 42_000 }
    ],
    [
      "X-RateLimit-Reset as delta-seconds (below 10^9)",
      { "x-ratelimit-remaining": "2", "x-ratelimit-reset": "60" },
      { remaining: 2, reset: 60_000 }
    ],
    [
      "X-RateLimit-Reset in epoch milliseconds (10^12 and above)",
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW + 1500) },
      { remaining: 0, reset: 1500 }
    ],
    [
      "X-RateLimit-Reset in the past: no wait",
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 - 10) },
      { remaining: 0, reset: 0 }
    ],
    [
      "several forms: the most restrictive decides (GitHub's hourly X-RateLimit beside a per-second RateLimit)",
      {
        "ratelimit": `"second";r=0;t=1`,
        "ratelimit-policy": `"second";q=5;w=1`,
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": String(NOW / 1000 + 3600)
      },
      { limit: 5, remaining: 0, reset: 1000 }
    ],
    [
      "several forms: the hourly one decides when it is the tighter",
      {
        "ratelimit": `"second";r=4;t=1`,
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(NOW / 1000 + 3600)
      },
      { limit: 5000, remaining: 0, reset: 3_600_000 }
    ],
    [
      "draft 07's dictionary without a reset beside the trio: as many remaining, the trio's later reset decides",
      { "ratelimit": "limit=10, remaining=0", "ratelimit-remaining": "0", "ratelimit-reset": "3" },
      { remaining: 0, reset: 3000 }
    ],
    [
      "a malformed RateLimit falls back to the trio",
      { "ratelimit": "limit=10,, remaining=0", "ratelimit-remaining": "0", "ratelimit-reset": "3" },
      { limit: undefined, remaining: 0, reset: 3000 }
    ],
    [
      "malformed values everywhere are ignored",
      {
        "retry-after": "later",
        "ratelimit": `"default";r=-1;t=5`,
        "ratelimit-remaining": "none",
        "x-ratelimit-remaining": "1.5",
        "x-ratelimit-reset": "tomorrow"
      },
      { retryAfter: undefined, limit: undefined, remaining: undefined, reset: undefined }
    ],
    [
      "a remaining without a valid reset keeps the remaining",
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "-5" },
      { remaining: 0, reset: undefined }
    ]
  ]
  it.each(cases)("%s", (_, headers, expected) => {
    expect(core.parse(headers, NOW)).toMatchObject(expected)
  })
})

describe("httpHeadersCore: what the client does with it", () => {
  it.each([
    [{ retryAfter: 2000, limit: undefined, remaining: 0, reset: 9000 }, 2000],
    [{ retryAfter: undefined, limit: undefined, remaining: 0, reset: 9000 }, 9000],
    [{ retryAfter: undefined, limit: undefined, remaining: undefined, reset: undefined }, undefined]
  ])("throttledWait(%j) = %j: Retry-After first, then the reset", (info, expected) => {
    expect(core.throttledWait(info)).toBe(expected)
  })

  it.each([
    [{ retryAfter: undefined, limit: 10, remaining: 0, reset: 3000 }, 3000],
    [{ retryAfter: undefined, limit: 10, remaining: 1, reset: 3000 }, undefined],
    [{ retryAfter: undefined, limit: 10, remaining: 0, reset: undefined }, undefined],
    [{ retryAfter: undefined, limit: 10, remaining: 0, reset: 0 }, undefined]
  ])("exhaustedWait(%j) = %j: only nothing remaining with a reset to come", (info, expected) => {
    expect(core.exhaustedWait(info)).toBe(expected)
  })
})

describe("httpHeadersCore: what the server says", () => {
  it.each([
    [0, 0],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1000.25, 1], // the live throttle's timer guard
    [1000.5, 1],
    [1000.6, 2],
    [1001, 2],
    [0.1 + 0.2, 0],
    [0.6, 1]
  ])("ceilSeconds(%d ms) = %d", (millis, seconds) => {
    expect(core.ceilSeconds(millis)).toBe(seconds)
  })

  it("admitted: RateLimit and RateLimit-Policy, no Retry-After", () => {
    expect(
      core.responseHeaders("default", 1000, {
        granted: true,
        limit: 3,
        remaining: 2,
        retryAfter: 0,
        resetAfter: 1000
      })
    ).toEqual({ "ratelimit": `"default";r=2;t=1`, "ratelimit-policy": `"default";q=3;w=1` })
  })

  it("refused: Retry-After rounded up, never below 1", () => {
    expect(
      core.responseHeaders("per \"user\"", 60_000, {
        granted: false,
        limit: 100,
        remaining: 0,
        retryAfter: 1500,
        resetAfter: 59_001
      })
    ).toEqual({
      "ratelimit": `"per \\"user\\"";r=0;t=60`,
      "ratelimit-policy": `"per \\"user\\"";q=100;w=60`,
      "retry-after": "2"
    })
    expect(
      core.responseHeaders("p", 1000, { granted: false, limit: 1, remaining: 0, retryAfter: 0, resetAfter: 0 })[
        "retry-after"
      ]
    ).toBe("1")
  })

  it("what the server says, the client reads back", () => {
    const headers = core.responseHeaders("default", 1000, {
      granted: false,
      limit: 3,
      remaining: 0,
      retryAfter: 400,
      resetAfter: 800
    })
    expect(core.parse(headers, NOW)).toEqual({ retryAfter: 1000, limit: 3, remaining: 0, reset: 1000 })
  })
})

describe("httpHeadersCore: the allowance told by remaining / reset", () => {
  const info = (remaining: number | undefined, reset: number | undefined): core.RateLimitInfo => ({
    retryAfter: undefined,
    limit: undefined,
    remaining,
    reset
  })

  it("unknown: every request may go", () => {
    expect(core.admit(core.unknownBudget, 0)).toEqual({ send: core.unknownBudget })
  })

  it("remaining 2, reset in 1 s, 1 in flight: one more may go, the next waits for the reset", () => {
    const budget = core.learn(core.unknownBudget, info(2, 1000), 5000, 1)
    expect(budget).toEqual({ allowance: 1, until: 6000 })
    const first = core.admit(budget, 5100)
    expect(first).toEqual({ send: { allowance: 0, until: 6000 } })
    expect(core.admit(first.send!, 5200)).toEqual({ wait: 800 })
    // the window is over: unknown again
    expect(core.admit(first.send!, 6000)).toEqual({ send: core.unknownBudget })
  })

  it("while a window lasts, a late response with more remaining never raises the allowance", () => {
    const budget = core.learn(core.unknownBudget, info(3, 1000), 0, 0)
    expect(core.learn(budget, info(8, 1000), 100, 0)).toEqual({ allowance: 3, until: 1100 })
    expect(core.learn(budget, info(1, 1000), 100, 0)).toEqual({ allowance: 1, until: 1100 })
    // after the window, a response starts a new one
    expect(core.learn(budget, info(8, 1000), 1000, 0)).toEqual({ allowance: 8, until: 2000 })
  })

  it.each([
    [info(undefined, 1000)],
    [info(5, undefined)],
    [info(5, 0)]
  ])("nothing learnt from %j", (told) => {
    expect(core.learn(core.unknownBudget, told, 0, 0)).toBe(core.unknownBudget)
  })
})

describe("httpHeadersCore: properties", () => {
  const headerNames = [
    "retry-after",
    "date",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset"
  ] as const

  it.prop(
    "parse never throws, and every number it returns is finite and non-negative",
    [fc.dictionary(fc.constantFrom(...headerNames), fc.oneof(fc.string(), fc.stringMatching(/^[\d";=rtq, a-z]*$/))),
      fc.integer({ min: 0, max: 4_000_000_000_000 })],
    ([headers, now]) => {
      const info = core.parse(headers, now)
      for (const value of Object.values(info)) {
        if (value !== undefined) {
          expect(Number.isFinite(value)).toBe(true)
          expect(value).toBeGreaterThanOrEqual(0)
        }
      }
    }
  )

  it.prop(
    "what the server says, the client reads back: never an earlier reset or retry than the decision's",
    [
      fc.boolean(),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.integer({ min: 1, max: 1e7 })
    ],
    ([granted, limit, remaining, retryAfter, resetAfter, window]) => {
      const headers = core.responseHeaders("p", window, { granted, limit, remaining, retryAfter, resetAfter })
      const info = core.parse(headers, 0)
      expect(info.limit).toBe(limit)
      expect(info.remaining).toBe(remaining)
      expect(info.reset!).toBeGreaterThanOrEqual(resetAfter - core.ROUNDING_TOLERANCE_MILLIS)
      if (!granted) expect(info.retryAfter!).toBeGreaterThanOrEqual(retryAfter - core.ROUNDING_TOLERANCE_MILLIS)
      else expect(info.retryAfter).toBeUndefined()
    }
  )
})
