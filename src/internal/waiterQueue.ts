/**
 * The Throttle's queue of waiters: a doubly linked FIFO list of parked fibers, O(1) to append, to unlink from
 * anywhere (an interrupted waiter in the middle) and to pop.
 *
 * Lifecycle of a waiter (`phase`):
 *
 * | phase      | meaning                                                        | next                                  |
 * |------------|----------------------------------------------------------------|---------------------------------------|
 * | `Queued`   | linked, parked; not told when its permits are due              | `Sleeping` (it is the head), `Granted`, `Removed` |
 * | `Sleeping` | the head: sleeping until `due`, the time its permits are due   | `Queued` (woke early, or a pause moved `due`), `Granted`, `Removed` |
 * | `Granted`  | unlinked; permits granted, slots not stamped until it resumes  | — (stamped when it resumes, or given back if interrupted) |
 * | `Removed`  | unlinked without a grant: interrupted, timed out, or shut down | —                                     |
 *
 * Only the head ever sleeps on a timer; the others stay parked until a drain grants them or makes them the head.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** The phase of a waiter; see the table in the module doc. */
export type Phase = "Queued" | "Sleeping" | "Granted" | "Removed"

/** One fiber waiting for `n` permits. */
export interface Waiter {
  readonly n: number
  /** When it arrived (ms), for the wait-time histogram and the timed-out error. */
  readonly arrived: number
  /** A lower bound of its grant time, projected on arrival (for `maxWait`). */
  readonly projected: number
  /** The parked fiber's resume callback; `undefined` while the fiber is not parked. */
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  /** A wake-up that arrived while the fiber was not parked (it will not park then). */
  woken: boolean
  phase: Phase
  /** When `Sleeping`: the time its permits are due. */
  due: number
  /** Whether the slots of a granted waiter have been started (stamped). */
  stamped: boolean
  /** When `Sleeping`: the fiber that sleeps, so that closing the scope can interrupt it. */
  sleeper: Fiber.RuntimeFiber<unknown, unknown> | undefined
  prev: Waiter | undefined
  next: Waiter | undefined
}

/** A new waiter, not linked yet. */
export const makeWaiter = (n: number, arrived: number, projected: number): Waiter => ({
  n,
  arrived,
  projected,
  resume: undefined,
  woken: false,
  phase: "Queued",
  due: 0,
  stamped: false,
  sleeper: undefined,
  prev: undefined,
  next: undefined
})

/** The FIFO list of waiters. */
export class WaiterQueue {
  /** The head: the next waiter to be granted. */
  first: Waiter | undefined = undefined
  /** The tail: the latest arrival. */
  last: Waiter | undefined = undefined
  /** Number of linked waiters. */
  size = 0
  /** Permits asked for by the linked waiters. */
  permits = 0

  /** Appends a waiter at the tail. */
  link(w: Waiter): void {
    w.prev = this.last
    if (this.last === undefined) this.first = w
    else this.last.next = w
    this.last = w
    this.size++
    this.permits += w.n
  }

  /** Unlinks a waiter from wherever it is. */
  unlink(w: Waiter): void {
    if (w.prev === undefined) this.first = w.next
    else w.prev.next = w.next
    if (w.next === undefined) this.last = w.prev
    else w.next.prev = w.prev
    w.prev = undefined
    w.next = undefined
    this.size--
    this.permits -= w.n
  }
}

/** Resumes a parked waiter, or leaves word for it if it is not parked right now. */
export const wake = (w: Waiter, effect: Effect.Effect<void>): void => {
  const resume = w.resume
  if (resume === undefined) {
    w.woken = true
    return
  }
  w.resume = undefined
  resume(effect)
}
