/**
 * Redis Cluster for real: three masters started here (`--cluster-enabled yes`, joined by `redis-cli --cluster
 * create`), ioredis' `Cluster` client, several throttles whose keys land on different slots and nodes. No
 * CROSSSLOT, no MOVED surfacing: every throttle works as on one server, leases and wake-ups included.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { KeyedThrottleRedis, Redis, ThrottleRedis } from "effect-throttles/redis"
import type { Cluster } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { clusterAvailable, clusterClient, type RedisCluster, startCluster } from "./server.js"
import { ClockMode, OnSettle } from "../../src/internal/redisThrottle.js"
import { forkSettled, freshKey, noteSettled, realSleep } from "./support.js"

describe.skipIf(!clusterAvailable)("ThrottleRedis on a Redis Cluster", () => {
  let cluster: RedisCluster
  let client: Cluster
  beforeAll(async () => {
    cluster = await startCluster()
    client = clusterClient(cluster.nodes)
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve())
      client.once("error", reject)
    })
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  it.live("several throttles on different slots and nodes, windows, leases and wake-ups", () =>
    Effect.gen(function*() {
      // 12 keys: all on one of the 3 nodes by chance has a probability of 3 / 3^12
      const keys = Array.from({ length: 12 }, (_, i) => freshKey(`cluster${i}`))
      const throttles = yield* Effect.forEach(keys, (key) =>
        ThrottleRedis.make({ key, rate: "3/min, 2/s", maxConcurrent: 2, onStoreError: "fail" }))
      for (const t of throttles) {
        const decisions = yield* Effect.forEach([1, 2, 3], () => t.attempt())
        expect(decisions.map((d) => d.granted)).toEqual([true, true, false])
        yield* t.release(2)
      }
      // the keys of one throttle share a slot (one node holds them all); different throttles land on different nodes
      const masters = client.nodes("master")
      const nodes = new Set<number>()
      for (const key of keys) {
        const holders = yield* Effect.promise(() =>
          Promise.all(masters.map((node) => node.exists(`{effect-throttles:${key}}:m`).catch(() => 0))) // MOVED: not here
        )
        expect(holders.filter((h) => h === 1).length).toBe(1)
        nodes.add(holders.indexOf(1))
        const pttl = yield* Effect.promise(() => client.pttl(`{effect-throttles:${key}}:m`))
        expect(pttl).toBeGreaterThan(0)
      }
      expect(nodes.size).toBeGreaterThan(1)
    }).pipe(Effect.scoped, Effect.provide(Redis.layerFromClient(client))), 60_000)

  it.live("KeyedThrottleRedis: its keys spread over the nodes, each key's quota shared by two keyed throttles", () =>
    Effect.gen(function*() {
      const key = freshKey("cluster-keyed")
      const other = clusterClient(cluster.nodes)
      yield* Effect.addFinalizer(() => Effect.sync(() => other.disconnect()))
      const a = yield* KeyedThrottleRedis.make({ key, rate: "2/min", onStoreError: "wait" })
      const b = yield* KeyedThrottleRedis.make({ key, rate: "2/min", onStoreError: "wait" }).pipe(
        Effect.provide(Redis.layerFromClient(other))
      )
      const users = Array.from({ length: 12 }, (_, i) => `user-${i}`)
      for (const user of users) {
        // one through each client, and the third refused by either
        expect((yield* a.attempt(user)).granted).toBe(true)
        expect((yield* b.attempt(user)).granted).toBe(true)
        expect((yield* a.attempt(user)).granted).toBe(false)
        expect((yield* b.attempt(user)).granted).toBe(false)
        yield* a.release(user)
        yield* b.release(user)
      }
      const masters = client.nodes("master")
      const nodes = new Set<number>()
      for (const user of users) {
        const holders = yield* Effect.promise(() =>
          Promise.all(masters.map((node) => node.exists(`{effect-throttles:${key}:${user}}:m`).catch(() => 0)))
        )
        expect(holders.filter((h) => h === 1).length).toBe(1)
        nodes.add(holders.indexOf(1))
      }
      expect(nodes.size).toBeGreaterThan(1)
    }).pipe(Effect.scoped, Effect.provide(Redis.layerFromClient(client))), 60_000)

  it.live("maxConcurrent across two clients: a release wakes the waiter through the cluster's pub/sub", () =>
    Effect.gen(function*() {
      const key = freshKey("cluster-lease")
      const a = yield* ThrottleRedis.make({ key, rate: "100/s", maxConcurrent: 1, onStoreError: "fail" })
      const other = clusterClient(cluster.nodes)
      yield* Effect.addFinalizer(() => Effect.sync(() => other.disconnect()))
      const b = yield* ThrottleRedis.make({ key, rate: "100/s", maxConcurrent: 1, onStoreError: "fail" }).pipe(
        Effect.provide(Redis.layerFromClient(other))
      )
      yield* a.acquire()
      const waiter = yield* Effect.fork(b.acquire(1, { maxWait: "20 seconds" }))
      yield* realSleep(300)
      expect(yield* b.tryAcquire()).toBe(false)
      yield* a.release()
      yield* Fiber.join(waiter)
      expect((yield* b.stats).inFlight).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(Redis.layerFromClient(client))), 60_000)

  it.effect("KeyedThrottleRedis across two clients: keys on different nodes, a release wakes the key's waiter", () =>
    Effect.gen(function*() {
      const key = freshKey("cluster-keyed")
      // on the TestClock (the script is given its time): a waiter's own re-check never comes, only the message
      const options = {
        key,
        rate: "100/s",
        maxConcurrent: 1,
        onStoreError: "wait",
        [ClockMode]: "client",
        [OnSettle]: noteSettled
      } as KeyedThrottleRedis.Options<string>
      const a = yield* KeyedThrottleRedis.make(options)
      const other = clusterClient(cluster.nodes)
      yield* Effect.addFinalizer(() => Effect.sync(() => other.disconnect()))
      const b = yield* KeyedThrottleRedis.make(options).pipe(Effect.provide(Redis.layerFromClient(other)))
      const users = Array.from({ length: 12 }, (_, i) => `user-${i}`)
      for (const user of users) expect((yield* a.attempt(user)).granted).toBe(true)
      // the users' keys spread over the masters (12 on one of 3 by chance: a probability of 3 / 3^12)
      const masters = client.nodes("master")
      const nodes = new Set<number>()
      for (const user of users) {
        const holders = yield* Effect.promise(() =>
          Promise.all(masters.map((node) => node.exists(`{effect-throttles:${key}:${user}}:m`).catch(() => 0)))
        )
        nodes.add(holders.indexOf(1))
      }
      expect(nodes.size).toBeGreaterThan(1)
      expect(nodes.has(-1)).toBe(false)
      const waiters = yield* Effect.forEach(users, (user) => forkSettled(b.withPermit(user)(Effect.void)))
      for (const user of users) yield* a.release(user)
      for (let i = 0; i < 1000 && (yield* Effect.forEach(waiters, Fiber.poll)).some(Option.isNone); i++) {
        yield* realSleep(2)
      }
      expect((yield* Effect.forEach(waiters, Fiber.poll)).map(Option.isSome)).toEqual(users.map(() => true))
    }).pipe(Effect.scoped, Effect.provide(Redis.layerFromClient(client))), 60_000)

  it.live("SCRIPT FLUSH on every node: the next call reloads the script on its node", () =>
    Effect.gen(function*() {
      const t = yield* ThrottleRedis.make({ key: freshKey("cluster-flush"), rate: "10/s", onStoreError: "fail" })
      yield* t.acquire()
      yield* Effect.promise(() => Promise.all(client.nodes("master").map((node) => node.script("FLUSH"))))
      yield* t.acquire()
      expect((yield* t.stats).granted).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(Redis.layerFromClient(client))), 60_000)
})
