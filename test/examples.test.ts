import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { sections } from "../examples/tour.js"
import { runFor } from "./utils.js"

/** Runs a tour section under TestClock: every timestamp it prints is exact. */
const runSection = <A, E>(section: Effect.Effect<A, E>) => runFor(section, "10 seconds")

describe("the README tour (examples/tour.ts) under TestClock", () => {
  it.effect("Throttle: 3 calls at once, the 4th a second later; the decorator shares the window", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.Throttle)).toEqual([
        "call 1 at 0 ms",
        "call 2 at 0 ms",
        "call 3 at 0 ms",
        "call 4 at 1000 ms",
        "user 7 at 1000 ms"
      ])
    }))

  it.effect("Throttle, second part: two windows, attempt, maxWait, pause", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.ThrottleQuota)).toEqual([
        "call 1 at 0 ms",
        "call 2 at 0 ms",
        "call 3 at 1000 ms",
        "attempt: granted false, retry after 9000 ms",
        "maxWait 1 s: ThrottleTimeoutError, retry after 9000 ms",
        "after the pause at 2500 ms"
      ])
    }))

  it.effect("KeyedThrottle: hosts do not wait for each other; idle hosts are dropped", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.KeyedThrottle)).toEqual([
        "api.github.com at 0 ms",
        "example.org at 0 ms",
        "api.github.com at 0 ms",
        "api.github.com at 1000 ms",
        "example.org at 1000 ms",
        "2 hosts live",
        "0 hosts live 7 s later"
      ])
    }))

  it.effect("Scheduler: maxPerSecond 4 starts at 0, 250, 500", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.Scheduler)).toEqual([
        "a started at 0 ms",
        "b started at 250 ms",
        "c started at 500 ms"
      ])
    }))

  it.effect("TaskThrottler: the throttled task is retried after its retryAfter, before the rest", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.TaskThrottler)).toEqual([
        "page 1 at 0 ms",
        "page 2 (retried) at 1000 ms",
        "page 3 at 1000 ms",
        "processed 3, failed 0, retries 1"
      ])
    }))

  it.effect("CircuitBreaker: opens after two failures, rejects, closes after a successful trial", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.CircuitBreaker)).toEqual([
        "timeout -> closed",
        "timeout -> open",
        "CircuitOpenError -> open",
        "ok -> closed"
      ])
    }))

  it.effect("DynamicThrottle: 100 ms spacing at 10/s, then 12.5/s after a window of successes", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.DynamicThrottle)).toEqual(["starts at 0, 100, 200, 300 ms", "rate now 12.5/s"])
    }))

  it.effect("Barrier, ResourceGuard, Releasing", () =>
    Effect.gen(function*() {
      expect(yield* runSection(sections.Barrier)).toEqual([
        "position 0: states [1, 3, 5]",
        "position 1: states [1, 3, 5]",
        "position 2: states [1, 3, 5]"
      ])
      expect(yield* runSection(sections.ResourceGuard)).toEqual([
        "another fiber is already writing resource: report.csv",
        "success ratio 0.5"
      ])
      expect(yield* runSection(sections.Releasing)).toEqual(["the other fiber got the lock", "we hold the lock again"])
    }))
})
