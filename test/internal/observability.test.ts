import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, Stream } from "effect"
import { EventHub } from "../../src/internal/observability.js"

const settle = Effect.repeatN(Effect.yieldNow(), 9)

describe("internal/observability EventHub", () => {
  it.scoped("active only while someone subscribes", () =>
    Effect.gen(function*() {
      const hub = yield* EventHub.make<number>(4)
      expect(hub.active).toBe(false)
      const fiber = yield* Effect.fork(Stream.runDrain(hub.stream))
      yield* settle
      expect(hub.active).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(hub.active).toBe(false)
    }))

  it.scoped("in order; a subscriber a whole buffer behind loses its oldest events, and emit never waits", () =>
    Effect.gen(function*() {
      const hub = yield* EventHub.make<number>(4)
      const gate = yield* Deferred.make<void>()
      const seen = yield* Ref.make<Array<number>>([])
      const fast = yield* Ref.make<Array<number>>([])
      // the slow one takes the first event, then waits at the gate
      yield* Effect.forkScoped(
        Stream.runForEach(hub.stream, (n) => Effect.zipRight(Ref.update(seen, (l) => [...l, n]), Deferred.await(gate)))
      )
      yield* settle
      hub.emit(1)
      yield* settle
      for (let n = 2; n <= 10; n++) hub.emit(n) // 2..5 fill the slow one's buffer; 6..10 wait for the flush
      const flush = hub.flush()
      expect(flush).toBeDefined()
      yield* flush!
      expect(hub.flush()).toBeUndefined()
      // a subscriber that keeps up gets everything from its subscription on
      yield* Effect.forkScoped(Stream.runForEach(hub.stream, (n) => Ref.update(fast, (l) => [...l, n])))
      yield* settle
      hub.emit(11) // the slow one's buffer is still full: 11 waits for the flush too
      yield* hub.flush() ?? Effect.void
      yield* settle
      expect(yield* Ref.get(fast)).toEqual([11])
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      expect(yield* Ref.get(seen)).toEqual([1, 8, 9, 10, 11]) // 2..7 slid out of its buffer of 4
    }))
})
