/**
 * Timers of a machine with many items in flight (a verifier's checks, a capacity view's records): a binary min-heap of (deadline, item) with lazy deletion. An
 * entry is stale when its item's current deadline differs; stale entries are dropped when they reach the top, so
 * re-arming or cancelling a timer costs O(log n) and `next()` amortised O(log n).
 *
 * Entries hold the item itself, not a key to look it up by: the driver asks for `next()` after every input, and a
 * map lookup there (a cache miss in a machine holding thousands of checks) was 1% of the simulator's time.
 */
export class Deadlines<T> {
  readonly #heap: Entry<T>[] = []

  /** Arms a timer for `item` at `at`. */
  push(item: T, at: number): void {
    const heap = this.#heap
    heap.push({ at, item })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as { at: number }).at <= at) break
      ;[heap[i], heap[parent]] = [heap[parent] as Entry<T>, heap[i] as Entry<T>]
      i = parent
    }
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.#heap.length
  }

  /**
   * Drops every stale entry, not only those at the top, and all but one of an item's entries at its deadline (armed
   * again at a deadline it had before), in O(n): for a driver that re-arms items far more often than they fall due,
   * whose stale entries would otherwise pile up below a live one.
   */
  compact(current: (item: T) => number | undefined): void {
    const heap = this.#heap
    const live = new Set<T>()
    let kept = 0
    for (const entry of heap) {
      if (current(entry.item) !== entry.at || live.has(entry.item)) continue
      live.add(entry.item)
      heap[kept++] = entry
    }
    heap.length = kept
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#siftDown(i)
  }

  /** The earliest live deadline, given each item's current deadline (undefined when it has none). */
  next(current: (item: T) => number | undefined): number | undefined {
    for (;;) {
      const top = this.#heap[0]
      if (top === undefined) return undefined
      if (current(top.item) === top.at) return top.at
      this.#pop()
    }
  }

  /** Removes and returns the items whose live deadlines are at or before `now`, earliest first. */
  due(now: number, current: (item: T) => number | undefined): T[] {
    return this.#take(now, current, false)
  }

  /** Removes and returns the items whose live deadlines are before `now` (an expiry, valid through its instant). */
  expired(now: number, current: (item: T) => number | undefined): T[] {
    return this.#take(now, current, true)
  }

  #take(now: number, current: (item: T) => number | undefined, strict: boolean): T[] {
    const items = new Set<T>()
    for (;;) {
      const at = this.next(current)
      if (at === undefined || at > now || (strict && at === now)) return [...items]
      items.add((this.#pop() as Entry<T>).item)
    }
  }

  #pop(): Entry<T> | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last
      this.#siftDown(0)
    }
    return top
  }

  /** Moves the entry at `i` down until neither child is earlier. */
  #siftDown(i: number): void {
    const heap = this.#heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && (heap[l] as { at: number }).at < (heap[m] as { at: number }).at) m = l
      if (r < heap.length && (heap[r] as { at: number }).at < (heap[m] as { at: number }).at) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m] as Entry<T>, heap[i] as Entry<T>]
      i = m
    }
  }
}

interface Entry<T> {
  at: number
  item: T
}
