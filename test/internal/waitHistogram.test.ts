import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, MetricBoundaries, MetricHook, MetricKey } from "effect"
import { waitBoundaries, waitHistogramHook } from "../../src/internal/throttleInstrument.js"

/** Both hooks fed the same observations, in the same order. */
const both = (key: MetricKey.MetricKey.Histogram, values: ReadonlyArray<number>) => {
  const ours = waitHistogramHook(key)
  const effects = MetricHook.histogram(key)
  for (const value of values) {
    ours.update(value)
    effects.update(value)
  }
  return { ours: ours.get(), effects: effects.get() }
}

const key = MetricKey.histogram("wait-histogram-test", waitBoundaries)
const bounds = waitBoundaries.values.filter(Number.isFinite)

/** Waits as the throttle sees them: mostly 0, the boundaries themselves and their neighbours, any other wait. */
const wait = fc.oneof(
  fc.constant(0),
  fc.constantFrom(...bounds),
  fc.constantFrom(...bounds).map((b) => b * (1 + Number.EPSILON)),
  fc.constantFrom(...bounds).map((b) => b * (1 - Number.EPSILON)),
  fc.double({ min: 0, max: 1_000, noNaN: true }),
  fc.double({ min: 0, max: 1e-3, noNaN: true })
)

describe("the wait histogram's hook holds the state of Effect's own histogram hook", () => {
  it.prop("for any waits (zeros, boundaries and their neighbours, anything else)", [fc.array(wait, { maxLength: 200 })], ([values]) => {
    const { effects, ours } = both(key, values)
    expect(ours).toEqual(effects)
  })

  it("puts a wait equal to a boundary in that boundary's bucket, and one just above it in the next", () => {
    const { effects, ours } = both(key, [0.0001, 0.0002 * (1 + Number.EPSILON), 0.0008, 3_000])
    expect(ours).toEqual(effects)
    const at = (boundary: number) => ours.buckets.find(([b]) => b === boundary)![1]
    expect([at(0.0001), at(0.0002), at(0.0004), at(0.0008)]).toEqual([1, 1, 2, 3])
    // 3 000 s is past the largest finite boundary (about 210 s): only the last bucket, +Infinity, counts it
    expect(ours.buckets.slice(-2).map(([, count]) => count)).toEqual([3, 4])
  })

  it.prop(
    "for boundaries that do not double (the bucket's guess is only a start)",
    [fc.array(wait, { maxLength: 100 })],
    ([values]) => {
      const other = MetricKey.histogram("wait-histogram-linear", MetricBoundaries.linear({ start: 0, width: 0.01, count: 30 }))
      const { effects, ours } = both(other, values)
      expect(ours).toEqual(effects)
    }
  )
})
