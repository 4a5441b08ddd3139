/**
 * Timers of a machine with many checks in flight: a binary min-heap of (deadline, key) with lazy deletion. An
 * entry is stale when its key's current deadline differs; stale entries are dropped when they reach the top, so
 * re-arming or cancelling a timer costs O(log n) and `next()` amortised O(log n).
 */
export class Deadlines {
  readonly #heap: { at: number; key: string }[] = []

  /** Arms a timer for `key` at `at`. */
  push(key: string, at: number): void {
    const heap = this.#heap
    heap.push({ at, key })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as { at: number }).at <= at) break
      ;[heap[i], heap[parent]] = [heap[parent] as { at: number; key: string }, heap[i] as { at: number; key: string }]
      i = parent
    }
  }

  /** The earliest live deadline, given each key's current deadline (undefined when the key has none). */
  next(current: (key: string) => number | undefined): number | undefined {
    for (;;) {
      const top = this.#heap[0]
      if (top === undefined) return undefined
      if (current(top.key) === top.at) return top.at
      this.#pop()
    }
  }

  /** Removes and returns the keys whose live deadlines are at or before `now`, earliest first. */
  due(now: number, current: (key: string) => number | undefined): string[] {
    const keys = new Set<string>()
    for (;;) {
      const at = this.next(current)
      if (at === undefined || at > now) return [...keys]
      keys.add((this.#pop() as { key: string }).key)
    }
  }

  #pop(): { at: number; key: string } | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && (heap[l] as { at: number }).at < (heap[m] as { at: number }).at) m = l
        if (r < heap.length && (heap[r] as { at: number }).at < (heap[m] as { at: number }).at) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m] as { at: number; key: string }, heap[i] as { at: number; key: string }]
        i = m
      }
    }
    return top
  }
}
