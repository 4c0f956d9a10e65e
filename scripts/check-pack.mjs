// Packs the library as npm would publish it and imports it from a plain Node script in a scratch project:
// the root entry, every subpath export, and one real throttled run. Fails (exit 1) on any problem.
import { execFileSync } from "node:child_process"
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const run = (cmd, args, cwd = root) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] }).toString()

run("npm", ["run", "build", "--silent"])
const scratch = mkdtempSync(join(tmpdir(), "effect-throttles-pack-"))
try {
  const tarball = run("npm", ["pack", "--silent", "--pack-destination", scratch]).trim().split("\n").pop()
  const target = join(scratch, "node_modules", "effect-throttles")
  mkdirSync(target, { recursive: true })
  run("tar", ["-xzf", join(scratch, tarball), "-C", target, "--strip-components=1"])
  // the peer dependency, as the consumer would have it installed
  symlinkSync(join(root, "node_modules", "effect"), join(scratch, "node_modules", "effect"), "dir")
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== "." && k !== "./package.json")
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }))
  writeFileSync(
    join(scratch, "consumer.mjs"),
    `import { Effect } from "effect"
import * as lib from "effect-throttles"
const expected = ["Rate", "Throttle", "ThrottleLive", "Scheduler", "TaskThrottler", "CircuitBreaker",
  "DynamicThrottle", "Barrier", "ResourceGuard", "UniqueResourceGuard", "Releasing"]
const missing = expected.filter((name) => lib[name] === undefined)
if (missing.length > 0) throw new Error("missing root exports: " + missing.join(", "))
for (const subpath of ${JSON.stringify(subpaths)}) await import("effect-throttles/" + subpath.slice(2))
const granted = await Effect.runPromise(Effect.provide(
  Effect.zipRight(Effect.forEach([1, 2, 3], () => lib.Throttle.withPermit(Effect.void)), lib.Throttle.stats),
  lib.ThrottleLive("5/s")
))
if (granted.granted !== 3) throw new Error("expected 3 grants, got " + granted.granted)
console.log("packed package OK: root + " + ${subpaths.length} + " subpaths import from plain Node; a throttle ran")
`
  )
  process.stdout.write(run("node", ["consumer.mjs"], scratch))
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
