// Packs the library as npm would publish it and checks the tarball the way a consumer meets it. Fails (exit 1) on
// any problem. What it proves:
//   - the tarball holds LICENSE, README.md, package.json and the built dist/;
//   - the shipped package.json is the consumer's: no devDependencies, overrides or development scripts (the
//     prepack/postpack pair, scripts/pack-manifest.mjs, cleans it), and the developer's package.json is back,
//     byte for byte, after the pack;
//   - every relative link in the shipped README points to a file that is in the tarball;
//   - from a plain Node script in a scratch project: the root entry and every subpath export import, and one real
//     throttled run works;
//   - importing the package root loads neither `ioredis` nor `@effect/platform` (a module-resolution hook records
//     every module loaded, and `require.cache` is checked), although both are installed in the scratch project.
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, posix, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const run = (cmd, args, cwd = root, env = process.env) =>
  execFileSync(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "inherit"] }).toString()
const problems = []
const check = (ok, message) => {
  if (!ok) problems.push(message)
}

run("npm", ["run", "build", "--silent"])
const manifestBefore = readFileSync(join(root, "package.json"), "utf8")
const scratch = mkdtempSync(join(tmpdir(), "effect-throttles-pack-"))
try {
  const tarball = run("npm", ["pack", "--silent", "--pack-destination", scratch]).trim().split("\n").pop()
  check(
    readFileSync(join(root, "package.json"), "utf8") === manifestBefore,
    "package.json was not restored after npm pack (postpack)"
  )

  // --- the tarball's contents ---
  const files = new Set(
    run("tar", ["-tzf", join(scratch, tarball)]).trim().split("\n").map((path) => path.replace(/^package\//, ""))
  )
  for (const required of ["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts"]) {
    check(files.has(required), `the tarball has no ${required}`)
  }
  const target = join(scratch, "node_modules", "effect-throttles")
  mkdirSync(target, { recursive: true })
  run("tar", ["-xzf", join(scratch, tarball), "-C", target, "--strip-components=1"])

  // --- the shipped package.json ---
  const shipped = JSON.parse(readFileSync(join(target, "package.json"), "utf8"))
  const pkg = JSON.parse(manifestBefore)
  for (const field of ["devDependencies", "overrides"]) {
    check(shipped[field] === undefined, `the shipped package.json carries "${field}"`)
  }
  const shippedScripts = Object.keys(shipped.scripts ?? {})
  check(
    shippedScripts.every((name) => ["preinstall", "install", "postinstall"].includes(name)),
    `the shipped package.json carries development scripts: ${shippedScripts.join(", ")}`
  )
  for (const field of ["name", "version", "license", "type", "exports", "peerDependencies", "files"]) {
    check(
      JSON.stringify(shipped[field]) === JSON.stringify(pkg[field]),
      `the shipped package.json changed "${field}"`
    )
  }

  // --- README links resolve inside the tarball ---
  const readme = readFileSync(join(target, "README.md"), "utf8")
  const links = [...readme.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...readme.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)]
    .map((match) => match[1])
    .filter((link) => !/^(?:[a-z][a-z0-9+.-]*:|#)/i.test(link))
  for (const link of links) {
    const path = posix.normalize(decodeURI(link.replace(/[#?].*$/, ""))).replace(/^\.\//, "").replace(/\/$/, "")
    const shippedPath = files.has(path) || [...files].some((file) => file.startsWith(`${path}/`))
    check(shippedPath, `README links to "${link}", which is not in the tarball`)
  }

  // --- the scratch project: the peer dependency, and the optional integrations installed ---
  const linkDependency = (name) => {
    const from = join(root, "node_modules", name)
    if (!existsSync(from)) return false
    mkdirSync(join(scratch, "node_modules", posix.dirname(name)), { recursive: true })
    symlinkSync(from, join(scratch, "node_modules", name), "dir")
    return true
  }
  linkDependency("effect")
  const heavy = ["ioredis", "@effect/platform"].filter(linkDependency)
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

  // --- what importing the root loads ---
  // A resolve hook (it runs on the loader thread) appends every resolved URL to a log file; the program itself
  // adds the CommonJS modules in require.cache.
  writeFileSync(
    join(scratch, "record-hooks.mjs"),
    `import { appendFileSync } from "node:fs"
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(process.env.LOADED_LOG, result.url + "\\n")
  return result
}
`
  )
  writeFileSync(
    join(scratch, "record.mjs"),
    `import { register } from "node:module"
register("./record-hooks.mjs", import.meta.url)
`
  )
  writeFileSync(
    join(scratch, "import-only.mjs"),
    `import { appendFileSync } from "node:fs"
import { createRequire } from "node:module"
const loaded = await import(process.argv[2])
if (process.argv[2] === "effect-throttles") {
  const { Effect } = await import("effect")
  await Effect.runPromise(Effect.provide(loaded.Throttle.withPermit(Effect.void), loaded.ThrottleLive("5/s")))
}
appendFileSync(process.env.LOADED_LOG, Object.keys(createRequire(import.meta.url).cache).join("\\n") + "\\n")
`
  )
  const loadedBy = (specifier) => {
    const log = join(scratch, `loaded-${specifier.replace(/\W+/g, "_")}.log`)
    writeFileSync(log, "")
    run("node", ["--import", "./record.mjs", "import-only.mjs", specifier], scratch, { ...process.env, LOADED_LOG: log })
    return readFileSync(log, "utf8").split("\n").filter((line) => line !== "")
  }
  const isHeavy = (name) => (url) => url.includes(`/node_modules/${name}/`)
  const fromRoot = [...new Set(loadedBy("effect-throttles"))]
  // the hook works: it saw the package and its peer
  check(fromRoot.some((url) => url.includes("/node_modules/effect-throttles/dist/")), "the load hook saw no module")
  check(fromRoot.some(isHeavy("effect")), "the load hook did not see effect")
  for (const name of heavy) {
    const hits = fromRoot.filter(isHeavy(name))
    check(hits.length === 0, `importing the package root loads ${name}: ${hits.slice(0, 3).join(", ")}`)
    // and it would have noticed: importing the integration directly is recorded
    check(loadedBy(name).some(isHeavy(name)), `the load hook does not detect ${name}`)
  }
  if (problems.length === 0) {
    process.stdout.write(
      `root import: ${fromRoot.length} modules loaded, none of ${heavy.length === 0 ? "(none installed)" : heavy.join(", ")}; ` +
        `tarball: ${files.size} files incl. LICENSE, ${links.length} README links resolve, package.json cleaned\n`
    )
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
if (problems.length > 0) {
  process.stderr.write(`check-pack failed:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`)
  process.exit(1)
}
