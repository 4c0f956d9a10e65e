/**
 * Tables of store operations run against both the TypeScript core (`redisCore.ts`) and the Lua script on a real
 * Redis (`redisScript.ts`), so the two stay one algorithm.
 */
import * as core from "../../src/internal/redisCore.js"

/** One step: at `now`, run `op` with `args`; `expect` (when given) is the reply with numbers parsed. */
export interface Step {
  readonly now: number
  readonly op: core.Op
  readonly args: ReadonlyArray<string>
  readonly expect?: ReadonlyArray<unknown>
}

/** A table: a config and its steps. */
export interface Table {
  readonly name: string
  readonly config: core.Config
  readonly steps: ReadonlyArray<Step>
}

const config = (limits: Array<number>, periods: Array<number>, extra: Partial<core.Config> = {}): core.Config => ({
  limits,
  periods,
  interval: 0,
  burst: 0,
  maxConcurrent: 0,
  leaseTtl: 30_000,
  ...extra
})

const wait = (n: number, id: string, maxWait = -1) => core.acquireArgs([{ n, id, maxWait, mode: "w" }])
const tryNow = (n: number, id: string) => core.acquireArgs([{ n, id, maxWait: -1, mode: "t" }])

/** Parses a reply's numbers (strings that are numbers become numbers), recursively. */
export const parse = (reply: unknown): unknown =>
  Array.isArray(reply)
    ? reply.map(parse)
    : typeof reply === "string" && reply !== "" && !Number.isNaN(Number(reply))
    ? Number(reply)
    : reply === "inf"
    ? Infinity
    : reply

/** Hand-written tables with their expected replies. */
export const tables: ReadonlyArray<Table> = [
  {
    name: "\"2/s, 3/3s\": reservations in FIFO order, both windows",
    config: config([2, 3], [1000, 3000]),
    steps: [
      { now: 10, op: "acquire", args: wait(1, "a"), expect: [10, "g"] },
      { now: 10, op: "acquire", args: wait(1, "b"), expect: [10, "g"] },
      { now: 10, op: "acquire", args: wait(1, "c"), expect: [10, ["ok", 1000, 1010, 0, 3, 3]] },
      { now: 10, op: "acquire", args: wait(1, "d"), expect: [10, ["ok", 3000, 3010, 0, 4, 4]] },
      { now: 20, op: "acquire", args: tryNow(1, "e"), expect: [20, ["no", 2990, 2, 0, 3990]] },
      { now: 20, op: "stats", args: [], expect: [20, 2, 0, 0, 0] },
      { now: 3500, op: "acquire", args: tryNow(2, "f"), expect: [3500, ["no", 510, 2, 1, 510]] }
    ]
  },
  {
    name: "\"2/s\": a cancelled last reservation gives its slot to the next arrival",
    config: config([2], [1000]),
    steps: [
      { now: 0, op: "acquire", args: core.acquireArgs([{ n: 2, id: "a", maxWait: -1, mode: "w" }]) },
      { now: 0, op: "acquire", args: wait(1, "b"), expect: [0, ["ok", 1000, 1000, 0, 3]] },
      { now: 500, op: "cancel", args: ["1", "b", "1000", "0", "", "3"], expect: [500, 1] },
      { now: 500, op: "acquire", args: wait(2, "c"), expect: [500, ["ok", 500, 1000, 0, 4]] },
      { now: 600, op: "acquire", args: wait(1, "d", 1500), expect: [600, ["ok", 1400, 2000, 0, 5]] },
      { now: 600, op: "acquire", args: wait(1, "e", 1000), expect: [600, ["late", 1400]] }
    ]
  },
  {
    name: "attempt: remaining after the grant, the deciding window, resetAfter",
    config: config([3, 10], [1000, 60_000]),
    steps: [
      { now: 0, op: "acquire", args: tryNow(1, "a"), expect: [0, ["ok", 0, 0, 0, 3, 2, 1000]] },
      { now: 100, op: "acquire", args: tryNow(2, "b"), expect: [100, ["ok", 0, 100, 0, 3, 0, 1000]] },
      { now: 200, op: "acquire", args: tryNow(1, "c"), expect: [200, ["no", 800, 3, 0, 900]] }
    ]
  },
  {
    name: "pause: no grant before it, a shorter one never shortens it",
    config: config([5], [1000]),
    steps: [
      { now: 0, op: "pause", args: ["2000"], expect: [0, 2000] },
      { now: 100, op: "pause", args: ["500"], expect: [100, 2000] },
      { now: 100, op: "acquire", args: wait(1, "a"), expect: [100, ["ok", 1900, 2000, 0, 1]] },
      { now: 100, op: "stats", args: [], expect: [100, 1, 0, 2000, 0] }
    ]
  },
  {
    name: "smooth \"4/s\" burst 1: spaced 250 ms, schedule kept",
    config: config([4], [1000], { interval: 250, burst: 1 }),
    steps: [
      { now: 0, op: "acquire", args: wait(1, "a"), expect: [0, "g"] },
      { now: 0, op: "acquire", args: wait(1, "b"), expect: [0, ["ok", 250, 250, 250, 2]] },
      { now: 10, op: "acquire", args: wait(2, "c"), expect: [10, ["ok", 490, 500, 500, 4]] },
      { now: 2000, op: "acquire", args: wait(1, "d"), expect: [2000, "g"] }
    ]
  },
  {
    name: "maxConcurrent 2: leases, FIFO queue, release wakes, expiry",
    config: config([100], [1000], { maxConcurrent: 2, leaseTtl: 3000 }),
    steps: [
      { now: 0, op: "acquire", args: wait(1, "a"), expect: [0, "g"] },
      { now: 0, op: "acquire", args: wait(1, "b"), expect: [0, "g"] },
      { now: 0, op: "acquire", args: wait(2, "c"), expect: [0, ["queued", 3000]] },
      { now: 0, op: "acquire", args: wait(1, "d"), expect: [0, ["queued", 3000]] },
      { now: 0, op: "acquire", args: tryNow(1, "e"), expect: [0, ["no", 0, 100, 0, 1000]] },
      { now: 500, op: "release", args: ["1:a", "1"], expect: [500, 1] },
      { now: 500, op: "acquire", args: wait(1, "d"), expect: [500, ["queued", 2500]] },
      { now: 1000, op: "renew", args: ["1:b", "1:gone"], expect: [1000, 1] },
      // b was renewed until 4000; c (2 permits) is the head: it waits for b
      { now: 1000, op: "acquire", args: wait(2, "c"), expect: [1000, ["queued", 3000]] },
      { now: 4000, op: "acquire", args: wait(2, "c"), expect: [4000, "g"] },
      // d stopped calling at 500: its heartbeat expired at 3500 and it left the queue
      { now: 4000, op: "stats", args: [], expect: [4000, 0, 0, 0, 2] },
      { now: 4100, op: "leave", args: ["1:d"], expect: [4100] },
      { now: 4100, op: "release", args: ["2:c", "1"], expect: [4100, 1] },
      { now: 4100, op: "stats", args: [], expect: [4100, 0, 1, 0, 1] }
    ]
  },
  {
    name: "measure \"release\" 2/s: a slot held until a period after its release; a dead holder's until its lease ends",
    config: config([2], [1000], { measure: "release", leaseTtl: 5000 }),
    steps: [
      { now: 0, op: "acquire", args: wait(1, "a"), expect: [0, "g"] },
      { now: 0, op: "acquire", args: wait(1, "b"), expect: [0, "g"] },
      // two in flight: only a release can make room (the hint: the first lease's end)
      { now: 0, op: "acquire", args: wait(1, "c"), expect: [0, ["queued", 5000]] },
      { now: 0, op: "acquire", args: tryNow(1, "d"), expect: [0, ["no", 0, 2, 0, 1000]] },
      { now: 300, op: "release", args: ["1:a", "1"], expect: [300, 1] },
      // a's slot is taken until 1300: c, the head, is told so
      { now: 300, op: "acquire", args: wait(1, "c"), expect: [300, ["queued", 1000]] },
      { now: 1300, op: "acquire", args: wait(1, "c"), expect: [1300, "g"] },
      { now: 1300, op: "stats", args: [], expect: [1300, 0, 0, 0, 2] },
      // b never released: its lease ended at 5000, and its slot is taken until 6000
      { now: 5500, op: "stats", args: [], expect: [5500, 0, 0, 0, 1] },
      { now: 6000, op: "stats", args: [], expect: [6000, 0, 1, 0, 1] },
      { now: 6000, op: "acquire", args: tryNow(1, "e"), expect: [6000, ["ok", 0, 6000, 0, 2, 0, 1000]] }
    ]
  }
]

/**
 * A deterministic pseudo-random sequence of operations (a linear congruential generator from `seed`). The core runs
 * alongside the generation, so cancellations name real reservations and releases real leases.
 */
export const randomTable = (seed: number, config: core.Config, length: number): Table => {
  let x = seed
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  }
  const state = core.makeState(config.limits.length)
  const steps: Array<Step> = []
  let now = 0
  const reserved: Array<{ at: number; args: Array<string> }> = []
  const leases: Array<string> = []
  const queued: Array<string> = []
  const max = Math.min(...config.limits, config.maxConcurrent > 0 ? config.maxConcurrent : Infinity)
  const leasing = config.maxConcurrent > 0 || config.measure === "release"
  const push = (op: core.Op, args: ReadonlyArray<string>) => {
    steps.push({ now, op, args })
    return core.run(config, state, now, op, args).reply
  }
  for (let i = 0; i < length; i++) {
    now += rand(4) === 0 ? rand(1500) : rand(30)
    const r = rand(12)
    const n = 1 + rand(max)
    const id = `r${i}`
    if (r < 5) {
      // one request, or (one time in four) a batch of two or three, as a busy process sends them
      const requests = Array.from({ length: rand(4) === 0 ? 2 + rand(2) : 1 }, (_, j) => ({
        n: j === 0 ? n : 1 + rand(max),
        id: j === 0 ? id : `${id}.${j}`,
        maxWait: rand(3) === 0 ? rand(2000) : -1,
        mode: "w" as const
      }))
      const reply = push("acquire", core.acquireArgs(requests))
      requests.forEach((request, j) => {
        const outcome = core.decodeOutcome(reply[1 + j] as core.Reply, "w", core.replyNumber(reply[0]))
        const member = core.leaseMember(request.n, request.id)
        if (outcome._tag === "Reserved") {
          reserved.push({ at: outcome.at, args: core.cancelArgs(request.n, request.id, outcome, leasing ? member : "") })
          if (leasing) leases.push(member)
        } else if (outcome._tag === "Queued") queued.push(member)
      })
    } else if (r < 7) {
      const reply = push("acquire", tryNow(n, id))
      if ((reply[1] as core.Reply)[0] === "ok" && leasing) leases.push(core.leaseMember(n, id))
    } else if (r < 8) {
      const i = reserved.findIndex((x) => x.at > now)
      if (i >= 0) push("cancel", (reserved.splice(i, 1)[0] as { args: Array<string> }).args)
    } else if (r < 9 && leases.length > 0) {
      const member = leases.splice(rand(leases.length), 1)[0] as string
      push("release", [member, member.slice(0, member.indexOf(":"))])
    } else if (r < 10 && queued.length > 0) {
      const member = queued.splice(rand(queued.length), 1)[0] as string
      const colon = member.indexOf(":")
      if (rand(2) === 0) push("leave", [member])
      else push("acquire", wait(Number(member.slice(0, colon)), member.slice(colon + 1)))
    } else if (r < 11) {
      if (rand(3) === 0) push("pause", [String(rand(300))])
      else push("renew", leases.slice(0, 3))
    }
    else push("stats", [])
  }
  return { name: `random #${seed}`, config, steps }
}

/** Runs a table on the TypeScript core, returning the parsed replies. */
export const runCore = (table: Table): Array<unknown> => {
  const state = core.makeState(table.config.limits.length)
  return table.steps.map((step) => parse(core.run(table.config, state, step.now, step.op, step.args).reply))
}
