import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ResourceGuardModule from "../src/ResourceGuard.js"
import { ResourceBusyError, ResourceGuard, UniqueResourceGuard } from "../src/ResourceGuard.js"
import * as internal from "../src/internal/resourceGuardCore.js"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** A handle on V8's garbage collector, without starting node with --expose-gc. */
const exposeGc = (): (() => void) => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
}

/** Runs `self` with a logger that collects `[level, message]` pairs. */
const captureLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const logs: Array<[string, string]> = []
    const logger = Logger.make(({ logLevel, message }) => {
      logs.push([logLevel.label, (Array.isArray(message) ? message : [message]).map(String).join(" ")])
    })
    return self.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.All),
      Effect.map((a) => [a, logs] as const)
    )
  })

describe("ResourceGuard", () => {
  it.effect("use runs the body while the guard is held, and releases it afterwards", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make({ resource: "db", action: "migrating" })
      expect(yield* guard.guarded).toBe(false)
      const inside = yield* guard.use(guard.guarded)
      expect(inside).toBe(true)
      expect(yield* guard.guarded).toBe(false)
      expect(guard.name).toBe("db")
      expect(guard.action).toBe("migrating")
    }))

  it.effect("nested use is busy (the seed's scenario) and fails fast without running the body", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make({ resource: "out.csv", action: "writing" })
      let ran = false
      const inner = yield* guard.use(Effect.flip(guard.use(Effect.sync(() => {
        ran = true
      }))))
      expect(ran).toBe(false)
      expect(inner).toEqual(new ResourceBusyError({ resource: "out.csv", action: "writing" }))
      expect(inner.message).toBe("another fiber is already writing resource: out.csv")
      expect(yield* guard.guarded).toBe(false)
    }))

  it.effect("a second fiber is rejected at once, never waits", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make({ resource: 42 })
      const entered = yield* Deferred.make<void>()
      const leave = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(guard.use(Effect.zipRight(Deferred.succeed(entered, void 0), Deferred.await(leave))))
      yield* Deferred.await(entered)
      const error = yield* Effect.flip(guard.use(Effect.void))
      expect(error.message).toBe("another fiber is already using resource: 42")
      yield* Deferred.succeed(leave, void 0)
      yield* Fiber.join(holder)
      expect(yield* guard.use(Effect.succeed("free again"))).toBe("free again")
    }))

  it.effect("is released on failure, defect and interruption", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make({ resource: "r" })
      expect(yield* Effect.flip(guard.use(Effect.fail("boom")))).toBe("boom")
      expect(yield* guard.guarded).toBe(false)
      const defect = yield* Effect.exit(guard.use(Effect.die("bad")))
      expect(Exit.isFailure(defect)).toBe(true)
      expect(yield* guard.guarded).toBe(false)
      const entered = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(guard.use(Effect.zipRight(Deferred.succeed(entered, void 0), Effect.never)))
      yield* Deferred.await(entered)
      expect(yield* guard.guarded).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(yield* guard.guarded).toBe(false)
    }))

  it.effect("a busy rejection does not release the holder's guard", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make({ resource: "r" })
      const afterRejection = yield* guard.use(Effect.zipRight(Effect.either(guard.use(Effect.void)), guard.guarded))
      expect(afterRejection).toBe(true)
    }))

  it.effect("successRatio: 0 with no attempts, 3 of 4 = 0.75 (whatever the bodies did)", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuard.make()
      expect(yield* guard.successRatio).toBe(0)
      yield* guard.use(Effect.void)
      yield* Effect.either(guard.use(Effect.fail("body failed, entry still granted")))
      yield* guard.use(Effect.either(guard.use(Effect.void))) // one granted, one busy
      expect(yield* guard.successRatio).toBe(0.75)
    }))

  it.effect("useResource hands the resource over, only once entered", () =>
    Effect.gen(function*() {
      const file = { path: "/tmp/a.txt" }
      const guard = yield* ResourceGuard.make({ resource: file, action: "writing" })
      const seen = yield* guard.useResource((r) => Effect.succeed(r))
      expect(seen).toBe(file)
      let calls = 0
      yield* guard.use(Effect.either(guard.useResource(() => Effect.sync(() => calls++))))
      expect(calls).toBe(0)
      expectTypeOf(guard.useResource).parameter(0).parameter(0).toEqualTypeOf<{ path: string }>()
    }))

  it.effect("anonymous guards are numbered from a process-wide counter", () =>
    Effect.gen(function*() {
      const a = yield* ResourceGuard.make()
      const b = yield* ResourceGuard.make({ action: "closing" })
      const n = Number(/^anonymous resource #(\d+)$/.exec(a.name)?.[1])
      expect(Number.isInteger(n)).toBe(true)
      expect(b.name).toBe(`anonymous resource #${n + 1}`)
      expect(b.resource).toBeUndefined()
      expect((yield* Effect.flip(b.use(b.use(Effect.void)))).message).toBe(
        `another fiber is already closing resource: anonymous resource #${n + 1}`
      )
    }))

  it.effect("make is exported by the module too; a non-string action is a defect", () =>
    Effect.gen(function*() {
      const guard = yield* ResourceGuardModule.make({ resource: "m.txt", action: "moving" })
      expect((yield* Effect.flip(guard.use(guard.use(Effect.void)))).message).toBe(
        "another fiber is already moving resource: m.txt"
      )
      for (const make of [ResourceGuard.make, (o: ResourceGuard.Options<string>) => UniqueResourceGuard.of({}, o)]) {
        const exit = yield* Effect.exit(make({ action: 42 as unknown as string }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain("Expected action to be a string, got 42")
      }
    }))

  describe("rendering", () => {
    class FileHandle {
      constructor(readonly path: string) {}
    }
    class Named {
      toString() {
        return "Named<x>"
      }
    }
    it.each([
      ["text", "text"],
      [12, "12"],
      [0, "0"],
      [null, "null"],
      [{ path: "a.txt" }, "{\"path\":\"a.txt\"}"],
      [[1, 2], "[1,2]"],
      [new FileHandle("b.txt"), "FileHandle {\"path\":\"b.txt\"}"],
      [new Named(), "Named<x>"],
      [function writer() {}, "[function writer]"]
    ] as const)("%s renders as %s", (resource, expected) => {
      expect(internal.render(resource)).toBe(expected)
    })

    it("a circular object renders without throwing", () => {
      const node: { id: number; self?: unknown } = { id: 1 }
      node.self = node
      expect(internal.render(node)).toBe("{\"id\":1}")
    })
  })
})

describe("UniqueResourceGuard", () => {
  it.effect("one guard per object identity (the seed's scenario)", () =>
    Effect.gen(function*() {
      const file = { path: "a.txt" }
      const same = yield* UniqueResourceGuard.of(file)
      const again = yield* UniqueResourceGuard.of(file)
      const other = yield* UniqueResourceGuard.of({ path: "a.txt" })
      expect(again).toBe(same)
      expect(other).not.toBe(same)
      expect(same.resource).toBe(file)
      expect(same.name).toBe("{\"path\":\"a.txt\"}")
      // Exclusion is shared through the cache: holding one handle makes the other busy.
      const busy = yield* same.use(Effect.flip(again.use(Effect.void)))
      expect(busy._tag).toBe("ResourceBusyError")
      // ...but an equal, distinct object has its own guard.
      expect(yield* same.use(other.use(Effect.succeed("ok")))).toBe("ok")
    }))

  it.effect("options on an existing guard are ignored, with a warning when they differ", () =>
    Effect.gen(function*() {
      const file = { path: "b.txt" }
      const [first, logs1] = yield* captureLogs(UniqueResourceGuard.of(file, { action: "writing" }))
      expect(first.action).toBe("writing")
      expect(logs1).toEqual([])
      const [second, logs2] = yield* captureLogs(UniqueResourceGuard.of(file, { action: "closing" }))
      expect(second).toBe(first)
      expect(second.action).toBe("writing")
      expect(logs2).toHaveLength(1)
      expect(logs2[0]?.[0]).toBe("WARN")
      expect(logs2[0]?.[1]).toContain("already has a guard")
      expect(logs2[0]?.[1]).toContain("closing")
      // The same options, or none, are not worth a warning.
      const [, logs3] = yield* captureLogs(UniqueResourceGuard.of(file, { action: "writing" }))
      const [, logs4] = yield* captureLogs(UniqueResourceGuard.of(file))
      expect([...logs3, ...logs4]).toEqual([])
    }))

  it.effect("clearCache forgets the guards (the seed's scenario)", () =>
    Effect.gen(function*() {
      const file = { path: "c.txt" }
      const before = yield* UniqueResourceGuard.of(file)
      yield* UniqueResourceGuard.clearCache
      const after = yield* UniqueResourceGuard.of(file, { action: "reading" })
      expect(after).not.toBe(before)
      expect(after.action).toBe("reading")
      expect(yield* UniqueResourceGuard.of(file)).toBe(after)
    }))

  it.effect("a primitive is a defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(UniqueResourceGuard.of("text" as unknown as object))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(`Expected an object, got "text"`)
    }))

  it.effect("held weakly: the cache does not keep its objects (or their guards) alive", () =>
    Effect.gen(function*() {
      const gc = exposeGc()
      const refs = yield* Effect.sync(() => {
        const file = { path: "d.txt" }
        return { file: new WeakRef(file), guard: Effect.runSync(UniqueResourceGuard.of(file)) }
      }).pipe(Effect.map(({ file, guard }) => ({ file, guard: new WeakRef(guard) })))
      // WeakRef targets are kept until the current job ends: let it end, then collect.
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      gc()
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      gc()
      expect(refs.file.deref()).toBeUndefined()
      expect(refs.guard.deref()).toBeUndefined()
    }))
})
