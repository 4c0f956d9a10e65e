/**
 * What the in-memory Throttle does per operation, counted instead of timed, in this checkout and an older one (both
 * built: `npm run build` in each, as for `bench/baseline.ts --built`):
 *
 *   git worktree add --detach ../before <commit> && ln -s "$PWD/node_modules" ../before/node_modules
 *   (cd ../before && npm run build) && npm run build && npx tsx bench/work.ts ../before
 *
 * - Effect steps: how many instructions the fiber runtime evaluates (its handlers, counted by wrapping them).
 * - Bytes allocated: V8's sampling heap profiler, the objects that the collector already freed included.
 *
 * Cases as in `bench/baseline.ts`: 20 000 `withPermit(Effect.void)` one after another (the rate out of reach), and
 * 1 000 and 10 000 fibers each running `withPermit(Effect.yieldNow())` under `maxConcurrent: 10`; each with its
 * floor (the same driver, no limiter). Each build runs in a process of its own.
 *
 * Why: on this shared 2-core machine a timing harness resolves differences of about 10% (the paired ratios of
 * `bench/baseline.ts` move by that much between processes on the same code). Steps do not move at all, and bytes
 * by about 1% (sampling), so two versions that count the same did the same work in the runtime and the collector;
 * what remains between them is their own synchronous code, which a CPU profile measures (README, "Benchmarks").
 */
import { Effect, type Scope } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, realpathSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { table } from "./harness.js"

type Wrap = (self: Effect.Effect<void>) => Effect.Effect<void>
type Make = (rate: unknown, options?: unknown) => Effect.Effect<{ readonly withPermit: Wrap }, unknown, Scope.Scope>

const UNCONTENDED = 20_000
const CASES = ["uncontended", "1 000 fibers", "10 000 fibers"] as const
type Case = (typeof CASES)[number]

/** The file of `effect`'s fiber runtime that the checkout at `tree` loads (its own node_modules, resolved). */
const fiberRuntimeOf = (tree: string): string => {
  const main = createRequire(path.join(tree, "package.json")).resolve("effect")
  // (require resolves the CommonJS build; the built package imports the ESM one next to it)
  return realpathSync(path.join(path.dirname(main), "..", "esm", "internal", "fiberRuntime.js"))
}

/** In a child: one build's counts (steps, bytes per operation) for every case, with its floor. */
const child = async (tree: string, metrics: boolean) => {
  const file = path.resolve(tree, "dist/internal/throttle.js")
  const { make } = (await import(pathToFileURL(file).href)) as { make: Make }
  const { FiberRuntime } = (await import(pathToFileURL(fiberRuntimeOf(tree)).href)) as {
    FiberRuntime: { prototype: Record<string, unknown> }
  }
  let steps = 0
  let counting = false
  for (const name of Object.getOwnPropertyNames(FiberRuntime.prototype)) {
    const handler = FiberRuntime.prototype[name]
    // the instruction handlers are the methods named after an op code ("Sync", "OnSuccess", "Async", …)
    if (!/^[A-Z]/.test(name) || typeof handler !== "function") continue
    FiberRuntime.prototype[name] = function(this: unknown, ...args: Array<unknown>) {
      if (counting) steps++
      return handler.apply(this, args)
    }
  }
  const options = metrics ? { maxConcurrent: 10 } : { maxConcurrent: 10, metrics: false }
  const none = Effect.succeed((self: Effect.Effect<void>) => self)
  const wrapOf = (limited: boolean) =>
    limited
      ? Effect.map(Effect.orDie(make({ limit: Number.MAX_SAFE_INTEGER, period: "1 second" }, options)), (t) => t.withPermit)
      : none
  const runOf = (c: Case, limited: boolean): [number, () => Promise<void>] => {
    const n = c === "uncontended" ? UNCONTENDED : c === "1 000 fibers" ? 1_000 : 10_000
    const indices = Array.from({ length: n }, (_, i) => i)
    const body = c === "uncontended"
      ? (w: Wrap) => Effect.forEach(indices, () => w(limited ? Effect.void : Effect.sync(() => {})), { discard: true })
      : (w: Wrap) => Effect.forEach(indices, () => w(Effect.yieldNow()), { concurrency: "unbounded", discard: true })
    return [n, () => Effect.runPromise(Effect.scoped(Effect.flatMap(wrapOf(limited), body)))]
  }
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  const out: Record<string, { readonly steps: number; readonly bytes: number }> = {}
  for (const c of CASES) {
    for (const limited of [false, true]) {
      const [n, run] = runOf(c, limited)
      for (let i = 0; i < 3; i++) await run()
      steps = 0
      counting = true
      await run()
      counting = false
      const counted = steps
      await session.post("HeapProfiler.startSampling", {
        samplingInterval: 128,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true
      } as never)
      await run()
      const { profile } = (await session.post("HeapProfiler.stopSampling")) as {
        profile: { head: { selfSize: number; children: Array<unknown> } }
      }
      let bytes = 0
      const walk = (node: { selfSize: number; children: Array<unknown> }): void => {
        bytes += node.selfSize
        for (const c of node.children) walk(c as typeof node)
      }
      walk(profile.head)
      out[`${c}${limited ? "" : " floor"}`] = { steps: counted / n, bytes: bytes / n }
    }
  }
  console.log(JSON.stringify(out))
}

const main = () => {
  const before = process.argv[2]
  if (before === undefined || before.startsWith("--")) {
    console.error("usage: npx tsx bench/work.ts <path of an older checkout, built>")
    process.exitCode = 2
    return
  }
  const here = path.resolve(fileURLToPath(import.meta.url), "../..")
  for (const tree of [before, here]) {
    if (!existsSync(path.resolve(tree, "dist/internal/throttle.js"))) {
      throw new Error(`${path.resolve(tree, "dist")} is missing: npm run build in that checkout`)
    }
  }
  if (fiberRuntimeOf(before) !== fiberRuntimeOf(here)) {
    throw new Error(`the two checkouts load different copies of effect: link ${before}/node_modules to this one's`)
  }
  const run = (tree: string, metrics: boolean) => {
    const result = spawnSync(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), `--child=${JSON.stringify({ tree, metrics })}`],
      { encoding: "utf8", maxBuffer: 1 << 24 }
    )
    if (result.status !== 0) throw new Error(`a child failed:\n${result.stderr}`)
    return JSON.parse(result.stdout.trim().split("\n").pop() as string) as Record<
      string,
      { readonly steps: number; readonly bytes: number }
    >
  }
  const rows: Array<[string, Record<string, { readonly steps: number; readonly bytes: number }>]> = [
    ["before", run(before, true)],
    ["after", run(here, true)],
    ["before, metrics: false", run(before, false)],
    ["after, metrics: false", run(here, false)]
  ]
  console.log(`\nPer operation: Effect steps · bytes allocated (floor: the same driver, no limiter)\n`)
  const cell = (r: { readonly steps: number; readonly bytes: number }) =>
    `${r.steps.toFixed(2)} · ${Math.round(r.bytes).toLocaleString("en-US")}`
  const floors = rows[1]![1]
  console.log(table(
    ["build", ...CASES],
    [["floor", ...CASES.map((c) => cell(floors[`${c} floor`]!))], ...rows.map(([name, r]) => [name, ...CASES.map((c) => cell(r[c]!))])]
  ))
  const ratio = (a: string, b: string, what: "steps" | "bytes") =>
    CASES.map((c) => {
      const x = rows.find(([n]) => n === a)![1][c]!
      const y = rows.find(([n]) => n === b)![1][c]!
      return (x[what] / y[what]).toFixed(3)
    })
  console.log()
  console.log(table(["after / before", ...CASES], [
    ["steps", ...ratio("after", "before", "steps")],
    ["bytes", ...ratio("after", "before", "bytes")],
    ["steps, metrics: false", ...ratio("after, metrics: false", "before, metrics: false", "steps")],
    ["bytes, metrics: false", ...ratio("after, metrics: false", "before, metrics: false", "bytes")]
  ]))
}

const childArg = process.argv.find((a) => a.startsWith("--child="))
if (childArg !== undefined) {
  const { tree, metrics } = JSON.parse(childArg.slice("--child=".length)) as { tree: string; metrics: boolean }
  await child(tree, metrics)
} else {
  main()
}
