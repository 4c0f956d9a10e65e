/**
 * `npm run demo:redis`: three processes share one Redis throttle of "10/s".
 *
 * Starts a `redis-server` from PATH on a free port, forks 3 workers (`redis-demo-worker.ts`) that each try to
 * start tasks as fast as they can through `ThrottleRedis.layer({ key: "demo", rate: "10/s" })`, prints how many
 * tasks each worker started in each second and the total (10, never more), and stops everything it started.
 */
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"

const WORKERS = 3
const SECONDS = 5

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.on("error", () => resolve(false))
  })

const main = async () => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" })
  } catch {
    console.error("redis-server is not on PATH: install it (e.g. `apt-get install redis-server`) to run this demo.")
    process.exit(1)
  }
  const port = await freePort()
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })
  const children: Array<ChildProcess> = [redis]
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM")
  }
  process.on("SIGINT", () => {
    stopAll()
    process.exit(130)
  })
  try {
    while (!(await ping(port))) await new Promise((resolve) => setTimeout(resolve, 50))
    const url = `redis://127.0.0.1:${port}`
    console.log(`redis-server on ${url}; ${WORKERS} workers share "10/s" for ${SECONDS} s\n`)
    const workerPath = fileURLToPath(new URL("./redis-demo-worker.ts", import.meta.url))
    const starts: Array<Array<number>> = Array.from({ length: WORKERS }, () => [])
    await Promise.all(
      starts.map((mine) =>
        new Promise<void>((resolve, reject) => {
          const child = fork(workerPath, [url, "demo", String(SECONDS)], { execArgv: ["--import", "tsx"] })
          children.push(child)
          child.on("message", (m: { start: number }) => mine.push(m.start))
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))))
        })
      )
    )
    // grants come in bursts one second apart: each row is one second, counted around its burst
    const first = Math.min(...starts.flat())
    const rows = new Map<number, Array<number>>()
    starts.forEach((mine, w) => {
      for (const start of mine) {
        const second = Math.round((start - first) / 1000)
        const row = rows.get(second) ?? new Array(WORKERS).fill(0)
        row[w]++
        rows.set(second, row)
      }
    })
    const header = ["second", ...starts.map((_, w) => `worker ${w + 1}`), "total"]
    console.log(header.map((h) => h.padStart(9)).join(""))
    for (const [second, row] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
      const total = row.reduce((a, b) => a + b, 0)
      console.log([second, ...row, total].map((v) => String(v).padStart(9)).join(""))
    }
    const max = Math.max(...[...rows.values()].map((row) => row.reduce((a, b) => a + b, 0)))
    console.log(`\nat most ${max} starts in any second across ${WORKERS} processes (limit 10)`)
  } finally {
    stopAll()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
