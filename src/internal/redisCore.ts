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
  /** `"release"`: a slot is held from the grant until a period after its release (default `"start"`). */
  readonly measure?: "start" | "release" | undefined
}

/** The operations of the script. */
export type Op = "acquire" | "cancel" | "confirm" | "leave" | "release" | "renew" | "pause" | "stats"

/** A reply as Redis returns it: strings and nested arrays. */
export type Reply = ReadonlyArray<string | Reply>

/** Times closer than this (ms) are one: a waiter told to come back at t may arrive a rounding error before it. */
const EPSILON = 1e-6

/** The reply to a request granted at the call's time without a wait (the common case, kept small). */
export const GRANTED = "g"

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
  return i === 0 ? [] : set.splice(0, i)
}

/** Numbers travel as the script prints them (`%.17g`): JavaScript's shortest exact form reads back the same. */
export const num = (x: number): string =>
  x === Number.POSITIVE_INFINITY ? "inf" : x === Number.NEGATIVE_INFINITY ? "-inf" : String(x)

/** The zero-padded cum of a record member (so that members with one score sort by cum). */
export const pad = (x: number): string => String(Math.round(x)).padStart(15, "0")

const cumOf = (member: string): number => Number(member.slice(0, 15))
const weightOf = (member: string): number => Number(member.slice(0, member.indexOf(":")))
const idOf = (member: string): string => member.slice(member.indexOf(":") + 1)

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
  const release = config.measure === "release"
  const minLimit = Math.min(...config.limits)
  const maxPeriod = Math.max(...config.periods)
  const leasing = maxC > 0 || release
  const cap = release && (maxC === 0 || minLimit < maxC) ? minLimit : maxC
  let wake = false
  let paused = false
  const C = state.c
  const E = state.e
  for (let i = 0; i < k; i++) {
    const dropped = zpopUpTo(state.windows[i] as Array<Entry>, now - (config.periods[i] as number))
    if (dropped.length > 0) E[i] = cumOf((dropped[dropped.length - 1] as Entry).member)
  }

  const lastRecord = (): number => {
    let t = Number.NEGATIVE_INFINITY
    for (const w of state.windows) {
      const last = w[w.length - 1]
      if (last !== undefined && last.score > t) t = last.score
    }
    return t
  }
  let tailT = lastRecord()

  // the grants at now of this call are one record (see the script): its entries, updated in place
  let merged: Array<Entry> | undefined
  let mergedN = 0
  let mergedId = ""
  /** The script writes the merged record here (later grants at now start a new one). */
  const flushMerged = (): void => {
    mergedN = 0
  }

  /** Appends a record of n at t (t >= every record's time) in every window; returns the cums. */
  const append = (t: number, n: number, id: string): Array<string> => {
    const cums: Array<string> = []
    if (t > tailT) tailT = t
    if (t === now) {
      if (merged === undefined || mergedN === 0) {
        mergedId = id
        merged = []
      }
      mergedN += n
      for (let i = 0; i < k; i++) {
        C[i] = (C[i] as number) + n
        cums.push(num(C[i] as number))
        const member = `${pad(C[i] as number)}:${mergedN}:${mergedId}`
        const w = state.windows[i] as Array<Entry>
        const entry = merged[i]
        if (entry === undefined) {
          const fresh = { score: t, member }
          merged[i] = fresh
          w.push(fresh)
        } else entry.member = member
      }
    } else {
      flushMerged()
      for (let i = 0; i < k; i++) {
        C[i] = (C[i] as number) + n
        ;(state.windows[i] as Array<Entry>).push({ score: t, member: `${pad(C[i] as number)}:${n}:${id}` })
        cums.push(num(C[i] as number))
      }
    }
    return cums
  }

  if (leasing) {
    const dead = zpopUpTo(state.leases, now)
    for (const d of dead) {
      const w = weightOf(d.member)
      state.held -= w
      if (release) {
        const at = Math.max(d.score, tailT)
        if (at + maxPeriod > now) append(at, w, idOf(d.member))
      }
    }
    const gone = zpopUpTo(state.beats, now)
    for (const g of gone) zrem(state.queue, g.member)
    if (dead.length > 0 || gone.length > 0) wake = true
  }

  const due = (i: number, t0: number, n: number, extra: number): number => {
    // every record still in the log counts at most once: room for n even if all of them are in the window
    if (extra + (C[i] as number) - (E[i] as number) + n <= (config.limits[i] as number)) return t0
    flushMerged()
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
    const need = extra + (C[i] as number) - base + n - (config.limits[i] as number)
    if (need <= 0) return t0
    if (need > (C[i] as number) - base) return Number.POSITIVE_INFINITY
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
    let t0 = Math.max(now, tailT, state.pause)
    if (interval > 0) t0 = Math.max(t0, state.tat - (burst - 1) * interval)
    return t0
  }

  const grantTime = (n: number, extra: number): number => {
    const t0 = start()
    let t = t0
    for (let i = 0; i < k; i++) t = Math.max(t, due(i, t0, n, extra))
    return t
  }

  const inWindow = (): number => release ? state.held : 0

  const decision = (queued: boolean): Array<string> => {
    flushMerged()
    let bestI = 0
    let bestR = Number.POSITIVE_INFINITY
    for (let i = 0; i < k; i++) {
      const r = queued
        ? 0
        : Math.max(0, (config.limits[i] as number) - ((C[i] as number) - (E[i] as number)) - inWindow())
      if (r < bestR) {
        bestI = i
        bestR = r
      }
    }
    if (leasing) bestR = Math.max(0, Math.min(bestR, cap - state.held))
    const w = state.windows[bestI] as Array<Entry>
    const last = w[w.length - 1]
    let reset = last === undefined ? 0 : Math.max(0, last.score + (config.periods[bestI] as number) - now)
    if (release && state.held > 0) reset = Math.max(reset, config.periods[bestI] as number)
    return [num(config.limits[bestI] as number), num(bestR), num(reset)]
  }

  const space = (t: number, n: number): number => {
    const prevTat = state.tat
    if (interval > 0) state.tat = Math.max(state.tat, t) + n * interval
    return prevTat
  }

  const record = (t: number, n: number, id: string): { cums: Array<string>; prevTat: number } => {
    const cums = append(t, n, id)
    return { cums, prevTat: space(t, n) }
  }

  /** Removes a reservation's records (cums from `args[from]`); true when it was the last one. */
  const unrecord = (n: number, id: string, prevTat: number, from: number): boolean => {
    flushMerged()
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
    tailT = lastRecord()
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

  /** One request of an acquire batch under measure "release" (see the script). */
  const acquireReleased = (n: number, id: string, mode: string): string | Array<string> => {
    const member = leaseMember(n, id)
    if (mode === "t") {
      const t = grantTime(n, state.held)
      if (state.queue.length > 0 || state.held + n > cap || t > now + EPSILON) {
        return [
          "no",
          num(Math.max(0, grantTime(n, 0) - now)),
          ...decision(state.queue.length > 0 || start() > now)
        ]
      }
    } else {
      if (!state.queue.some((x) => x.member === member)) zadd(state.queue, ++state.seq, member)
      const head = state.queue[0]?.member
      let wait: string | undefined
      if (head !== member || state.held + n > cap) wait = hint()
      else {
        const t = grantTime(n, state.held)
        if (t > now + EPSILON) wait = num(t - now)
      }
      if (wait !== undefined) {
        zadd(state.beats, now + leaseTtl, member)
        return ["queued", wait]
      }
      zrem(state.queue, member)
      zrem(state.beats, member)
    }
    zadd(state.leases, now + leaseTtl, member)
    state.held += n
    space(now, n)
    wakeIfQueued()
    return mode === "t" ? ["ok", "0", num(now), "0", ...decision(false)] : GRANTED
  }

  const reply: Array<string | Reply> = [num(now)]
  switch (op) {
    case "acquire": {
      const m = Number(args[0])
      for (let r = 0; r < m; r++) {
        const n = Number(args[1 + 4 * r])
        const id = args[2 + 4 * r] as string
        const mode = args[4 + 4 * r] as string
        if (release) {
          reply.push(acquireReleased(n, id, mode))
          continue
        }
        const member = leaseMember(n, id)
        let out: Array<string> | string | undefined
        let leased = false
        if (maxC > 0) {
          if (mode === "t") {
            if (state.queue.length > 0 || state.held + n > maxC) {
              out = ["no", num(Math.max(0, grantTime(n, 0) - now)), ...decision(state.queue.length > 0)]
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
          const t = grantTime(n, 0)
          const queued = t > now
          if (mode === "t") {
            if (queued) out = ["no", num(t - now)]
            else {
              record(t, n, id)
              out = ["ok", "0", num(t), "0"]
            }
            out.push(...decision(queued ? start() > now : false))
          } else if (t === now) {
            record(t, n, id)
            out = GRANTED
          } else {
            const maxWait = Number(args[3 + 4 * r])
            if (maxWait >= 0 && t - now > maxWait) out = ["late", num(t - now)]
            else {
              const { cums, prevTat } = record(t, n, id)
              out = ["ok", num(t - now), num(t), num(prevTat), ...cums]
            }
          }
          if (out !== GRANTED && out[0] !== "ok" && leased) {
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
        const t = grantTime(n, 0)
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
        const freed = Math.min(r, n)
        state.held -= freed
        if (n > r) zadd(state.leases, entry.score, `${n - r}${member.slice(String(n).length)}`)
        // under "release", the slots stay taken for a period from now
        if (release) append(now, freed, idOf(member))
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
          available = Math.min(
            available,
            (config.limits[i] as number) - ((C[i] as number) - (E[i] as number)) - inWindow()
          )
        }
        if (leasing) available = Math.min(available, cap - state.held)
        available = Math.max(0, available)
      }
      reply.push(num(waiting), num(available), num(state.pause), num(state.held))
      break
    }
  }
  return { reply, wake, paused }
}

/**
 * The start of the arrays made per script call (`NONE.concat(...)`): an array literal there would be one V8
 * allocation site, which V8 moves to the old generation once a burst of calls has kept enough of its arrays alive
 * through a young-generation collection; each dead array then keeps the young strings it points at alive through
 * every scavenge until a full collection (about 200 KB promoted per scavenge with 8 callers in a loop). Arrays made
 * by `concat` have no allocation site.
 */
const NONE: ReadonlyArray<string> = []

/**
 * The part of the script's `ARGV` that is the same in every call of a throttle (k, the windows, interval, burst,
 * maxConcurrent, leaseTtl, measure, channel, wake tag): made once per throttle, so a call makes none of these
 * strings.
 */
export const fixedArgs = (config: Config, channel: string, wakeTag: string = ""): ReadonlyArray<string> => {
  const out = [String(config.limits.length)]
  for (let i = 0; i < config.limits.length; i++) {
    out.push(num(config.limits[i] as number), num(config.periods[i] as number))
  }
  out.push(num(config.interval), num(config.burst), num(config.maxConcurrent), num(config.leaseTtl))
  out.push(config.measure === "release" ? "r" : "s", channel, wakeTag)
  return out
}

/** The script's `ARGV` for one call (see `redisScript.ts`), `fixed` from `fixedArgs`. */
export const argvWith = (
  fixed: ReadonlyArray<string>,
  op: Op,
  now: number | undefined,
  deadline: number | undefined,
  args: ReadonlyArray<string>
): Array<string> =>
  NONE.concat(op, now === undefined ? "" : num(now), deadline === undefined ? "" : num(deadline), fixed, args)

/** The script's `ARGV` for one call (see `redisScript.ts`). */
export const argv = (
  config: Config,
  op: Op,
  now: number | undefined,
  deadline: number | undefined,
  channel: string,
  args: ReadonlyArray<string>
): Array<string> => argvWith(fixedArgs(config, channel), op, now, deadline, args)

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
  const out = NONE.concat(String(requests.length))
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

/**
 * Decodes one request's reply; `mode` is the request's, `now` the call's time (the first element of the whole
 * reply: the grant time of a request granted at once, {@link GRANTED}).
 */
export const decodeOutcome = (reply: Reply | string, mode: "w" | "t", now: number = Number.NaN): Outcome => {
  if (reply === GRANTED) return { _tag: "Reserved", wait: 0, at: now, prevTat: Number.NaN, cums: [] }
  if (typeof reply === "string") return { _tag: "Queued", hint: -1 }
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
