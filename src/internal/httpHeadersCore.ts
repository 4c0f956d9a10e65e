/**
 * The HTTP rate-limit headers, pure: what a response says about when to come back, and how to say it as a server.
 * No Effect import; times are epoch milliseconds and waits are milliseconds from "now".
 *
 * Understood (client side):
 * - `Retry-After` (RFC 9110): delta-seconds (`120`) or an HTTP-date (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`,
 *   and the obsolete RFC 850 and asctime forms a recipient must accept).
 * - `RateLimit` / `RateLimit-Policy` in the structured-field form of the current IETF draft
 *   (draft-ietf-httpapi-ratelimit-headers): `RateLimit: "default";r=0;t=30`,
 *   `RateLimit-Policy: "default";q=100;w=60`. With several policies, the one with the fewest remaining decides.
 * - Draft 07's combined dictionary `RateLimit: limit=100, remaining=25, reset=33` (express-rate-limit's
 *   `standardHeaders: "draft-7"`), reset in delta-seconds.
 * - The older drafts' trio `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (reset in delta-seconds).
 * - GitHub style `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset`, the reset in epoch seconds
 *   (GitHub, Twitter); a value below 10^9 is read as delta-seconds and one of 10^12 or more as epoch milliseconds.
 *
 * When several of them describe windows (or one field several policies), the one with the fewest remaining decides
 * (then the later reset).
 *
 * A date (an HTTP-date, an epoch reset) is measured against the response's own `Date` header when it has a valid
 * one, so a client whose clock is off still waits as long as the server means (the `Date` header is truncated to
 * the second, which can only lengthen the wait). Malformed values are ignored, never thrown: a field that does not
 * parse is as if absent.
 *
 * @internal
 */

/** What a response says about the rate limit; waits in milliseconds from now (never negative). */
export interface RateLimitInfo {
  /** From `Retry-After`. */
  readonly retryAfter: number | undefined
  /** The quota of the deciding policy, when told. */
  readonly limit: number | undefined
  /** Requests that may still be sent before the reset. */
  readonly remaining: number | undefined
  /** Until the quota of the deciding policy resets. */
  readonly reset: number | undefined
}

/** Header lookup: lower-case names, as `@effect/platform`'s `Headers` and node:http store them. */
export type HeaderRecord = Readonly<Record<string, string | undefined>>

const DELTA = /^\d{1,15}$/

/** Parses a non-negative integer (digits only, as `delta-seconds` and the draft's integers). */
export const parseNonNegativeInt = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  return DELTA.test(trimmed) ? Number(trimmed) : undefined
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const DAY3 = "(?:mon|tue|wed|thu|fri|sat|sun)"
const DAYLONG = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
const MON = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})"
const IMF_FIXDATE = new RegExp(`^${DAY3}, (\\d{2}) ${MON} (\\d{4}) ${TIME} GMT$`, "i")
const RFC850 = new RegExp(`^${DAYLONG}, (\\d{2})-${MON}-(\\d{2}) ${TIME} GMT$`, "i")
const ASCTIME = new RegExp(`^${DAY3} ${MON} ([ \\d]\\d) ${TIME} (\\d{4})$`, "i")

const utc = (year: number, month: string, day: number, h: number, m: number, s: number): number | undefined => {
  const monthIndex = MONTHS.indexOf(month.toLowerCase())
  if (monthIndex < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined
  const millis = Date.UTC(year, monthIndex, day, h, m, Math.min(s, 59))
  // reject days that do not exist in the month (Date.UTC would roll 31 Feb over into March)
  return new Date(millis).getUTCDate() === day ? millis : undefined
}

/**
 * Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime) into epoch milliseconds. `now` (epoch ms) places RFC 850's
 * two-digit year: a year more than 50 years after `now` is in the previous century (RFC 9110).
 */
export const parseHttpDate = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  let match = IMF_FIXDATE.exec(text)
  if (match !== null) return utc(Number(match[3]), match[2]!, Number(match[1]), +match[4]!, +match[5]!, +match[6]!)
  match = RFC850.exec(text)
  if (match !== null) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century
    const yy = Number(match[3])
    const nowYear = new Date(now).getUTCFullYear()
    let year = Math.floor(nowYear / 100) * 100 + yy
    if (year > nowYear + 50) year -= 100
    return utc(year, match[2]!, Number(match[1]), +match[4]!, +match[5]!, +match[6]!)
  }
  match = ASCTIME.exec(text)
  if (match !== null) {
    return utc(Number(match[6]), match[1]!, Number(match[2]!.trim()), +match[3]!, +match[4]!, +match[5]!)
  }
  return undefined
}

/** Formats epoch milliseconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export const formatHttpDate = (millis: number): string => new Date(millis).toUTCString()

/** `Retry-After` as a wait in ms from `now`: delta-seconds, or an HTTP-date (measured against `serverNow`). */
export const parseRetryAfter = (value: string | undefined, serverNow: number): number | undefined => {
  const seconds = parseNonNegativeInt(value)
  if (seconds !== undefined) return seconds * 1000
  const date = parseHttpDate(value, serverNow)
  return date === undefined ? undefined : Math.max(0, date - serverNow)
}

// ---------------------------------------------------------------------------------------------------------------
// Structured fields (RFC 8941), the subset the drafts use: a List of Items with Parameters, and a Dictionary.

/** A bare item: integer or decimal (number), string, token (`{ token }`), boolean, or byte sequence (`{ bytes }`). */
export type BareItem = number | string | boolean | { readonly token: string } | { readonly bytes: string }

/** A list member: a bare item with its parameters. */
export interface Item {
  readonly value: BareItem
  readonly params: ReadonlyMap<string, BareItem>
}

class Parser {
  pos = 0
  constructor(readonly input: string) {}
  peek(): string | undefined {
    return this.input[this.pos]
  }
  skipSP(): void {
    while (this.input[this.pos] === " ") this.pos++
  }
  skipOWS(): void {
    while (this.input[this.pos] === " " || this.input[this.pos] === "\t") this.pos++
  }
}

const KEY_START = /[a-z*]/
const KEY_CHAR = /[a-z0-9_\-.*]/
const TOKEN_START = /[A-Za-z*]/
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/

const parseKey = (p: Parser): string | undefined => {
  const start = p.pos
  if (!KEY_START.test(p.peek() ?? "")) return undefined
  while (KEY_CHAR.test(p.peek() ?? "")) p.pos++
  return p.input.slice(start, p.pos)
}

const parseNumber = (p: Parser): number | undefined => {
  const match = /^-?\d{1,15}(\.\d{1,3})?/.exec(p.input.slice(p.pos))
  if (match === null) return undefined
  const [text, fraction] = match
  // integers have at most 15 digits; decimals at most 12 before the dot
  if (fraction !== undefined && text.replace("-", "").indexOf(".") > 12) return undefined
  p.pos += text.length
  return Number(text)
}

const parseString = (p: Parser): string | undefined => {
  p.pos++ // opening quote
  let out = ""
  for (;;) {
    const c = p.peek()
    if (c === undefined) return undefined
    p.pos++
    if (c === "\\") {
      const next = p.peek()
      if (next !== "\\" && next !== "\"") return undefined
      out += next
      p.pos++
    } else if (c === "\"") {
      return out
    } else {
      const code = c.charCodeAt(0)
      if (code < 0x20 || code > 0x7e) return undefined
      out += c
    }
  }
}

const parseBareItem = (p: Parser): BareItem | undefined => {
  const c = p.peek()
  if (c === undefined) return undefined
  if (c === "\"") return parseString(p)
  if (c === "-" || (c >= "0" && c <= "9")) return parseNumber(p)
  if (c === "?") {
    const v = p.input[p.pos + 1]
    if (v !== "0" && v !== "1") return undefined
    p.pos += 2
    return v === "1"
  }
  if (c === ":") {
    const end = p.input.indexOf(":", p.pos + 1)
    if (end < 0) return undefined
    const bytes = p.input.slice(p.pos + 1, end)
    if (!/^[A-Za-z0-9+/=]*$/.test(bytes)) return undefined
    p.pos = end + 1
    return { bytes }
  }
  if (TOKEN_START.test(c)) {
    const start = p.pos
    p.pos++
    while (TOKEN_CHAR.test(p.peek() ?? "")) p.pos++
    return { token: p.input.slice(start, p.pos) }
  }
  return undefined
}

/** `key=value`, or a bare `key` (meaning `true`): a parameter, or a Dictionary member before its parameters. */
const parseKeyed = (p: Parser): readonly [string, BareItem] | undefined => {
  const key = parseKey(p)
  if (key === undefined) return undefined
  if (p.peek() !== "=") return [key, true]
  p.pos++
  const value = parseBareItem(p)
  return value === undefined ? undefined : [key, value]
}

const parseParams = (p: Parser): Map<string, BareItem> | undefined => {
  const params = new Map<string, BareItem>()
  while (p.peek() === ";") {
    p.pos++
    p.skipSP()
    const param = parseKeyed(p)
    if (param === undefined) return undefined
    params.set(param[0], param[1])
  }
  return params
}

/** Reads the comma-separated members of a List or a Dictionary, each by `member` (false: the field is invalid). */
const parseMembers = (value: string, member: (p: Parser) => boolean): boolean => {
  const p = new Parser(value)
  p.skipSP()
  if (p.peek() === undefined) return true
  for (;;) {
    if (!member(p)) return false
    p.skipOWS()
    if (p.peek() === undefined) return true
    if (p.peek() !== ",") return false
    p.pos++
    p.skipOWS()
    if (p.peek() === undefined) return false // trailing comma
  }
}

/**
 * Parses a structured-field Dictionary whose members are Items (`limit=100, remaining=25, reset=33`); a key without
 * a value is `true`, a later duplicate key wins (RFC 8941). Inner lists make the field invalid.
 */
export const parseDictionary = (value: string | undefined): ReadonlyMap<string, Item> | undefined => {
  if (value === undefined) return undefined
  const members = new Map<string, Item>()
  const valid = parseMembers(value, (p) => {
    const head = parseKeyed(p)
    const params = head === undefined ? undefined : parseParams(p)
    if (head === undefined || params === undefined) return false
    members.set(head[0], { value: head[1], params })
    return true
  })
  return valid ? members : undefined
}

/** Parses a structured-field List of Items (inner lists are not used by the draft and make the field invalid). */
export const parseList = (value: string | undefined): ReadonlyArray<Item> | undefined => {
  if (value === undefined) return undefined
  const items: Array<Item> = []
  const valid = parseMembers(value, (p) => {
    const bare = parseBareItem(p)
    const params = bare === undefined ? undefined : parseParams(p)
    if (bare === undefined || params === undefined) return false
    items.push({ value: bare, params })
    return true
  })
  return valid ? items : undefined
}

/** A bare item that is a non-negative integer, or `undefined`. */
const nonNegativeInt = (value: BareItem | undefined): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined

const paramInt = (item: Item, key: string): number | undefined => nonNegativeInt(item.params.get(key))

// ---------------------------------------------------------------------------------------------------------------
// Client side: what a response says.

interface Quota {
  readonly limit: number | undefined
  readonly remaining: number
  readonly reset: number | undefined
}

/** Fewer remaining; with as many, the later reset. */
const tighter = (a: Quota, b: Quota): boolean =>
  a.remaining < b.remaining || (a.remaining === b.remaining && (a.reset ?? -1) > (b.reset ?? -1))

/** The deciding quota of a `RateLimit` field (current draft): the fewest remaining, then the latest reset. */
const fromRateLimitField = (headers: HeaderRecord): Quota | undefined => {
  const items = parseList(headers["ratelimit"])
  if (items === undefined) return undefined
  const policies = parseList(headers["ratelimit-policy"]) ?? []
  let best: Quota | undefined
  for (const item of items) {
    const remaining = paramInt(item, "r")
    if (remaining === undefined || typeof item.value !== "string") continue
    const t = paramInt(item, "t")
    const reset = t === undefined ? undefined : t * 1000
    const policy = policies.find((p) => p.value === item.value)
    const limit = policy === undefined ? undefined : paramInt(policy, "q")
    const quota: Quota = { limit, remaining, reset }
    if (best === undefined || tighter(quota, best)) best = quota
  }
  return best
}

/**
 * Draft 07's combined `RateLimit: limit=100, remaining=25, reset=33` (a Dictionary; reset in delta-seconds), as
 * express-rate-limit sends with `standardHeaders: "draft-7"`. Tried when the field is not the current draft's List.
 */
const fromRateLimitDictionary = (headers: HeaderRecord): Quota | undefined => {
  const members = parseDictionary(headers["ratelimit"])
  if (members === undefined) return undefined
  const int = (key: string): number | undefined => nonNegativeInt(members.get(key)?.value)
  const remaining = int("remaining")
  if (remaining === undefined) return undefined
  const seconds = int("reset")
  return { limit: int("limit"), remaining, reset: seconds === undefined ? undefined : seconds * 1000 }
}

/** The older drafts' `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (delta-seconds). */
const fromTrio = (headers: HeaderRecord): Quota | undefined => {
  const remaining = parseNonNegativeInt(firstListMember(headers["ratelimit-remaining"]))
  if (remaining === undefined) return undefined
  const seconds = parseNonNegativeInt(firstListMember(headers["ratelimit-reset"]))
  return {
    limit: parseNonNegativeInt(firstListMember(headers["ratelimit-limit"])),
    remaining,
    reset: seconds === undefined ? undefined : seconds * 1000
  }
}

// `RateLimit-Limit: 100, 100;w=60` (draft 03) puts policies after the first value: keep the first number only.
const firstListMember = (value: string | undefined): string | undefined => value?.split(",")[0]

/** The epoch-or-delta reset of `X-RateLimit-Reset`, as a wait from `serverNow`. */
export const parseEpochReset = (value: string | undefined, serverNow: number): number | undefined => {
  const n = parseNonNegativeInt(value)
  if (n === undefined) return undefined
  if (n >= 1e12) return Math.max(0, n - serverNow)
  if (n >= 1e9) return Math.max(0, n * 1000 - serverNow)
  return n * 1000
}

/** GitHub style `X-RateLimit-*`. */
const fromXRateLimit = (headers: HeaderRecord, serverNow: number): Quota | undefined => {
  const remaining = parseNonNegativeInt(headers["x-ratelimit-remaining"])
  if (remaining === undefined) return undefined
  return {
    limit: parseNonNegativeInt(headers["x-ratelimit-limit"]),
    remaining,
    reset: parseEpochReset(headers["x-ratelimit-reset"], serverNow)
  }
}

/**
 * Reads what a response says. `now` is the client's clock (epoch ms); dates are measured against the response's
 * `Date` header when valid, else against `now`.
 */
export const parse = (headers: HeaderRecord, now: number): RateLimitInfo => {
  const serverNow = parseHttpDate(headers["date"], now) ?? now
  // a server may describe different windows in different forms (GitHub's hourly X-RateLimit-* beside a per-second
  // RateLimit): the most restrictive one decides
  let quota: Quota | undefined
  const field = fromRateLimitField(headers) ?? fromRateLimitDictionary(headers)
  for (const candidate of [field, fromTrio(headers), fromXRateLimit(headers, serverNow)]) {
    if (candidate !== undefined && (quota === undefined || tighter(candidate, quota))) quota = candidate
  }
  return {
    retryAfter: parseRetryAfter(headers["retry-after"], serverNow),
    limit: quota?.limit,
    remaining: quota?.remaining,
    reset: quota?.reset
  }
}

/** How long a throttled answer (429, 503) asks to wait: `Retry-After`, else the quota's reset; `undefined` if untold. */
export const throttledWait = (info: RateLimitInfo): number | undefined => info.retryAfter ?? info.reset

/** How long a successful answer asks to hold off: until the reset when nothing remains; `undefined` otherwise. */
export const exhaustedWait = (info: RateLimitInfo): number | undefined =>
  info.remaining === 0 && info.reset !== undefined && info.reset > 0 ? info.reset : undefined

/**
 * What the client may still send for a key before the server's quota resets: learnt from `remaining` and `reset`,
 * so that no request is wasted on a 429 once a response has told the quota. `allowance` is `undefined` when
 * nothing is known (or the window it described is over).
 */
export interface Budget {
  readonly allowance: number | undefined
  /** When the window the allowance describes is over (epoch ms). */
  readonly until: number
}

/** Nothing known. */
export const unknownBudget: Budget = { allowance: undefined, until: Number.NEGATIVE_INFINITY }

/**
 * Whether a request may be sent at `now`: `{ send: budget' }` (one less allowed), or `{ wait }` until the window
 * is over.
 */
export const admit = (
  budget: Budget,
  now: number
): { readonly send: Budget; readonly wait?: undefined } | { readonly wait: number; readonly send?: undefined } => {
  if (budget.allowance === undefined || now >= budget.until) return { send: unknownBudget }
  if (budget.allowance <= 0) return { wait: budget.until - now }
  return { send: { allowance: budget.allowance - 1, until: budget.until } }
}

/**
 * Learns from a response read at `now`: `remaining` more may be sent before `now + reset`, less the `inFlight`
 * requests sent but not yet answered (the server may not have counted them yet: counting them errs toward
 * sending less). While a known window lasts, the allowance only goes down (an older response arriving late never
 * raises it).
 */
export const learn = (budget: Budget, info: RateLimitInfo, now: number, inFlight: number): Budget => {
  if (info.remaining === undefined || info.reset === undefined || info.reset <= 0) return budget
  const allowance = info.remaining - inFlight
  if (budget.allowance !== undefined && now < budget.until) {
    return { allowance: Math.min(budget.allowance, allowance), until: Math.max(budget.until, now + info.reset) }
  }
  return { allowance, until: now + info.reset }
}

// ---------------------------------------------------------------------------------------------------------------
// Server side: how to say it.

/**
 * Sub-millisecond excess ignored when rounding up to whole seconds: on the live clock a throttle's window ends a
 * fraction of a millisecond after the period (its timer guard), which would otherwise turn `t=1` into `t=2`.
 */
export const ROUNDING_TOLERANCE_MILLIS = 0.5

/**
 * Whole seconds, rounded up: a client is never told to come back early (by more than the sub-millisecond
 * {@link ROUNDING_TOLERANCE_MILLIS}).
 */
export const ceilSeconds = (millis: number): number =>
  Math.max(0, Math.ceil((millis - ROUNDING_TOLERANCE_MILLIS) / 1000))

/** Serializes a structured-field string (`"name"`), escaping `\` and `"`. */
export const sfString = (value: string): string => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`

/** The numbers of one decision, as `attempt` gives them (milliseconds). */
export interface DecisionNumbers {
  readonly granted: boolean
  readonly limit: number
  readonly remaining: number
  readonly retryAfter: number
  readonly resetAfter: number
}

/**
 * The response headers of a decision: `RateLimit` and `RateLimit-Policy` always, `Retry-After` when refused.
 * `windowMillis` is the policy's window (`w`), `policy` its name.
 */
export const responseHeaders = (
  policy: string,
  windowMillis: number,
  decision: DecisionNumbers
): Record<string, string> => {
  const name = sfString(policy)
  const headers: Record<string, string> = {
    "ratelimit": `${name};r=${decision.remaining};t=${ceilSeconds(decision.resetAfter)}`,
    "ratelimit-policy": `${name};q=${decision.limit};w=${ceilSeconds(windowMillis)}`
  }
  if (!decision.granted) headers["retry-after"] = String(Math.max(1, ceilSeconds(decision.retryAfter)))
  return headers
}
