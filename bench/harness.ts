/**
 * Benchmark harness: timing, statistics, garbage collection, the sliding-window checker and table formatting.
 *
 * Nothing here knows about throttles; `bench/throttle.ts` builds the scenarios on top of it. Everything runs on the
 * real clock (`performance.now()`), never on a `TestClock`.
 */
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"

/** The positive number of the command-line option `--<name>=<value>`, or `fallback`. */
export const option = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  const value = arg === undefined ? fallback : Number(arg.slice(name.length + 3))
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`Expected --${name} to be a positive number, got ${arg}`)
  return value
}


// ---------------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------------

/** The `p`-th percentile (0..100) of `values`, linearly interpolated between closest ranks. `NaN` when empty. */
export const percentile = (values: ArrayLike<number>, p: number): number => {
  const n = values.length
  if (n === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = (p / 100) * (n - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (rank - lo)
}

/** `[0, 1, …, n - 1]`. */
export const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)

/** The median of `values`. */
export const median = (values: ArrayLike<number>): number => percentile(values, 50)

/** A repeated measurement: every run, and the median. */
export interface Sample {
  /** Median of `runs`. */
  readonly median: number
  /** Smallest of `runs`. */
  readonly min: number
  /** Every measured run, in order. */
  readonly runs: ReadonlyArray<number>
}

/** Summarizes repeated runs of one measurement. */
export const sample = (runs: ReadonlyArray<number>): Sample => ({
  median: median(runs),
  min: Math.min(...runs),
  runs
})

/**
 * Runs `once` `warmup` times (discarded), then `repetitions` times, collecting a garbage before every run so that
 * one run does not pay for the previous one's garbage. `once` returns the value to keep (e.g. ns per op).
 */
export const repeat = async (
  options: { readonly warmup: number; readonly repetitions: number },
  once: () => Promise<number>
): Promise<Sample> => {
  for (let i = 0; i < options.warmup; i++) {
    collectGarbage()
    await once()
  }
  const runs: Array<number> = []
  for (let i = 0; i < options.repetitions; i++) {
    collectGarbage()
    runs.push(await once())
  }
  return sample(runs)
}

/**
 * Like {@link repeat} for several cases at once, interleaved: every round runs each case once, in order, so that
 * a change in machine load (the CPU is shared) or JIT state spreads over all cases instead of skewing one.
 * Returns one sample per case, in the order given.
 */
export const roundRobin = async (
  options: {
    readonly warmup: number
    readonly repetitions: number
    /** Start each round with the next case (so that no case always runs right after the same one). */
    readonly rotate?: boolean | undefined
  },
  cases: ReadonlyArray<() => Promise<number>>
): Promise<ReadonlyArray<Sample>> => {
  for (let i = 0; i < options.warmup; i++) {
    for (const once of cases) {
      collectGarbage()
      await once()
    }
  }
  const runs: Array<Array<number>> = cases.map(() => [])
  for (let i = 0; i < options.repetitions; i++) {
    for (let j = 0; j < cases.length; j++) {
      const c = options.rotate === true ? (i + j) % cases.length : j
      collectGarbage()
      runs[c]?.push(await (cases[c] as () => Promise<number>)())
    }
  }
  return runs.map(sample)
}

/**
 * `b / a` paired by round (both samples from one `roundRobin`): the median of the per-round ratios and a 95%
 * bootstrap interval of that median (2 000 resamples, fixed seed), so that "no slower" can be read with its noise.
 */
export const pairedRatio = (a: Sample, b: Sample): { readonly median: number; readonly low: number; readonly high: number } => {
  const ratios = b.runs.map((x, i) => x / (a.runs[i] as number))
  const median = (xs: ReadonlyArray<number>) => {
    const sorted = [...xs].sort((x, y) => x - y)
    return sorted[Math.floor(sorted.length / 2)] as number
  }
  let seed = 12345
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  const boots: Array<number> = []
  for (let k = 0; k < 2000; k++) {
    boots.push(median(ratios.map(() => ratios[Math.floor(random() * ratios.length)] as number)))
  }
  boots.sort((x, y) => x - y)
  return { median: median(ratios), low: boots[50] as number, high: boots[1949] as number }
}

// ---------------------------------------------------------------------------------------------------------------
// Garbage collection and heap
// ---------------------------------------------------------------------------------------------------------------

/**
 * A full garbage collection. Uses `global.gc` when node runs with `--expose-gc`; otherwise it enables the flag at
 * run time and fetches `gc` from a fresh V8 context (a documented V8 trick), so `npm run bench` needs no flag.
 */
const gcFunction: (() => void) | undefined = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === "function") return exposed
  try {
    v8.setFlagsFromString("--expose-gc")
    const fromContext = vm.runInNewContext("gc") as unknown
    if (typeof fromContext === "function") return fromContext as () => void
  } catch {
    // fall through: no way to force a collection
  }
  return undefined
})()

/** Whether {@link collectGarbage} really collects (false when neither route to `gc` worked). */
export const gcAvailable: boolean = gcFunction !== undefined

/** Collects garbage (twice: the second pass frees what the first one's finalizers released). */
export const collectGarbage = (): void => {
  gcFunction?.()
  gcFunction?.()
}

/** `process.memoryUsage().heapUsed` after a full collection. */
export const heapUsedAfterGc = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

// ---------------------------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------------------------

/** The monotonic clock in milliseconds (sub-millisecond resolution). */
export const now = (): number => performance.now()

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------------------
// Sliding-window analysis of start times
// ---------------------------------------------------------------------------------------------------------------

/** What {@link analyzeStarts} reports about a sequence of start times. */
export interface WindowReport {
  /** Tasks submitted. */
  readonly submitted: number
  /** Tasks that started before the run ended (fewer than `submitted` when the run hit its deadline). */
  readonly started: number
  /** The largest number of starts in any half-open window `[t, t + period)`. */
  readonly maxInWindow: number
  /**
   * Windows `[s_i, s_i + period)` (one per start `s_i`) holding more than `limit` starts. Every window that
   * exceeds the limit can be slid right until it begins at a start without losing any, so this counts them all.
   */
  readonly violations: number
  /**
   * The same count with windows shortened by the tolerance: `[s_i, s_i + period - tolerance)`. Violations that
   * vanish with a 1 ms tolerance (`violations - violationsBeyondTolerance`) are timer/clock rounding.
   */
  readonly violationsBeyondTolerance: number
  /**
   * Achieved rate as a fraction of `limit`: `(started - limit) / (last - first) * period / limit`. It discounts
   * the initial burst of `limit` starts that every burst-per-window limiter (and a token bucket that starts full)
   * admits at once, so the ideal schedule below scores exactly 1. (A purely smooth limiter scores
   * `(N - limit) / (N - 1)` at best: 0.877 for 50/s x 400.)
   */
  readonly achieved: number
  /**
   * Lateness of each start against the ideal burst-per-window schedule, in ms: the k-th start (in time order,
   * k from 0) is due at `t0 + floor(k / limit) * period`, `t0` being the moment the tasks were submitted. That is
   * the fastest schedule the contract "at most `limit` starts in any window of `period`" allows.
   */
  readonly lateness: { readonly p50: number; readonly p95: number; readonly max: number }
  /**
   * The same lateness with the schedule anchored at the first start instead of the submission (`t0` = first
   * start): it leaves out the time to get the first task going (for Effect-native limiters mostly forking all N
   * fibers) and measures only how punctually later windows follow the first.
   */
  readonly latenessFromFirst: { readonly p50: number; readonly p95: number; readonly max: number }
  /**
   * How much too early the worst violating start came, in ms: the maximum over `i` of
   * `s_i + period - s_{i + limit}` (0 when there is no violation). Below 1 ms it is clock rounding.
   */
  readonly worstEarlyMs: number
  /** From submission to the last start, ms. */
  readonly spanMs: number
}

/**
 * Analyzes start times (ms, any order) of tasks submitted at `t0` to a limiter of `limit` per `period` ms.
 * `submitted` is the number of tasks submitted (the array may hold fewer starts if the run was cut short).
 */
export const analyzeStarts = (options: {
  readonly starts: ArrayLike<number>
  readonly submitted: number
  readonly t0: number
  readonly limit: number
  readonly period: number
  readonly tolerance?: number | undefined
}): WindowReport => {
  const { limit, period, t0 } = options
  const tolerance = options.tolerance ?? 1
  const s = Float64Array.from(options.starts).sort()
  const n = s.length
  const countWindows = (length: number): { max: number; over: number } => {
    let max = 0
    let over = 0
    let j = 0
    for (let i = 0; i < n; i++) {
      if (j < i) j = i
      const end = (s[i] as number) + length
      while (j < n && (s[j] as number) < end) j++
      const count = j - i
      if (count > max) max = count
      if (count > limit) over++
    }
    return { max, over }
  }
  const exact = countWindows(period)
  const tolerant = countWindows(period - tolerance)
  const first = n > 0 ? (s[0] as number) : Number.NaN
  const last = n > 0 ? (s[n - 1] as number) : Number.NaN
  const latenessFrom = (origin: number) => {
    const late = new Float64Array(n)
    for (let k = 0; k < n; k++) late[k] = (s[k] as number) - (origin + Math.floor(k / limit) * period)
    return { p50: percentile(late, 50), p95: percentile(late, 95), max: n > 0 ? Math.max(...late) : Number.NaN }
  }
  let worstEarlyMs = 0
  for (let i = 0; i + limit < n; i++) {
    worstEarlyMs = Math.max(worstEarlyMs, (s[i] as number) + period - (s[i + limit] as number))
  }
  const achieved = n > limit && last > first ? ((n - limit) / (last - first)) * period / limit : Number.NaN
  return {
    submitted: options.submitted,
    started: n,
    maxInWindow: exact.max,
    violations: exact.over,
    violationsBeyondTolerance: tolerant.over,
    achieved,
    lateness: latenessFrom(t0),
    latenessFromFirst: latenessFrom(first),
    worstEarlyMs,
    spanMs: n > 0 ? last - t0 : Number.NaN
  }
}

/**
 * Checks the checker on synthetic schedules: it must pass the ideal schedule, flag a start 0.5 ms early as a
 * rounding-only violation, and flag a schedule with `limit + 1` starts in one window as a real violation.
 * Throws when it does not; returns a one-line summary.
 */
export const selfTestAnalyzer = (): string => {
  const limit = 5
  const period = 1000
  // Five windows of five starts 0.01 ms apart; each window 0.1 ms later than the exact grid, so that no two
  // starts more than `limit` apart are closer than `period`.
  const ideal = Array.from(
    { length: 25 },
    (_, k) => 100 + Math.floor(k / limit) * (period + 0.1) + (k % limit) * 0.01
  )
  const a = analyzeStarts({ starts: ideal, submitted: 25, t0: 100, limit, period })
  const rounding = ideal.slice()
  rounding[5] = (rounding[5] as number) - 0.5 // first start of window 2 comes 0.5 ms early
  const b = analyzeStarts({ starts: rounding, submitted: 25, t0: 100, limit, period })
  const broken = ideal.slice()
  broken[5] = 600 // a sixth start inside the first window
  const c = analyzeStarts({ starts: broken, submitted: 25, t0: 100, limit, period })
  const ok = a.violations === 0 && a.maxInWindow === limit && Math.abs(a.achieved - 1) < 1e-3 &&
    a.lateness.max < 1 && a.worstEarlyMs === 0 &&
    b.violations > 0 && b.violationsBeyondTolerance === 0 && b.worstEarlyMs > 0 && b.worstEarlyMs < 1 &&
    c.violationsBeyondTolerance > 0 && c.maxInWindow === limit + 1 && c.worstEarlyMs > 400
  if (!ok) {
    throw new Error(`sliding-window checker self-test failed: ${JSON.stringify({ a, b, c })}`)
  }
  return `checker self-test ok: ideal 0 violations (achieved ${(a.achieved * 100).toFixed(1)}%), ` +
    `0.5 ms early -> ${b.violations} violation(s), all within 1 ms; ` +
    `${limit + 1} in one window -> ${c.violationsBeyondTolerance} real violation(s)`
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------------------------

/** A markdown table, columns padded so that it also reads well in a terminal. Right-aligns all but column 0. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ") +
    " |"
  const rule = "|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|"
  return [line(headers), rule, ...rows.map(line)].join("\n")
}

/** Formats a number with `digits` decimals, or "—" for NaN/undefined. */
export const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || Number.isNaN(x) ? "—" : x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits
  })

/** Formats a ratio as `1.23×`. */
export const ratio = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? "—" : `${x.toFixed(2)}×`)

/** Formats a fraction as a percentage. */
export const pct = (x: number | undefined, digits = 1): string =>
  x === undefined || Number.isNaN(x) ? "—" : `${(x * 100).toFixed(digits)}%`

/** Formats bytes as `1.2 KB` etc. */
export const bytes = (x: number): string =>
  Math.abs(x) >= 1024 * 1024 ? `${(x / 1024 / 1024).toFixed(1)} MB` : Math.abs(x) >= 1024 ? `${(x / 1024).toFixed(2)} KB` : `${x.toFixed(0)} B`

// ---------------------------------------------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------------------------------------------

/** The machine a run happened on. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGB: number
  readonly platform: string
  readonly node: string
  readonly v8: string
  readonly effect: string
  readonly gc: boolean
  readonly loadavg: ReadonlyArray<number>
}

/** Describes the current machine; `effectVersion` comes from `effect/package.json`. */
export const machine = (effectVersion: string): Machine => {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 1024 ** 3),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    effect: effectVersion,
    gc: gcAvailable,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100)
  }
}
