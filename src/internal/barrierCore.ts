/**
 * The pure core of the stateful barrier: a state machine over immutable values, with no runtime.
 *
 * The Effect shell (`internal/barrier.ts`) keeps one `State` in a `Ref` and applies these functions with
 * `Ref.modify`: each returns a decision (who to release, who to fail) and the next state; the shell acts on the
 * decision afterwards. The waiter handle `W` is opaque here (a `Deferred` in the shell, a plain label in tests).
 *
 * Cost: `arrive`, `withdraw`, `abort`, `reset` and `timeout` are O(1) amortized. Arrivals are kept in a persistent
 * cons list (newest first) plus a persistent set of live tickets; a withdrawn arrival stays in the list as garbage
 * until the list is compacted (when garbage outnumbers live arrivals) or the generation ends, and a trip walks the
 * list once, which is paid for by the arrivals it releases.
 *
 * The only import is `HashSet`, a pure persistent data structure (no runtime, no effects).
 *
 * @internal
 */
import * as HashSet from "effect/HashSet"

/** Why a barrier is broken (or why a waiter was failed). */
export type BrokenReason = "aborted" | "timeout" | "reset" | "tripped"

/** Validated configuration. */
export interface Config<S> {
  readonly parties: number
  readonly maxState: number | undefined
  readonly cyclic: boolean
  readonly initialState: ReadonlyArray<S>
}

/** One arrival of the current generation. */
export interface Arrival<S, W> {
  readonly ticket: number
  readonly state: S | undefined
  readonly waiter: W
}

interface Cons<A> {
  readonly head: A
  readonly tail: List<A>
}
type List<A> = Cons<A> | undefined

/** The whole barrier state; never mutated. */
export interface State<S, W> {
  /** Counts generations that ended (trip, break or reset); informational. */
  readonly generation: number
  /** Next ticket to hand out; tickets are unique for the life of the barrier. */
  readonly nextTicket: number
  /** Arrivals of the current generation, newest first; may contain withdrawn ones. */
  readonly arrivals: List<Arrival<S, W>>
  /** Length of `arrivals` (live + withdrawn). */
  readonly listed: number
  /** Tickets of the live (not withdrawn) arrivals of the current generation. */
  readonly live: HashSet.HashSet<number>
  /** `undefined` while usable; otherwise why later waits fail. */
  readonly broken: BrokenReason | undefined
  /** `true` until the first trip: `initialState` prefixes the states of that release only. */
  readonly initialPending: boolean
}

/** What `arrive` decided. */
export type ArriveDecision<S, W> =
  | { readonly _tag: "Rejected"; readonly reason: BrokenReason }
  | { readonly _tag: "Waiting"; readonly ticket: number }
  | {
    readonly _tag: "Tripped"
    /** Position of the arriving (last) party. */
    readonly position: number
    readonly states: ReadonlyArray<S>
    /** The earlier arrivals to release, with their positions. */
    readonly released: ReadonlyArray<{ readonly waiter: W; readonly position: number }>
  }

/** What `timeout` decided. */
export type TimeoutDecision<W> =
  /** The ticket was still waiting: the barrier is now broken; fail `others` as broken. */
  | { readonly _tag: "TimedOut"; readonly arrived: number; readonly others: ReadonlyArray<W> }
  /** The ticket was already released or failed: its waiter holds the outcome. */
  | { readonly _tag: "Settled" }

/** A fresh barrier. */
export const initial = <S, W>(): State<S, W> => ({
  generation: 0,
  nextTicket: 0,
  arrivals: undefined,
  listed: 0,
  live: HashSet.empty(),
  broken: undefined,
  initialPending: true
})

/** Number of live arrivals in the current generation. */
export const waiting = <S, W>(state: State<S, W>): number => HashSet.size(state.live)

/** The live arrivals, oldest first. O(listed). */
const liveInOrder = <S, W>(state: State<S, W>): Array<Arrival<S, W>> => {
  const out: Array<Arrival<S, W>> = []
  for (let node = state.arrivals; node !== undefined; node = node.tail) {
    if (HashSet.has(state.live, node.head.ticket)) out.push(node.head)
  }
  return out.reverse()
}

/** The states of a release: the optional initial prefix, then every recorded state, keeping the last `maxState`. */
const collectStates = <S, W>(
  config: Config<S>,
  prefix: boolean,
  arrivals: ReadonlyArray<Arrival<S, W>>
): ReadonlyArray<S> => {
  const all: Array<S> = prefix ? [...config.initialState] : []
  for (const arrival of arrivals) {
    if (arrival.state !== undefined) all.push(arrival.state)
  }
  const kept = config.maxState !== undefined && all.length > config.maxState
    ? all.slice(all.length - config.maxState)
    : all
  return Object.freeze(kept)
}

/** Ends the current generation: no arrivals, same broken flag as given. */
const nextGeneration = <S, W>(
  state: State<S, W>,
  broken: BrokenReason | undefined,
  initialPending: boolean
): State<S, W> => ({
  generation: state.generation + 1,
  nextTicket: state.nextTicket,
  arrivals: undefined,
  listed: 0,
  live: HashSet.empty(),
  broken,
  initialPending
})

/**
 * A party arrives with an optional state (`undefined` is not recorded). Rejected when broken; otherwise it waits,
 * or — if it is the `parties`-th live arrival — trips the barrier and releases everyone.
 */
export const arrive = <S, W>(
  config: Config<S>,
  state: State<S, W>,
  value: S | undefined,
  waiter: W
): readonly [ArriveDecision<S, W>, State<S, W>] => {
  if (state.broken !== undefined) return [{ _tag: "Rejected", reason: state.broken }, state]
  const ticket = state.nextTicket
  const arrival: Arrival<S, W> = { ticket, state: value, waiter }
  const arrived: State<S, W> = {
    ...state,
    nextTicket: ticket + 1,
    arrivals: { head: arrival, tail: state.arrivals },
    listed: state.listed + 1,
    live: HashSet.add(state.live, ticket)
  }
  if (HashSet.size(arrived.live) < config.parties) return [{ _tag: "Waiting", ticket }, arrived]
  const ordered = liveInOrder(arrived)
  const states = collectStates(config, state.initialPending, ordered)
  const released = ordered.slice(0, -1).map((a, position) => ({ waiter: a.waiter, position }))
  const next = nextGeneration(arrived, config.cyclic ? undefined : "tripped", false)
  return [{ _tag: "Tripped", position: ordered.length - 1, states, released }, next]
}

/** An interrupted waiter withdraws its arrival and its state. A no-op if the ticket is not live any more. */
export const withdraw = <S, W>(state: State<S, W>, ticket: number): State<S, W> => {
  if (!HashSet.has(state.live, ticket)) return state
  const live = HashSet.remove(state.live, ticket)
  const garbage = state.listed - HashSet.size(live)
  if (garbage <= HashSet.size(live) + 8) return { ...state, live }
  // Compact: keep only live arrivals (amortized against the withdrawals that made the garbage).
  let arrivals: List<Arrival<S, W>> = undefined
  const ordered = liveInOrder({ ...state, live })
  for (const arrival of ordered) arrivals = { head: arrival, tail: arrivals }
  return { ...state, live, arrivals, listed: ordered.length }
}

/** The waiters of the current generation (live ones), oldest first. */
const currentWaiters = <S, W>(state: State<S, W>): Array<W> => liveInOrder(state).map((a) => a.waiter)

/** Breaks the barrier: returns the current waiters to fail. A no-op on an already broken barrier. */
export const abort = <S, W>(state: State<S, W>): readonly [ReadonlyArray<W>, State<S, W>] =>
  state.broken !== undefined
    ? [[], state]
    : [currentWaiters(state), nextGeneration(state, "aborted", state.initialPending)]

/** Fails the current waiters (returned) and makes the barrier usable again with an empty generation. */
export const reset = <S, W>(state: State<S, W>): readonly [ReadonlyArray<W>, State<S, W>] => [
  currentWaiters(state),
  nextGeneration(state, undefined, state.initialPending)
]

/**
 * The waiter holding `ticket` timed out. If it is still waiting, the barrier breaks (reason `"timeout"`) and every
 * other current waiter is returned to be failed; if it was released or failed meanwhile, nothing changes.
 */
export const timeout = <S, W>(state: State<S, W>, ticket: number): readonly [TimeoutDecision<W>, State<S, W>] => {
  if (!HashSet.has(state.live, ticket)) return [{ _tag: "Settled" }, state]
  const arrived = HashSet.size(state.live)
  const others = liveInOrder(state).filter((a) => a.ticket !== ticket).map((a) => a.waiter)
  return [{ _tag: "TimedOut", arrived, others }, nextGeneration(state, "timeout", state.initialPending)]
}
