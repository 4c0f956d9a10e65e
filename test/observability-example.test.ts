import { describe, expect, it } from "@effect/vitest"
import { Console, Effect } from "effect"
import { main } from "../examples/observability.js"

/** The current console, except that `log` keeps what it is given instead of printing it. */
const capturing = (printed: Array<string>) => (console: Console.Console): Console.Console => ({
  ...console,
  log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void printed.push(args.map(String).join(" "))),
  unsafe: { ...console.unsafe, log: (...args: ReadonlyArray<unknown>) => void printed.push(args.map(String).join(" ")) }
})

describe("examples/observability.ts (smoke test, real time)", () => {
  it.live("prints a status line a second, exports acquire spans and metrics that agree with the throttle", () =>
    Effect.gen(function*() {
      const printed: Array<string> = []
      const summary = yield* Effect.consoleWith((console) =>
        main(2).pipe(Effect.withConsole(capturing(printed)(console)))
      )

      // one status line a second, printed, with every field
      expect(summary.statusLines).toHaveLength(2)
      for (const [i, line] of summary.statusLines.entries()) {
        expect(printed).toContain(line)
        expect(line).toMatch(
          new RegExp(
            `^t=${i + 1}s rate=\\d+\\.\\d/s queue=\\d+ in-flight=\\d+ breaker=(closed|open|half-open) ` +
              `dyn-rate=\\d+\\.\\d/s granted=\\d+ timeouts=\\d+ rejected=\\d+$`
          )
        )
      }
      const grantedPerLine = summary.statusLines.map((line) => Number(/granted=(\d+)/.exec(line)![1]))
      expect(grantedPerLine[1]!).toBeGreaterThanOrEqual(grantedPerLine[0]!)

      // eight workers against "20/s" must wait: those waits are exported as spans
      expect(summary.spans["effect_throttles.acquire"]).toBeGreaterThan(0)
      expect(summary.spans["example.call"]).toBeGreaterThan(0)
      expect(printed).toContain(`  effect_throttles.acquire: ${summary.spans["effect_throttles.acquire"]}`)

      // the exported counters agree with the throttle's own stats and with what the service saw
      expect(summary.granted).toBeGreaterThan(0)
      expect(summary.granted).toBeGreaterThanOrEqual(grantedPerLine[1]!)
      expect(summary.exportedMetrics["effect_throttles_throttle_granted_total{name=api}"]).toBe(summary.granted)
      expect(summary.exportedMetrics["effect_throttles_throttle_wait_seconds{name=api}"]).toBe(summary.granted)
      expect(summary.exportedMetrics["effect_throttles_throttle_waiting{name=api}"]).toBe(0)
      expect(summary.exportedMetrics["effect_throttles_throttle_in_flight{name=api}"]).toBe(0)
      const counted = (summary.exportedMetrics["effect_throttles_circuit_breaker_calls_total{name=api,outcome=success}"] ??
        0) +
        (summary.exportedMetrics["effect_throttles_circuit_breaker_calls_total{name=api,outcome=failure}"] ?? 0)
      expect(counted).toBeGreaterThan(0)
      expect(counted).toBeLessThanOrEqual(summary.calls)
      expect(summary.exportedMetrics["effect_throttles_dynamic_throttle_rate{name=api}"]).toBeGreaterThan(0)
    }))
})
