/**
 * Before and after in one run: the in-memory Throttle of this checkout against the one of an older checkout, on
 * the two hot paths of the overhead and contention scenarios, round-robin in one process so that load and GC hit
 * every case alike.
 *
 *   git worktree add --detach ../before <commit> && ln -s "$PWD/node_modules" ../before/node_modules
 *   npx tsx bench/baseline.ts ../before [--rounds=40] [--built]
 *
 * - uncontended: `Effect.forEach` of 200 000 `withPermit(Effect.void)` one after another, the rate out of reach;
 *   floor: the same `forEach` over `Effect.sync(noop)`; reference: the bare interruption-safe bracket
 *   (`uninterruptibleMask` + `matchCauseEffect`) that any permit must cost.
 * - contention: N fibers, each `withPermit(Effect.yieldNow())` under `maxConcurrent: 10`; floor: the same N fibers
 *   with no limiter.
 * - "metrics: false" rows: this checkout without its metrics and spans (wave 1 had none; DESIGN allows them up to
 *   10% on the uncontended path), the like-for-like comparison with a checkout that predates them.
 *
 * Reported: the median and the smallest of the runs, ns (µs) per operation and the ratio to the floor of the same
 * run; then after / before paired by round (each round runs every case once, starting with the next case each
 * time) with a 95% bootstrap interval, which says whether a difference stands out of this machine's noise.
 * `--rounds=N` sets the rounds of every section (default 9, and 5 for 10 000 tasks; 40 gives intervals of a few
 * percent). `--built` compares the two as tsc compiled them (`npm run build` in both checkouts first): the code
 * users run, without tsx's transform. The older checkout must export `make(rate, options)` from
 * `src/internal/throttle.ts` (every version does). The paired ratio moves by several percent from one process to
 * the next (each process's JIT decisions are its own): compare a few runs.
 *
 *   npx tsx bench/baseline.ts ../before --built --processes=P [--only=<part of a case's name>]
 *
 * runs each build in processes of its own instead: for every case, P pairs of child processes (one per build,
 * the order flipped from one pair to the next), each of which measures its build's row and the case's floor, three
 * warm-up runs and seven measured ones, and prints their medians. In one process the two builds share `effect`'s
 * code and the JIT's feedback on it (its inline caches see both builds' classes), which can weigh on one build
 * more than the other; in processes of their own, each build is measured as users run it, alone. Reported:
 * after / before paired by process pair with its 95% bootstrap interval, and each build's ratio to the floor
 * measured in its own processes.
 */
import { Effect, type Scope } from "effect"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as current from "../src/internal/throttle.js"
import { fmt, median, pairedRatio, range, roundRobin, type Sample, sample, table } from "./harness.js"
import { passThrough, UNLIMITED } from "./throttle.js"
import { sequential } from "./throttle2.js"

type Wrap = (self: Effect.Effect<void>) => Effect.Effect<void>
type Make = (rate: unknown, options?: unknown) => Effect.Effect<{ readonly withPermit: Wrap }, unknown, Scope.Scope>

const main = async (): Promise<void> => {
  const before = process.argv[2]
  const roundsArg = process.argv.find((a) => a.startsWith("--rounds="))
  const rounds = roundsArg === undefined ? undefined : Number(roundsArg.slice("--rounds=".length))
  if (before === undefined || (rounds !== undefined && !(Number.isSafeInteger(rounds) && rounds >= 3))) {
    console.error("usage: npx tsx bench/baseline.ts <path of an older checkout> [--rounds=N (>= 3)] [--built]")
    process.exitCode = 2
    return
  }
  // --built: both as tsc compiled them (`dist/`, as users run them), not through tsx, whose transform adds a
  // `__name` call to every named function it creates and so weighs on each code shape differently
  const built = process.argv.includes("--built")
  const processesArg = process.argv.find((a) => a.startsWith("--processes="))
  const processes = processesArg === undefined ? undefined : Number(processesArg.slice("--processes=".length))
  if (processes !== undefined && !(Number.isSafeInteger(processes) && processes >= 3)) {
    console.error("usage: --processes=P wants P >= 3")
    process.exitCode = 2
    return
  }
  const load = async (tree: string): Promise<{ make: Make }> => {
    const file = path.resolve(tree, built ? "dist/internal/throttle.js" : "src/internal/throttle.ts")
    if (!existsSync(file)) throw new Error(`${file} is missing${built ? " (npm run build in that checkout)" : ""}`)
    return (await import(pathToFileURL(file).href)) as { make: Make }
  }
  const childArg = process.argv.find((a) => a.startsWith("--child="))
  if (childArg !== undefined) {
    // a child of --processes: one build's row of one case and that case's floor, in this process alone
    const [floor, row] = isolatedCase((await load(before)).make, childArg.slice("--child=".length))
    const [f, r] = await roundRobin({ warmup: 3, repetitions: 7, rotate: true }, [floor, row])
    console.log(JSON.stringify({ floor: (f as Sample).median, row: (r as Sample).median }))
    return
  }
  const onlyArg = process.argv.find((a) => a.startsWith("--only="))
  if (processes !== undefined) return isolated(before, processes, built, onlyArg?.slice("--only=".length))
  const older = await load(before)
  const after = built ? (await load(here)).make : current.make as unknown as Make
  const makers: ReadonlyArray<readonly [string, Make]> = [
    ["before", older.make],
    ["after", after]
  ]

  // Uncontended.
  const ops = 200_000
  /** `op` under the wrapper `wrap` builds, `ops` times one after another: ns per op. */
  const wrapped = (wrap: Effect.Effect<Wrap, never, Scope.Scope>, op: Effect.Effect<void>) =>
    sequential(wrap, (w) => w(op), ops)
  const uncontended: ReadonlyArray<readonly [string, () => Promise<number>]> = [
    ["floor: forEach over Effect.sync", wrapped(Effect.succeed((self) => self), Effect.sync(() => {}))],
    [
      "ref: uninterruptibleMask + matchCauseEffect",
      wrapped(
        Effect.succeed(((self: Effect.Effect<void>) =>
          Effect.uninterruptibleMask((restore) => Effect.matchCauseEffect(restore(self), passThrough))) as unknown as Wrap),
        Effect.void
      )
    ],
    ...makers.map(([name, make]) => [`withPermit, ${name}`, wrapped(withPermitOf(make), Effect.void)] as const),
    // the same module as "after" (with --built, the compiled one)
    ["withPermit, after, metrics: false", wrapped(withPermitOf(after, { metrics: false }), Effect.void)]
  ]
  const report = (title: string, unit: string, names: ReadonlyArray<string>, samples: ReadonlyArray<Sample>) => {
    const floor = samples[0] as Sample
    console.log(`\n${title}\n`)
    console.log(table(
      ["case", `median ${unit}`, "× floor", `smallest ${unit}`, "× floor"],
      names.map((name, i) => {
        const s = samples[i] as Sample
        return [name, fmt(s.median, 2), (s.median / floor.median).toFixed(2), fmt(s.min, 2), (s.min / floor.min).toFixed(2)]
      })
    ))
  }
  /** The after / before lines: per-round ratios (the cases at `b` against the one at `a`). */
  const paired = (samples: ReadonlyArray<Sample>, a: number, bs: ReadonlyArray<readonly [string, number]>) => {
    for (const [name, b] of bs) {
      const r = pairedRatio(samples[a] as Sample, samples[b] as Sample)
      console.log(
        `${name} / before, paired by round: median ${r.median.toFixed(3)} (95%: ${r.low.toFixed(3)}–${
          r.high.toFixed(3)
        })`
      )
    }
  }
  const u = await roundRobin(
    { warmup: 1, repetitions: rounds ?? 9, rotate: true },
    uncontended.map(([, once]) => once)
  )
  report(`Uncontended, ${fmt(ops)} operations one after another`, "ns/op", uncontended.map(([name]) => name), u)
  console.log()
  paired(u, 2, [["after", 3], ["after, metrics: false", 4]])

  // Contention.
  for (const n of [1_000, 10_000]) {
    const concurrent = contention(n)
    const contended: ReadonlyArray<readonly [string, () => Promise<number>]> = [
      [`floor: ${fmt(n)} fibers, no limiter`, concurrent(Effect.succeed((self) => self))],
      ...makers.map(([name, make]) =>
        [`withPermit under maxConcurrent 10, ${name}`, concurrent(withPermitOf(make, { maxConcurrent: 10 }))] as const
      ),
      // wave 1 had no metrics: this is the row to hold against it
      [
        "withPermit under maxConcurrent 10, after, metrics: false",
        concurrent(withPermitOf(after, { maxConcurrent: 10, metrics: false }))
      ]
    ]
    const c = await roundRobin(
      { warmup: 1, repetitions: rounds ?? (n <= 1_000 ? 9 : 5), rotate: true },
      contended.map(([, once]) => once)
    )
    report(`Contention, ${fmt(n)} tasks`, "µs/task", contended.map(([name]) => name), c)
    console.log()
    paired(c, 1, [["after", 2], ["after, metrics: false", 3]])
  }
}

/** This checkout. */
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The `withPermit` of a throttle that `make` builds with the rate out of reach. */
const withPermitOf = (make: Make, options?: unknown) =>
  Effect.map(Effect.orDie(make(UNLIMITED, options)), (t) => t.withPermit)

/** The contention case: `n` fibers at once, each running `Effect.yieldNow()` under the wrapper: µs per task. */
const contention = (n: number) => {
  const tasks = range(n)
  return (wrap: Effect.Effect<Wrap, never, Scope.Scope>) => () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const w = yield* wrap
      const start = performance.now()
      yield* Effect.forEach(tasks, () => w(Effect.yieldNow()), { concurrency: "unbounded", discard: true })
      return ((performance.now() - start) * 1e3) / n
    })))
}

/** The cases of `--processes`: for each, its floor and the row of the build `make`. */
const isolatedCase = (make: Make, name: string): readonly [() => Promise<number>, () => Promise<number>] => {
  const build = (options?: unknown) => withPermitOf(make, options)
  const ops = 200_000
  const none = Effect.succeed((self: Effect.Effect<void>) => self)
  switch (name) {
    case "uncontended":
    case "uncontended, metrics: false":
      return [
        sequential(none, (w) => w(Effect.sync(() => {})), ops),
        sequential(build(name === "uncontended" ? undefined : { metrics: false }), (w) => w(Effect.void), ops)
      ]
    case "1 000 fibers":
    case "10 000 fibers":
    case "1 000 fibers, metrics: false":
    case "10 000 fibers, metrics: false": {
      const run = contention(name.startsWith("1 000") ? 1_000 : 10_000)
      return [run(none), run(build({ maxConcurrent: 10, ...(name.endsWith("false") ? { metrics: false } : {}) }))]
    }
  }
  throw new Error(`unknown case ${name}`)
}

/** `--processes=P`: every case in child processes, one build per process, P pairs, the order flipped per pair. */
const isolated = (before: string, pairs: number, built: boolean, only: string | undefined): void => {
  const script = fileURLToPath(import.meta.url)
  const child = (tree: string, name: string): { readonly floor: number; readonly row: number } => {
    const args = [...process.execArgv, script, tree, `--child=${name}`, ...(built ? ["--built"] : [])]
    const out = spawnSync(process.execPath, args, { encoding: "utf8" })
    if (out.status !== 0) throw new Error(`child ${tree} ${name} failed: ${out.stderr}`)
    return JSON.parse(out.stdout.trim().split("\n").pop() as string) as { floor: number; row: number }
  }
  const names = [
    "uncontended",
    "uncontended, metrics: false",
    "1 000 fibers",
    "1 000 fibers, metrics: false",
    "10 000 fibers",
    "10 000 fibers, metrics: false"
  ].filter((name) => only === undefined || name.includes(only))
  const rows: Array<ReadonlyArray<string>> = []
  for (const name of names) {
    const b: Array<{ floor: number; row: number }> = []
    const a: Array<{ floor: number; row: number }> = []
    for (let i = 0; i < pairs; i++) {
      if (i % 2 === 0) {
        b.push(child(before, name))
        a.push(child(here, name))
      } else {
        a.push(child(here, name))
        b.push(child(before, name))
      }
    }
    const r = pairedRatio(sample(b.map((x) => x.row)), sample(a.map((x) => x.row)))
    const cell = (xs: ReadonlyArray<{ floor: number; row: number }>) =>
      `${fmt(median(xs.map((x) => x.row)), 2)} (${median(xs.map((x) => x.row / x.floor)).toFixed(2)}×)`
    rows.push([name, cell(b), cell(a), `${r.median.toFixed(3)} (${r.low.toFixed(3)}–${r.high.toFixed(3)})`])
    console.log(`${name}: done`)
  }
  console.log(`\nEach build in processes of its own, ${pairs} pairs per case (ns/op uncontended, µs/task under contention;`)
  console.log("in parentheses, the median of each process's ratio to the floor it measured itself)\n")
  console.log(table(["case", "before", "after", "after / before, paired (95%)"], rows))
}

await main()
