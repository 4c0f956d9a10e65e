/**
 * Several processes sharing one Redis throttle: real child processes (tsx workers), a real redis-server, real time.
 * Assertions are on outcomes: the grant times the script decided, merged across processes, never put more than
 * `limit` into any window; the processes together reach the rate; a SIGKILLed holder's permit comes back.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Duration, Effect } from "effect"
import { ThrottleRedis } from "effect-throttles/redis"
import { redisAvailable } from "./server.js"
import { freshKey, realSleep, withRedis, useServer } from "./support.js"
import type { Grant, WorkerConfig } from "./worker.js"

const workerPath = fileURLToPath(new URL("./worker.ts", import.meta.url))

interface Worker {
  readonly child: ChildProcess
  readonly next: (type: string) => Promise<any>
}

const spawnWorker = (config: WorkerConfig): Worker => {
  const child = fork(workerPath, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: "inherit" })
  const inbox: Array<any> = []
  const waiting: Array<() => void> = []
  child.on("message", (m) => {
    inbox.push(m)
    for (const w of waiting.splice(0)) w()
  })
  const next = async (type: string): Promise<any> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type)
      if (i >= 0) return inbox.splice(i, 1)[0]
      if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}) before "${type}"`)
      await new Promise<void>((resolve) => {
        waiting.push(resolve)
        child.once("exit", () => resolve())
      })
    }
  }
  return { child, next }
}

/** The largest number of grant times in any window [t, t + period) (the window starting at each grant). */
export const maxInWindow = (times: ReadonlyArray<number>, period: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let max = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) + period <= (sorted[i] as number)) j++
    max = Math.max(max, i - j + 1)
  }
  return max
}

/** The largest number of intervals [start, end] open at once. */
const maxOverlap = (grants: ReadonlyArray<Grant>): number => {
  const events: Array<[number, number]> = []
  for (const g of grants) events.push([g.start, 1], [g.end, -1])
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let open = 0
  let max = 0
  for (const [, d] of events) max = Math.max(max, (open += d))
  return max
}

const runWorkers = async (count: number, config: Omit<WorkerConfig, "mode">) => {
  const workers = Array.from({ length: count }, () => spawnWorker({ ...config, mode: "run" }))
  try {
    await Promise.all(workers.map((w) => w.next("ready")))
    for (const w of workers) w.child.send("go")
    const reports = await Promise.all(workers.map((w) => w.next("done")))
    return reports as Array<{ grants: Array<Grant>; ats: Array<number> }>
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL")
  }
}

describe.skipIf(!redisAvailable)("ThrottleRedis across processes", () => {
  const redis = useServer()

  it.live("3 processes sharing \"50/s\": no window over 50, at least 95% of the rate", () =>
    Effect.gen(function*() {
      const reports = yield* Effect.promise(() =>
        runWorkers(3, { url: redis.server().url, key: freshKey("p50"), rate: "50/s", durationMs: 3000, concurrency: 5, holdMs: 0 })
      )
      const ats = reports.flatMap((r) => r.ats)
      expect(reports.every((r) => r.ats.length > 0)).toBe(true)
      expect(maxInWindow(ats, 1000)).toBeLessThanOrEqual(50)
      const first = Math.min(...ats)
      const inTwoSeconds = ats.filter((t) => t < first + 2000).length
      expect(inTwoSeconds).toBeGreaterThanOrEqual(95)
    }), 60_000)

  it.live("3 processes sharing \"5/s, 12/3s\": no window of either rate over its limit, the rate reached", () =>
    Effect.gen(function*() {
      const reports = yield* Effect.promise(() =>
        runWorkers(3, {
          url: redis.server().url,
          key: freshKey("p12"),
          rate: "5/s, 12/3s",
          durationMs: 3500,
          concurrency: 2,
          holdMs: 0
        })
      )
      const ats = reports.flatMap((r) => r.ats)
      expect(maxInWindow(ats, 1000)).toBeLessThanOrEqual(5)
      expect(maxInWindow(ats, 3000)).toBeLessThanOrEqual(12)
      const first = Math.min(...ats)
      expect(ats.filter((t) => t < first + 3000).length).toBeGreaterThanOrEqual(Math.ceil(12 * 0.95))
    }), 60_000)

  it.live("maxConcurrent across 3 processes: never more than 2 held at once, the window still exact", () =>
    Effect.gen(function*() {
      const reports = yield* Effect.promise(() =>
        runWorkers(3, {
          url: redis.server().url,
          key: freshKey("lease"),
          rate: "40/s",
          durationMs: 1500,
          concurrency: 3,
          holdMs: 15,
          maxConcurrent: 2,
          leaseTtlMs: 2000
        })
      )
      const grants = reports.flatMap((r) => r.grants)
      expect(grants.length).toBeGreaterThan(20)
      expect(maxOverlap(grants)).toBeLessThanOrEqual(2)
      expect(maxInWindow(reports.flatMap((r) => r.ats), 1000)).toBeLessThanOrEqual(40)
      // every process got permits: release wake-ups reach the other processes
      expect(reports.every((r) => r.grants.length > 0)).toBe(true)
    }), 60_000)

  it.live("examples/redis-quickstart.ts runs against Redis", () =>
    Effect.gen(function*() {
      const output = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const path = fileURLToPath(new URL("../../examples/redis-quickstart.ts", import.meta.url))
          const child = fork(path, [], {
            execArgv: ["--import", "tsx"],
            env: { ...process.env, REDIS_URL: redis.server().url },
            stdio: ["ignore", "pipe", "pipe", "ipc"]
          })
          let text = ""
          child.stdout?.on("data", (d) => (text += d))
          child.stderr?.on("data", (d) => (text += d))
          child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))))
        })
      )
      for (let i = 0; i < 12; i++) expect(output).toContain(`call ${i}`)
      expect(output).toContain("granted: true")
    }), 60_000)

  /** A worker process holding one permit of `key` (its lease of 1 s renewed while it lives), once it holds it. */
  const holder = (key: string, options: Pick<WorkerConfig, "rate" | "maxConcurrent" | "measure">) =>
    Effect.suspend(() => {
      const worker = spawnWorker({
        mode: "hold",
        url: redis.server().url,
        key,
        durationMs: 0,
        concurrency: 1,
        holdMs: 0,
        leaseTtlMs: 1000,
        ...options
      })
      return Effect.as(Effect.promise(() => worker.next("holding")), worker)
    })

  it.live("a SIGKILLed worker's permit returns after leaseTtl", () =>
    Effect.gen(function*() {
      const key = freshKey("killed")
      const worker = yield* holder(key, { rate: "100/s", maxConcurrent: 1 })
      const t = yield* ThrottleRedis.make({ key, rate: "100/s", maxConcurrent: 1, leaseTtl: "1 second", onStoreError: "fail" })
      // the worker renews its lease while alive: well past leaseTtl it is still held
      yield* realSleep(1500)
      expect(yield* t.tryAcquire()).toBe(false)
      worker.child.kill("SIGKILL")
      // nobody releases it: the dead lease expires (within leaseTtl of its last renewal) and the waiter gets it
      yield* t.acquire(1, { maxWait: "5 seconds" })
      expect((yield* t.stats).inFlight).toBe(1)
    }).pipe(withRedis(redis.server)), 30_000)

  it.live("measure \"release\": a SIGKILLed holder's slot is held until its lease ends, then a period more", () =>
    Effect.gen(function*() {
      const key = freshKey("killed-release")
      const worker = yield* holder(key, { rate: "1/s", measure: "release" })
      const t = yield* ThrottleRedis.make({ key, rate: "1/s", measure: "release", leaseTtl: "1 second", onStoreError: "fail" })
      yield* realSleep(1500)
      // in flight (renewed while the worker lives): only a release can make room
      const held = yield* t.attempt()
      expect([held.granted, Duration.toMillis(held.retryAfter)]).toEqual([false, 0])
      worker.child.kill("SIGKILL")
      // its lease ends (within leaseTtl), and counts as its release: the slot is then taken for a period more
      let after = held
      for (let i = 0; i < 150 && Duration.toMillis(after.retryAfter) === 0; i++) {
        yield* realSleep(20)
        after = yield* t.attempt()
      }
      expect(after.granted).toBe(false)
      expect(Duration.toMillis(after.retryAfter)).toBeGreaterThan(0)
      expect(Duration.toMillis(after.retryAfter)).toBeLessThanOrEqual(1000)
      yield* t.acquire(1, { maxWait: "5 seconds" })
      expect((yield* t.stats).inFlight).toBe(1)
    }).pipe(withRedis(redis.server)), 30_000)
})
