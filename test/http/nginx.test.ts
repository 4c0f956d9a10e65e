/**
 * The external judge: nginx's `limit_req` (a rate enforcer no one here wrote), started by the test on a free port
 * with a config it writes into a temp dir. Without burst, `limit_req` refuses a request that arrives less than
 * `1 / rate` after the last one it admitted (leaky bucket, millisecond clock), so the matching client rate for
 * `10r/s` is one request per 100 ms ("1/100ms"), and `measure: "release"` keeps that spacing at the server
 * whatever the network does.
 *
 * nginx absent: the suite is skipped with one line; with `EFFECT_THROTTLES_REQUIRE_NGINX=1` (CI) absence fails.
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either } from "effect"
import type * as Scope from "effect/Scope"
import { ThrottledHttpClient } from "effect-throttles/http"

const nginxBinary = ["nginx", "/usr/sbin/nginx"].find((bin) => spawnSync(bin, ["-v"]).status === 0)
const required = process.env["EFFECT_THROTTLES_REQUIRE_NGINX"] === "1"

if (nginxBinary === undefined) {
  if (required) throw new Error("nginx not found, but EFFECT_THROTTLES_REQUIRE_NGINX=1: install nginx (nginx-light)")
  console.warn("nginx not found: skipping the nginx limit_req tests (set EFFECT_THROTTLES_REQUIRE_NGINX=1 to require)")
}

const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const waitForPort = (port: number, errorLog: string): Effect.Effect<void> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  }).pipe(
    Effect.flatMap((up) =>
      up ? Effect.void : Effect.zipRight(Effect.sleep("50 millis"), waitForPort(port, errorLog))
    ),
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => {
        let log = ""
        try {
          log = readFileSync(errorLog, "utf8")
        } catch {
          // no log written
        }
        return new Error(`nginx did not listen on ${port}; its error log:\n${log}`)
      }
    }),
    Effect.orDie
  )

/** nginx with one `limit_req` zone of `rate` r/s, no burst, 429 on refusal; stopped (and its dir removed) on close. */
const nginx = (rate: number): Effect.Effect<{ readonly url: string; readonly refusals: Effect.Effect<number> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort
    const dir = mkdtempSync(join(tmpdir(), "effect-throttles-nginx-"))
    chmodSync(dir, 0o755) // nginx's workers (user nobody when started as root) read www/
    mkdirSync(join(dir, "www"))
    mkdirSync(join(dir, "tmp"))
    writeFileSync(join(dir, "www", "ok.txt"), "ok\n")
    const conf = join(dir, "nginx.conf")
    writeFileSync(
      conf,
      `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  limit_req_zone $binary_remote_addr zone=api:1m rate=${rate}r/s;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location / {
      limit_req zone=api;
      limit_req_status 429;
      try_files /ok.txt =404;
    }
  }
}
`
    )
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(nginxBinary!, ["-p", dir, "-c", conf, "-e", join(dir, "error.log"), "-g", "daemon off;"], {
          stdio: ["ignore", "ignore", "pipe"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        }).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
    )
    child.stderr?.on("data", () => {})
    yield* waitForPort(port, join(dir, "error.log"))
    const refusals = Effect.sync(() => {
      try {
        return readFileSync(join(dir, "access.log"), "utf8").split("\n").filter((line) => line.includes("\" 429 "))
          .length
      } catch {
        return 0
      }
    })
    return { url: `http://127.0.0.1:${port}/`, refusals }
  })

const run = (client: HttpClient.HttpClient.With<any>, url: string, n: number, concurrency: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => Effect.either(Effect.map(client.get(`${url}?i=${i}`), (response) => response.status)),
    { concurrency }
  )

describe.skipIf(nginxBinary === undefined)("external judge: nginx limit_req", () => {
  it.scopedLive("given the matching rate (1/100ms for 10r/s), the client gets no 429 from nginx", () =>
    Effect.gen(function*() {
      const server = yield* nginx(10)
      const client = yield* ThrottledHttpClient.wrap({ rate: "1/100ms", maxRetries: 0 })(yield* HttpClient.HttpClient)
      const results = yield* run(client, server.url, 20, 8)
      expect(results.filter(Either.isLeft)).toEqual([])
      expect(results.map((r) => Either.getOrThrow(r))).toEqual(Array(20).fill(200))
      expect(yield* server.refusals).toBe(0)
    }).pipe(Effect.provide(NodeHttpClient.layer)))

  it.scopedLive("and at 50r/s (1/20ms)", () =>
    Effect.gen(function*() {
      const server = yield* nginx(50)
      const client = yield* ThrottledHttpClient.wrap({ rate: "1/20ms", maxRetries: 0 })(yield* HttpClient.HttpClient)
      const results = yield* run(client, server.url, 60, 8)
      expect(results.filter(Either.isLeft)).toEqual([])
      expect(yield* server.refusals).toBe(0)
    }).pipe(Effect.provide(NodeHttpClient.layer)))

  it.scopedLive("started with no rate and adaptive, the client settles to a low 429 share", () =>
    Effect.gen(function*() {
      const server = yield* nginx(10)
      const client = yield* ThrottledHttpClient.wrap({ adaptive: true, maxRetries: 50 })(yield* HttpClient.HttpClient)
      // learning: nginx refuses and says nothing about when to come back (the default pause of 1 s applies)
      yield* run(client, server.url, 10, 4)
      const learnt = yield* server.refusals
      const settled = yield* run(client, server.url, 20, 4)
      expect(settled.filter(Either.isLeft)).toEqual([])
      const refusedAfter = (yield* server.refusals) - learnt
      // a low share: fewer than 1 in 6 of the requests sent while settled were refused
      expect(refusedAfter / (20 + refusedAfter)).toBeLessThan(1 / 6)
    }).pipe(Effect.provide(NodeHttpClient.layer)), 30_000)
})
