/**
 * SVG charts of the benchmark runs, written by hand (no dependency): a line chart with axes, ticks, labels, a
 * legend, a title and horizontal reference lines. `npm run bench` writes them into `bench/results/`:
 *
 * - `accuracy-<rate>.svg` — for each accuracy rate, the number of starts in the sliding window `(t − 1 s, t]` over
 *   time, one line per limiter, with the limit as a dashed red line. A line above the limit is a violation; a line
 *   below it, once the tasks are queued, is rate left unused. Each point is the largest count within its pixel
 *   column, so a one-instant spike over the limit stays visible.
 * - `lateness-<rate>.svg` — the distribution (CDF) of each task's extra wait: its start minus the moment the limit
 *   allowed it (the k-th start is due at submission + floor(k / limit) × 1 s), on a log scale.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import type { AccuracyTrace as Trace } from "./throttle.js"

/** One line of a chart. */
export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
  readonly color?: string | undefined
  readonly width?: number | undefined
  readonly dashed?: boolean | undefined
}

/** A horizontal reference line (a limit). */
export interface RefLine {
  readonly y: number
  readonly label: string
  readonly color?: string | undefined
}

export interface LineChart {
  readonly title: string
  readonly subtitle?: string | undefined
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  readonly refLines?: ReadonlyArray<RefLine> | undefined
  /** Log scale on x (values ≤ 0 are drawn at the left edge). */
  readonly logX?: boolean | undefined
  readonly xMin?: number | undefined
  readonly xMax?: number | undefined
  readonly yMin?: number | undefined
  readonly yMax?: number | undefined
  /** Draws each series as steps (for counts that hold between samples). */
  readonly steps?: boolean | undefined
}

/** A readable palette (colour-blind safe, Okabe–Ito), ours first. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9", "#999999"] as const

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export const niceTicks = (lo: number, hi: number, count = 6): ReadonlyArray<number> => {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
  const ticks: Array<number> = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

const formatTick = (v: number): string => {
  if (v === 0) return "0"
  const abs = Math.abs(v)
  if (abs >= 1e6) return `${v / 1e6}M`
  if (abs >= 1e4) return `${v / 1e3}k`
  return abs < 0.01 ? v.toExponential(0) : String(Number(v.toPrecision(3)))
}

/** Renders a line chart as a standalone SVG document. */
export const renderLineChart = (chart: LineChart): string => {
  const width = 960
  const height = 480
  const margin = { left: 78, right: 250, top: chart.subtitle === undefined ? 48 : 66, bottom: 58 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const all = chart.series.flatMap((s) => s.points)
  const xs = all.map(([x]) => x).filter((x) => !chart.logX || x > 0)
  const ys = all.map(([, y]) => y).concat((chart.refLines ?? []).map((r) => r.y))
  let xMin = chart.xMin ?? (xs.length > 0 ? Math.min(...xs) : 0)
  let xMax = chart.xMax ?? (xs.length > 0 ? Math.max(...xs) : 1)
  if (!(xMax > xMin)) xMax = xMin + 1
  const yMin = chart.yMin ?? 0
  let yMax = chart.yMax ?? (ys.length > 0 ? Math.max(...ys) * 1.08 : 1)
  if (!(yMax > yMin)) yMax = yMin + 1
  if (chart.logX) {
    xMin = 10 ** Math.floor(Math.log10(Math.max(xMin, 1e-6)))
    xMax = 10 ** Math.ceil(Math.log10(Math.max(xMax, xMin * 10)))
  }
  const sx = (x: number): number => {
    if (chart.logX) {
      const lx = Math.log10(Math.max(x, xMin))
      return margin.left + ((lx - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotW
    }
    return margin.left + ((x - xMin) / (xMax - xMin)) * plotW
  }
  const sy = (y: number): number => margin.top + plotH - ((Math.min(y, yMax) - yMin) / (yMax - yMin)) * plotH
  const f = (n: number) => n.toFixed(1)

  const out: Array<string> = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="26" font-size="16" font-weight="600" fill="#222">${escape(chart.title)}</text>`
  )
  if (chart.subtitle !== undefined) {
    out.push(`<text x="${margin.left}" y="46" font-size="12" fill="#555">${escape(chart.subtitle)}</text>`)
  }
  // Grid and ticks.
  const xTicks = chart.logX
    ? Array.from({ length: Math.round(Math.log10(xMax / xMin)) + 1 }, (_, i) => xMin * 10 ** i)
    : niceTicks(xMin, xMax, 8)
  const yTicks = niceTicks(yMin, yMax, 6)
  for (const t of yTicks) {
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#e6e6e6"/>`,
      `<text x="${margin.left - 8}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${formatTick(t)}</text>`
    )
  }
  for (const t of xTicks) {
    out.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`,
      `<text x="${f(sx(t))}" y="${margin.top + plotH + 18}" text-anchor="middle" fill="#444">${formatTick(t)}</text>`
    )
  }
  // Axes and their labels.
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle" fill="#222">${escape(chart.xLabel)}</text>`,
    `<text transform="translate(20 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">` +
      `${escape(chart.yLabel)}</text>`
  )
  // Series, clipped to the plot area.
  out.push(
    `<clipPath id="plot"><rect x="${margin.left}" y="${margin.top - 2}" width="${plotW}" height="${plotH + 4}"/></clipPath>`,
    `<g clip-path="url(#plot)" fill="none" stroke-linejoin="round">`
  )
  chart.series.forEach((s, i) => {
    if (s.points.length === 0) return
    const color = s.color ?? PALETTE[i % PALETTE.length]
    const coords: Array<string> = []
    let previous: readonly [number, number] | undefined
    for (const p of s.points) {
      if (chart.steps && previous !== undefined) coords.push(`${f(sx(p[0]))},${f(sy(previous[1]))}`)
      coords.push(`${f(sx(p[0]))},${f(sy(p[1]))}`)
      previous = p
    }
    out.push(
      `<polyline points="${coords.join(" ")}" stroke="${color}" stroke-width="${s.width ?? 1.6}"` +
        `${s.dashed ? " stroke-dasharray=\"5 4\"" : ""} opacity="0.9"/>`
    )
  })
  for (const r of chart.refLines ?? []) {
    const color = r.color ?? "#C00000"
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(sy(r.y))}" y2="${f(sy(r.y))}" stroke="${color}" ` +
        `stroke-width="1.5" stroke-dasharray="7 5"/>`
    )
  }
  out.push(`</g>`)
  // Legend: series, then reference lines.
  const legendX = margin.left + plotW + 18
  let legendY = margin.top + 8
  chart.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]
    out.push(
      `<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${color}" ` +
        `stroke-width="${Math.max(2, s.width ?? 1.6)}"${s.dashed ? " stroke-dasharray=\"5 4\"" : ""}/>`,
      `<text x="${legendX + 30}" y="${legendY + 4}" fill="#222">${escape(s.name)}</text>`
    )
    legendY += 20
  })
  for (const r of chart.refLines ?? []) {
    out.push(
      `<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${r.color ?? "#C00000"}" ` +
        `stroke-width="1.5" stroke-dasharray="7 5"/>`,
      `<text x="${legendX + 30}" y="${legendY + 4}" fill="#222">${escape(r.label)}</text>`
    )
    legendY += 20
  }
  out.push(`</svg>`)
  return out.join("\n") + "\n"
}

/**
 * The number of starts in the trailing window `(t − period, t]`… precisely `#{s : s ≤ t < s + period}` — sampled
 * as the largest value within each of `bins` equal columns of `[0, span)` (times relative to submission). A start
 * at the exact instant another leaves the window replaces it (the leave is applied first), as the limit allows.
 */
export const slidingCounts = (
  starts: ReadonlyArray<number>,
  period: number,
  span: number,
  bins: number
): ReadonlyArray<readonly [number, number]> => {
  const events: Array<readonly [number, number]> = []
  for (const s of starts) events.push([s, 1], [s + period, -1])
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const width = span / bins
  const points: Array<readonly [number, number]> = []
  let i = 0
  let count = 0
  for (let b = 0; b < bins; b++) {
    const end = (b + 1) * width
    let max = count
    while (i < events.length && (events[i] as readonly [number, number])[0] < end) {
      count += (events[i] as readonly [number, number])[1]
      // Several events at one instant are applied together before the count is read.
      const t = (events[i] as readonly [number, number])[0]
      while (i + 1 < events.length && (events[i + 1] as readonly [number, number])[0] === t) {
        i++
        count += (events[i] as readonly [number, number])[1]
      }
      if (count > max) max = count
      i++
    }
    points.push([b * width, max])
  }
  return points
}

/** Each start's extra wait (ms): the k-th start minus `t0 + floor(k / limit) × period`. */
export const lateness = (starts: ReadonlyArray<number>, t0: number, limit: number, period: number): Array<number> => {
  const sorted = Float64Array.from(starts).sort()
  return Array.from(sorted, (s, k) => s - (t0 + Math.floor(k / limit) * period))
}

/** The empirical CDF of `values` as at most `points` (value, fraction ≤ value) pairs (one sort). */
export const cdf = (values: ReadonlyArray<number>, points = 400): ReadonlyArray<readonly [number, number]> => {
  const n = values.length
  if (n === 0) return []
  const sorted = Float64Array.from(values).sort()
  const out: Array<readonly [number, number]> = []
  for (let i = 0; i <= points; i++) {
    const rank = (i / points) * (n - 1)
    const lo = Math.floor(rank)
    const a = sorted[lo] as number
    const b = sorted[Math.ceil(rank)] as number
    out.push([a + (b - a) * (rank - lo), (lo + 1) / n])
  }
  return out
}

const lastOf = (values: ReadonlyArray<number>): number => values.reduce((a, b) => (b > a ? b : a), Number.NEGATIVE_INFINITY)

const fileName = (rate: string): string => rate.replace("/", "-per-")

const styleOf = (limiter: string, index: number): Pick<Series, "color" | "width"> =>
  limiter.includes("ours") ? { color: PALETTE[0], width: 2.4 } : { color: PALETTE[1 + (index % 5)], width: 1.4 }

/**
 * Writes `accuracy-<rate>.svg` and `lateness-<rate>.svg` for every rate of `traces` into `dir`; returns the paths
 * written (relative to `dir`).
 */
export const writeAccuracyCharts = (
  traces: ReadonlyArray<Trace>,
  dir: string,
  note: string
): ReadonlyArray<string> => {
  mkdirSync(dir, { recursive: true })
  const written: Array<string> = []
  const rates = [...new Set(traces.map((t) => t.rate))]
  for (const rate of rates) {
    const group = traces.filter((t) => t.rate === rate)
    const limit = (group[0] as Trace).limit
    const period = (group[0] as Trace).period
    const relative = group.map((t) => t.starts.map((s) => s - t.t0))
    const lastStart = Math.max(0, ...relative.map(lastOf))
    const span = lastStart + period * 0.25
    const peers = group.filter((t) => !t.limiter.includes("ours"))
    const series = (make: (t: Trace, i: number) => Series) =>
      group.map((t) => make(t, peers.indexOf(t))).sort((a, b) => Number(a.name.includes("ours")) - Number(b.name.includes("ours")))
    const counts = renderLineChart({
      title: `Starts in the sliding 1 s window over time — ${rate}, ${
        Math.max(...group.map((t) => t.starts.length))
      } tasks submitted at once`,
      subtitle: `Above the red line = a violation; below it while tasks wait = rate left unused. ${note}`,
      xLabel: "time since submission (s)",
      yLabel: "starts in the last second",
      steps: true,
      yMin: 0,
      yMax: Math.max(limit * 1.25, ...relative.map((r) => (slidingCounts(r, period, span, 1)[0] as [number, number])[1])) *
        1.02,
      series: series((t, i) => {
        const own = relative[group.indexOf(t)] as Array<number>
        const last = lastOf(own)
        return {
          name: t.limiter,
          // Each line ends at its limiter's last start (a run cut short ends early).
          points: slidingCounts(own, period, span, 700).filter(([x], k) => k === 0 || x <= last).map(([x, y]) =>
            [x / 1000, y] as const
          ),
          ...styleOf(t.limiter, i)
        }
      }),
      refLines: [{ y: limit, label: `limit ${limit} per second` }]
    })
    const countsFile = `accuracy-${fileName(rate)}.svg`
    writeFileSync(`${dir}/${countsFile}`, counts)
    written.push(countsFile)
    const late = renderLineChart({
      title: `Extra wait per task (start − when the limit allowed it) — CDF, ${rate}`,
      subtitle: `Left and steep = punctual. Log scale; values ≤ 0.01 ms are drawn at the left edge. ${note}`,
      xLabel: "extra wait (ms, log scale)",
      yLabel: "fraction of tasks",
      logX: true,
      xMin: 0.01,
      yMin: 0,
      yMax: 1,
      series: series((t, i) => ({
        name: t.limiter,
        points: cdf(lateness(t.starts, t.t0, t.limit, t.period)).map(([x, y]) => [Math.max(x, 0.01), y] as const),
        ...styleOf(t.limiter, i)
      }))
    })
    const lateFile = `lateness-${fileName(rate)}.svg`
    writeFileSync(`${dir}/${lateFile}`, late)
    written.push(lateFile)
  }
  return written
}
