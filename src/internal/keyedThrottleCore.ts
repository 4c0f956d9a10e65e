/**
 * The pure part of `KeyedThrottle`: when a key may be dropped, and the one timer queue that says which key to look
 * at next. No Effect, no clock: every function takes `now` (milliseconds).
 *
 * Model. A key's throttle is *held* while an operation of the keyed throttle uses it (`refs > 0`). When the last
 * holder lets go, only the time is noted, and the key is queued (if it is not already) for `letGo +
 * idleTimeToLive`, the earliest it could be dropped. When that time comes, the throttle reports the time from which
 * it is quiet (every window empty, no pause or smooth schedule pending), or that it is still busy (permits taken by
 * `attempt` are in flight until released). The key's *deadline* is then `max(letGo, quiet) + idleTimeToLive`
 * (`deadline`), or — busy with nobody holding it, which only a later `release` can end — `now + idleTimeToLive`, to
 * look again then; `decide` drops it or queues it again for that time. Deadlines of one key never move earlier,
 * so the timer queue needs no decrease-key, and the hot path touches it only when the key is not queued (one
 * queue operation per key per `idleTimeToLive`, however many operations it serves).
 *
 * @internal
 */

/** What the timer queue needs of an item: its position and its time, kept on the item itself. */
export interface Timed {
  /** Position in the heap, or -1 when not queued. */
  heapIndex: number
  /** The time it is queued for (meaningful while queued). */
  heapTime: number
}

/** A binary min-heap of items by `heapTime`: push, pop and re-time in O(log n), peek in O(1). */
export class TimerHeap<T extends Timed> {
  private readonly items: Array<T> = []

  get size(): number {
    return this.items.length
  }

  /** The earliest item, or `undefined`. */
  peek(): T | undefined {
    return this.items[0]
  }

  /** Queues `item` for `time`; an item already queued is re-timed. */
  push(item: T, time: number): void {
    if (item.heapIndex >= 0) {
      const earlier = time < item.heapTime
      item.heapTime = time
      if (earlier) this.up(item.heapIndex)
      else this.down(item.heapIndex)
      return
    }
    item.heapTime = time
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  /** Removes and returns the earliest item, or `undefined`. */
  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    if (top === undefined) return undefined
    const last = items.pop() as T
    if (last !== top) {
      items[0] = last
      last.heapIndex = 0
      this.down(0)
    }
    top.heapIndex = -1
    return top
  }

  /** Removes every item. */
  clear(): void {
    for (const item of this.items) item.heapIndex = -1
    this.items.length = 0
  }

  private up(index: number): void {
    const items = this.items
    const item = items[index] as T
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = items[parentIndex] as T
      if (parent.heapTime <= item.heapTime) break
      items[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }
    items[index] = item
    item.heapIndex = index
  }

  private down(index: number): void {
    const items = this.items
    const n = items.length
    const item = items[index] as T
    for (;;) {
      const left = 2 * index + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && (items[right] as T).heapTime < (items[left] as T).heapTime ? right : left
      const childItem = items[child] as T
      if (childItem.heapTime >= item.heapTime) break
      items[index] = childItem
      childItem.heapIndex = index
      index = child
    }
    items[index] = item
    item.heapIndex = index
  }
}

/**
 * The deadline of a key whose last holder just let go at `now`: `idleAt + ttl` when the throttle reported the time
 * from which it is idle, else (busy with nobody holding it) `now + ttl`, the time to look again.
 */
export const deadline = (idleAt: number | undefined, now: number, ttl: number): number =>
  (idleAt === undefined ? now : idleAt) + ttl

/** What to do with a key whose queued time has come. */
export type Verdict =
  /** Remove it: it has been truly idle for the whole time to live. */
  | { readonly _tag: "Drop" }
  /** Held again: leave it out of the queue (the last holder to let go queues it again). */
  | { readonly _tag: "Held" }
  /** Queue it again for `at`. */
  | { readonly _tag: "Later"; readonly at: number }

const DROP: Verdict = { _tag: "Drop" }
const HELD: Verdict = { _tag: "Held" }

/**
 * Decides about a key at `now`, the time it was queued for having come. `deadline` is its current deadline,
 * `probe()` asks its throttle for `idleAt` (called only when needed). `slack` is the largest disagreement between
 * this clock and the throttle's (0 on a test clock): a deadline counts as passed only `slack` after it, so that a
 * clock mismatch can delay a drop, never make it early. The last probe is a safety net for a handle from `get`
 * used after its scope closed (nothing of ours tracks that): the key is kept while that throttle is busy.
 */
export const decide = (
  refs: number,
  deadlineAt: number,
  probe: () => number | undefined,
  now: number,
  ttl: number,
  slack: number
): Verdict => {
  if (refs > 0) return HELD
  if (deadlineAt + slack > now) return { _tag: "Later", at: deadlineAt + slack }
  // Its deadline has passed and nothing of ours used it since; the throttle is asked once more in case a handle
  // from `get` was used after its scope closed.
  const idleAt = probe()
  if (idleAt === undefined) return { _tag: "Later", at: now + ttl }
  if (idleAt > now + slack) return { _tag: "Later", at: idleAt + ttl + slack }
  return DROP
}
