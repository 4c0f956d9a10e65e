/**
 * Real Redis servers for the integration tests: `redis-server` from PATH on free ports of 127.0.0.1 (no
 * persistence), stopped afterwards; or the server at `REDIS_URL` when set. No mocks.
 *
 * Without `redis-server` the Redis tests skip (one line says so, printed by `test/redis/Redis.test.ts`); with
 * `EFFECT_THROTTLES_REQUIRE_REDIS=1` (CI) its absence is a failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as net from "node:net"
import { Cluster, Redis as IORedis } from "ioredis"

const onPath = (command: string): boolean => {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** Whether `redis-server` is on PATH (tests that start, kill or restart their own server need it). */
export const serverAvailable: boolean = onPath("redis-server")

/** Whether Redis tests can run: `redis-server` on PATH, or `REDIS_URL` set. */
export const redisAvailable: boolean = serverAvailable ||
  (process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== "")

/** Whether missing Redis must fail the run (CI). */
export const redisRequired: boolean = process.env.EFFECT_THROTTLES_REQUIRE_REDIS === "1"

/** Whether a cluster can be started: `redis-server` and `redis-cli` on PATH. */
export const clusterAvailable: boolean = serverAvailable && onPath("redis-cli")

/** The line printed once when the Redis tests are skipped. */
export const skipLine =
  "Redis tests skipped: redis-server is not on PATH (install it, e.g. `apt-get install redis-server`, or set REDIS_URL=redis://host:port)"

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Waits until a server answers PING (or gives up after `timeoutMs`). */
export const waitForPing = async (port: number, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.setTimeout(500)
      socket.on("connect", () => socket.write("PING\r\n"))
      socket.on("data", (data) => {
        socket.destroy()
        resolve(data.toString().startsWith("+PONG"))
      })
      socket.on("error", () => resolve(false))
      socket.on("timeout", () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`)
    await sleep(50)
  }
}

/** One `redis-server` process (or the external `REDIS_URL` server, which is never stopped). */
export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly host: string
  /** Starts it again on the same port (after `kill`). */
  readonly restart: () => Promise<void>
  /** SIGKILL, no shutdown. */
  readonly kill: () => Promise<void>
  /** SIGSTOP (`true`): the connections stay open and nothing answers; SIGCONT (`false`). */
  readonly freeze: (frozen: boolean) => void
  readonly stop: () => Promise<void>
}

const spawnServer = (port: number, extra: ReadonlyArray<string> = [], dir?: string): ChildProcess =>
  spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extra],
    { stdio: "ignore", ...(dir === undefined ? {} : { cwd: dir }) }
  )

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/** Starts a server on a free port (or returns the `REDIS_URL` one, when set and `own` is false). */
export const startServer = async (own = false): Promise<RedisServer> => {
  const external = process.env.REDIS_URL
  if (!own && external !== undefined && external !== "") {
    const u = new URL(external)
    return {
      url: external,
      port: Number(u.port || 6379),
      host: u.hostname,
      restart: () => Promise.reject(new Error("cannot restart the REDIS_URL server")),
      kill: () => Promise.reject(new Error("cannot kill the REDIS_URL server")),
      freeze: () => {
        throw new Error("cannot freeze the REDIS_URL server")
      },
      stop: () => Promise.resolve()
    }
  }
  const port = await freePort()
  let child = spawnServer(port)
  await waitForPing(port)
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    host: "127.0.0.1",
    restart: async () => {
      child = spawnServer(port)
      await waitForPing(port)
    },
    kill: async () => {
      child.kill("SIGKILL")
      await exited(child)
    },
    freeze: (frozen) => {
      child.kill(frozen ? "SIGSTOP" : "SIGCONT")
    },
    stop: async () => {
      child.kill("SIGTERM")
      await exited(child)
    }
  }
}

/** A 3-master Redis Cluster on free ports. */
export interface RedisCluster {
  readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly stop: () => Promise<void>
}

/** Starts 3 `redis-server --cluster-enabled yes` and joins them with `redis-cli --cluster create`. */
export const startCluster = async (): Promise<RedisCluster> => {
  const { mkdtempSync, rmSync } = await import("node:fs")
  const { tmpdir } = await import("node:os")
  const { join } = await import("node:path")
  const dir = mkdtempSync(join(tmpdir(), "effect-throttles-cluster-"))
  const ports = [await freePort(), await freePort(), await freePort()]
  const children = ports.map((port) =>
    spawnServer(port, ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`], dir)
  )
  const stop = async () => {
    for (const child of children) child.kill("SIGKILL")
    await Promise.all(children.map(exited))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await Promise.all(ports.map((port) => waitForPing(port)))
    execFileSync(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"],
      { stdio: "ignore" }
    )
    // wait until every node sees all slots assigned
    const deadline = Date.now() + 20_000
    for (;;) {
      const ok = ports.every((port) => {
        const info = execFileSync("redis-cli", ["-p", String(port), "cluster", "info"]).toString()
        return info.includes("cluster_state:ok")
      })
      if (ok) break
      if (Date.now() > deadline) throw new Error("the Redis Cluster did not become ready")
      await sleep(100)
    }
  } catch (e) {
    await stop()
    throw e
  }
  return { nodes: ports.map((port) => ({ host: "127.0.0.1", port })), stop }
}

/** A plain client for assertions (keys, TTLs), closed by the caller. */
export const client = (url: string): IORedis => new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: false })

/** A cluster client for assertions. */
export const clusterClient = (nodes: RedisCluster["nodes"]): Cluster =>
  new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })))

