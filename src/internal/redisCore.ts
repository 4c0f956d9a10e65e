/**
 * The Redis throttle's algorithm in TypeScript, with no Effect and no Redis: the same operations, arguments and
 * replies as the Lua script in `redisScript.ts`, on plain arrays. It is the fake store of the client's unit tests,
 * the in-memory store of the `"local"` fallback, and the reference the script is tested against (the same tables
 * run on both).
 *
 * Model (see `redisScript.ts`): each window is a log of records `(grant time, weight)` in grant-time order, with
 * future grants (reservations) included. A caller arriving at `now` is reserved at the earliest time `t >= max(now,
 * last record, pause, smooth schedule)` at which every window has room for its `n` permits, i.e. the log of each
 * window holds at most `limit - n` weight in `(t - period, t]`. Reserving appends its record, so everyone behind
 * is reserved after it: FIFO by arrival at the store. A cancelled record is removed; when it was the last one, the
 * next arrival may take its place, otherwise its slot stays unused (never over-admits). `maxConcurrent` is a FIFO
 * queue of waiters and a set of leases that expire after `leaseTtl` unless renewed.
 *
 * @internal
 */

/** Fixed configuration: one entry per window in `limits` / `periods` (milliseconds). */
export interface Config {
  readonly limits: ReadonlyArray<number>
  readonly periods: ReadonlyArray<number>
  /** Smooth spacing per permit (ms); 0 when not smoothing. */
  readonly interval: number
  /** GCRA burst (permits that may go closer together than the spacing); 0 when not smoothing. */
  readonly burst: number
  /** Concurrency cap; 0 when none. */
  readonly maxConcurrent: number
  /** Lease lifetime (ms) unless renewed. */
  readonly leaseTtl: number
}

/** The operations of the script. */
export type Op = "acquire" | "cancel" | "confirm" | "leave" | "release" | "renew" | "pause" | "stats"

/** A reply as Redis returns it: strings and nested arrays. */
export type Reply = ReadonlyArray<string | Reply>

interface Entry {
  score: number
  member: string
}

/** The state of one throttle's keys. */
export interface State {
  readonly windows: Array<Array<Entry>>
  c: Array<number>
  e: Array<number>
  tat: number
  pause: number
  held: number
  seq: number
  readonly leases: Array<Entry>
  readonly queue: Array<Entry>
  readonly beats: Array<Entry>
}

/** A fresh state: the keys do not exist. */
export const makeState = (windows: number): State => ({
  windows: Array.from({ length: windows }, () => []),
  c: new Array(windows).fill(0),
  e: new Array(windows).fill(0),
  tat: 0,
  pause: 0,
  held: 0,
  seq: 0,
  leases: [],
  queue: [],
  beats: []
})

/** How Redis orders sorted-set members: by score, then by member (bytes). */
const before = (a: Entry, b: Entry): boolean =>
  a.score < b.score || (a.score === b.score && a.member < b.member)

const zadd = (set: Array<Entry>, score: number, member: string): void => {
  zrem(set, member)
  const entry = { score, member }
  let i = set.length
  while (i > 0 && before(entry, set[i - 1] as Entry)) i--
  set.splice(i, 0, entry)
}

const zrem = (set: Array<Entry>, member: string): boolean => {
  const i = set.findIndex((x) => x.member === member)
  if (i < 0) return false
  set.splice(i, 1)
  return true
}

/** Removes and returns the entries with score <= max. */
const zpopUpTo = (set: Array<Entry>, max: number): Array<Entry> => {
  let i = 0
  while (i < set.length && (set[i] as Entry).score <= max) i++
  return set.splice(0, i)
}

/** Numbers travel as the script prints them (`%.17g`): JavaScript's shortest exact form reads back the same. */
export const num = (x: number): string =>
  x === Number.POSITIVE_INFINITY ? "inf" : x === Number.NEGATIVE_INFINITY ? "-inf" : String(x)

/** The zero-padded cum of a record member (so that members with one score sort by cum). */
export const pad = (x: number): string => String(Math.round(x)).padStart(15, "0")

const cumOf = (member: string): number => Number(member.slice(0, 15))
const weightOf = (member: string): number => Number(member.slice(0, member.indexOf(":")))

/** The member of a lease or a queued waiter: `"<n>:<id>"`. */
export const leaseMember = (n: number, id: string): string => `${n}:${id}`

/**
 * Runs one operation at `now`, as the script does; `wake` / `paused` are true when the script would publish a
 * wake-up (`"w"`) / a pause (`"p"`) on the throttle's channel.
 */
export const run = (
  config: Config,
  state: State,
  now: number,
  op: Op,
  args: ReadonlyArray<string>
): { readonly reply: Reply; readonly wake: boolean; readonly paused: boolean } => {
  const k = config.limits.length
  const { interval, burst, leaseTtl } = config
  const maxC = config.maxConcurrent
  let wake = false
  let paused = false
  const C = state.c
  const E = state.e
  for (let i = 0; i < k; i++) {
    const dropped = zpopUpTo(state.windows[i] as Array<Entry>, now - (config.periods[i] as number))
    if (dropped.length > 0) E[i] = cumOf((dropped[dropped.length - 1] as Entry).member)
  }
  if (maxC > 0) {
    const dead = zpopUpTo(state.leases, now)
    for (const d of dead) state.held -= weightOf(d.member)
    const gone = zpopUpTo(state.beats, now)
    for (const g of gone) zrem(state.queue, g.member)
    if (dead.length > 0 || gone.length > 0) wake = true
  }

  const tail = (): number => {
    let t = Number.NEGATIVE_INFINITY
    for (const w of state.windows) {
      const last = w[w.length - 1]
      if (last !== undefined && last.score > t) t = last.score
    }
    return t
  }

  const due = (i: number, t0: number, n: number): number => {
    // every record still in the log counts at most once: room for n even if all of them are in the window
    if ((C[i] as number) - (E[i] as number) + n <= (config.limits[i] as number)) return t0
    const w = state.windows[i] as Array<Entry>
    const period = config.periods[i] as number
    let base = E[i] as number
    // r0: the first record still in the window at t0 (binary search by score)
    let lo = 0
    let hi = w.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((w[mid] as Entry).score <= t0 - period) lo = mid + 1
      else hi = mid
    }
    const r0 = lo
    if (r0 > 0) base = cumOf((w[r0 - 1] as Entry).member)
    const need = (C[i] as number) - base + n - (config.limits[i] as number)
    if (need <= 0) return t0
    // the first record whose expiry makes room: cum >= base + need (binary search by cum)
    const target = base + need
    lo = r0
    hi = Math.min(r0 + need - 1, w.length - 1)
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumOf((w[mid] as Entry).member) >= target) hi = mid
      else lo = mid + 1
    }
    return Math.max(t0, (w[lo] as Entry).score + period)
  }

  const start = (): number => {
    let t0 = Math.max(now, tail(), state.pause)
    if (interval > 0) t0 = Math.max(t0, state.tat - (burst - 1) * interval)
    return t0
  }

  const grantTime = (n: number): number => {
    const t0 = start()
    let t = t0
    for (let i = 0; i < k; i++) t = Math.max(t, due(i, t0, n))
    return t
  }

  const decision = (queued: boolean): Array<string> => {
    let bestI = 0
    let bestR = Number.POSITIVE_INFINITY
    for (let i = 0; i < k; i++) {
      const r = queued ? 0 : Math.max(0, (config.limits[i] as number) - ((C[i] as number) - (E[i] as number)))
      if (r < bestR) {
        bestI = i
        bestR = r
      }
    }
    if (maxC > 0) bestR = Math.max(0, Math.min(bestR, maxC - state.held))
    const w = state.windows[bestI] as Array<Entry>
    const last = w[w.length - 1]
    const reset = last === undefined ? 0 : Math.max(0, last.score + (config.periods[bestI] as number) - now)
    return [num(config.limits[bestI] as number), num(bestR), num(reset)]
  }

  const record = (t: number, n: number, id: string): { cums: Array<string>; prevTat: number } => {
    const cums: Array<string> = []
    for (let i = 0; i < k; i++) {
      C[i] = (C[i] as number) + n
      zadd(state.windows[i] as Array<Entry>, t, `${pad(C[i] as number)}:${n}:${id}`)
      cums.push(num(C[i] as number))
    }
    const prevTat = state.tat
    if (interval > 0) state.tat = Math.max(state.tat, t) + n * interval
    return { cums, prevTat }
  }

  /** Removes a reservation's records (cums from `args[from]`); true when it was the last one. */
  const unrecord = (n: number, id: string, prevTat: number, from: number): boolean => {
    let wasLast = false
    for (let i = 0; i < k; i++) {
      const cum = Number(args[from + i])
      const w = state.windows[i] as Array<Entry>
      if (zrem(w, `${pad(cum)}:${n}:${id}`) && C[i] === cum) {
        wasLast = true
        const last = w[w.length - 1]
        C[i] = last === undefined ? (E[i] as number) : cumOf(last.member)
      }
    }
    if (wasLast && interval > 0) state.tat = prevTat
    return wasLast
  }

  const wakeIfQueued = (): void => {
    if (state.queue.length > 0) wake = true
  }

  const hint = (): string => {
    const first = state.leases[0]
    return first === undefined ? "-1" : num(first.score - now)
  }

  const reply: Array<string | Reply> = [num(now)]
  switch (op) {
    case "acquire": {
      const m = Number(args[0])
      for (let r = 0; r < m; r++) {
        const n = Number(args[1 + 4 * r])
        const id = args[2 + 4 * r] as string
        const maxWait = Number(args[3 + 4 * r])
        const mode = args[4 + 4 * r]
        const member = leaseMember(n, id)
        let out: Array<string> | undefined
        let leased = false
        if (maxC > 0) {
          if (mode === "t") {
            if (state.queue.length > 0 || state.held + n > maxC) {
              out = ["no", num(Math.max(0, grantTime(n) - now)), ...decision(state.queue.length > 0)]
            }
          } else {
            if (!state.queue.some((x) => x.member === member)) zadd(state.queue, ++state.seq, member)
            const head = state.queue[0]?.member
            if (head !== member || state.held + n > maxC) {
              zadd(state.beats, now + leaseTtl, member)
              out = ["queued", hint()]
            } else {
              zrem(state.queue, member)
              zrem(state.beats, member)
            }
          }
          if (out === undefined) {
            zadd(state.leases, now + leaseTtl, member)
            state.held += n
            leased = true
          }
        }
        if (out === undefined) {
          const t = grantTime(n)
          const queued = t > now
          if (mode === "t") {
            if (queued) out = ["no", num(t - now)]
            else {
              record(t, n, id)
              out = ["ok", "0", num(t), "0"]
            }
            out.push(...decision(queued ? start() > now : false))
          } else if (maxWait >= 0 && t - now > maxWait) {
            out = ["late", num(t - now)]
          } else {
            const { cums, prevTat } = record(t, n, id)
            out = ["ok", num(t - now), num(t), num(prevTat), ...cums]
          }
          if (out[0] !== "ok" && leased) {
            zrem(state.leases, member)
            state.held -= n
            leased = false
            wakeIfQueued()
          }
        }
        if (leased) wakeIfQueued()
        reply.push(out)
      }
      break
    }
    case "cancel": {
      const wasLast = unrecord(Number(args[0]), args[1] as string, Number(args[3]), 5)
      const lease = args[4] as string
      if (lease !== "" && zrem(state.leases, lease)) {
        state.held -= weightOf(lease)
        wakeIfQueued()
      }
      reply.push(wasLast ? "1" : "0")
      break
    }
    case "confirm": {
      const n = Number(args[0])
      const id = args[1] as string
      if (state.pause <= Number(args[2])) reply.push(["ok"])
      else {
        unrecord(n, id, Number(args[3]), 5)
        const t = grantTime(n)
        const { cums, prevTat } = record(t, n, id)
        reply.push(["moved", num(t - now), num(t), num(prevTat), ...cums])
      }
      break
    }
    case "leave": {
      const member = args[0] as string
      zrem(state.beats, member)
      if (zrem(state.queue, member)) wakeIfQueued()
      break
    }
    case "release": {
      const member = args[0] as string
      const r = Number(args[1])
      const entry = state.leases.find((x) => x.member === member)
      if (entry !== undefined) {
        zrem(state.leases, member)
        const n = weightOf(member)
        state.held -= Math.min(r, n)
        if (n > r) zadd(state.leases, entry.score, `${n - r}${member.slice(String(n).length)}`)
        wakeIfQueued()
        reply.push("1")
      } else reply.push("0")
      break
    }
    case "renew": {
      let lost = 0
      for (const member of args) {
        if (state.leases.some((x) => x.member === member)) zadd(state.leases, now + leaseTtl, member)
        else lost++
      }
      reply.push(num(lost))
      break
    }
    case "pause": {
      const until = now + Number(args[0])
      if (until > state.pause) {
        state.pause = until
        paused = true
      }
      reply.push(num(state.pause))
      break
    }
    case "stats": {
      const w0 = state.windows[0] as Array<Entry>
      const waiting = w0.filter((x) => x.score > now).length + state.queue.length
      let available = 0
      if (waiting === 0 && start() <= now) {
        available = Number.POSITIVE_INFINITY
        for (let i = 0; i < k; i++) {
          available = Math.min(available, (config.limits[i] as number) - ((C[i] as number) - (E[i] as number)))
        }
        if (maxC > 0) available = Math.min(available, maxC - state.held)
        available = Math.max(0, available)
      }
      reply.push(num(waiting), num(available), num(state.pause), num(state.held))
      break
    }
  }
  return { reply, wake, paused }
}

/** The script's `ARGV` for one call (see `redisScript.ts`). */
export const argv = (
  config: Config,
  op: Op,
  now: number | undefined,
  deadline: number | undefined,
  channel: string,
  args: ReadonlyArray<string>
): Array<string> => {
  const out = [op, now === undefined ? "" : num(now), deadline === undefined ? "" : num(deadline)]
  out.push(String(config.limits.length))
  for (let i = 0; i < config.limits.length; i++) {
    out.push(num(config.limits[i] as number), num(config.periods[i] as number))
  }
  out.push(num(config.interval), num(config.burst), num(config.maxConcurrent), num(config.leaseTtl), channel)
  for (const a of args) out.push(a)
  return out
}

/** The keys of one throttle, under one hash tag: meta, leases, queue, heartbeats, then one per window. */
export const keys = (prefix: string, key: string, windows: number): Array<string> => {
  const tag = `{${prefix}:${key}}`
  const out = [`${tag}:m`, `${tag}:l`, `${tag}:q`, `${tag}:h`]
  for (let i = 1; i <= windows; i++) out.push(`${tag}:w${i}`)
  return out
}

/** One acquire request of a batch. */
export interface Request {
  readonly n: number
  readonly id: string
  /** Milliseconds, or -1 for no deadline. */
  readonly maxWait: number
  /** `"w"`: reserve (wait); `"t"`: grant now or refuse (tryAcquire / attempt). */
  readonly mode: "w" | "t"
}

/** The `args` of an `acquire` batch. */
export const acquireArgs = (requests: ReadonlyArray<Request>): Array<string> => {
  const out = [String(requests.length)]
  for (const r of requests) out.push(num(r.n), r.id, num(r.maxWait), r.mode)
  return out
}

/** What one acquire request got. Times are milliseconds on the store's clock. */
export type Outcome =
  | {
    readonly _tag: "Reserved"
    readonly wait: number
    readonly at: number
    readonly prevTat: number
    readonly cums: ReadonlyArray<string>
  }
  | { readonly _tag: "Late"; readonly retryAfter: number }
  | { readonly _tag: "Queued"; readonly hint: number }
  | {
    readonly _tag: "Decided"
    readonly granted: boolean
    readonly retryAfter: number
    readonly limit: number
    readonly remaining: number
    readonly resetAfter: number
  }

const toNumber = (s: string | Reply | undefined): number => {
  if (typeof s !== "string") return Number.NaN
  return s === "inf" ? Number.POSITIVE_INFINITY : s === "-inf" ? Number.NEGATIVE_INFINITY : Number(s)
}

/** Decodes one request's reply; `mode` is the request's. */
export const decodeOutcome = (reply: Reply, mode: "w" | "t"): Outcome => {
  const status = reply[0]
  if (mode === "t") {
    const d = reply.length - 3
    return {
      _tag: "Decided",
      granted: status === "ok",
      retryAfter: status === "ok" ? 0 : toNumber(reply[1]),
      limit: toNumber(reply[d]),
      remaining: toNumber(reply[d + 1]),
      resetAfter: toNumber(reply[d + 2])
    }
  }
  switch (status) {
    case "ok":
      return {
        _tag: "Reserved",
        wait: toNumber(reply[1]),
        at: toNumber(reply[2]),
        prevTat: toNumber(reply[3]),
        cums: reply.slice(4) as ReadonlyArray<string>
      }
    case "late":
      return { _tag: "Late", retryAfter: toNumber(reply[1]) }
    default:
      return { _tag: "Queued", hint: toNumber(reply[1]) }
  }
}

/** The `args` of a `cancel`. */
export const cancelArgs = (
  n: number,
  id: string,
  reserved: { readonly at: number; readonly prevTat: number; readonly cums: ReadonlyArray<string> },
  lease: string
): Array<string> => [num(n), id, num(reserved.at), num(reserved.prevTat), lease, ...reserved.cums]

/** The decoded `stats` reply. */
export interface StoreStats {
  readonly now: number
  readonly waiting: number
  readonly available: number
  readonly pausedUntil: number
  readonly held: number
}

/** Decodes a `stats` reply. */
export const decodeStats = (reply: Reply): StoreStats => ({
  now: toNumber(reply[0]),
  waiting: toNumber(reply[1]),
  available: toNumber(reply[2]),
  pausedUntil: toNumber(reply[3]),
  held: toNumber(reply[4])
})

/** Reads a number of a reply. */
export const replyNumber: (s: string | Reply | undefined) => number = toNumber

/** The hash-tag-free key check: a message for a bad key, or `undefined`. */
export const checkKey = (key: unknown, option: string): string | undefined =>
  typeof key === "string" && key.length > 0 && !key.includes("{") && !key.includes("}")
    ? undefined
    : `Expected ${option} to be a non-empty string without "{" or "}" (the throttle puts its keys under one hash tag), got ${
      typeof key === "string" ? JSON.stringify(key) : String(key)
    }`
