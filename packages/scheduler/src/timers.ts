/**
 * A machine's timers: a binary min-heap of (due time, insertion order, value). Entries are never cancelled;
 * whoever pops one re-checks the state it refers to and ignores it when it is stale. That keeps re-arming a lease
 * on every heartbeat O(1) (nothing is pushed until the old entry fires) and the heap as small as the live state.
 * Ties fire in insertion order, so a run replays exactly.
 */
export class TimerQueue<T> {
  #at: number[] = []
  #seq: number[] = []
  #values: T[] = []
  #nextSeq = 0

  get size(): number {
    return this.#at.length
  }

  /** When the earliest timer is due, or undefined when none is armed. */
  peek(): number | undefined {
    return this.#at[0]
  }

  push(at: number, value: T): void {
    this.#at.push(at)
    this.#seq.push(this.#nextSeq++)
    this.#values.push(value)
    this.#up(this.#at.length - 1)
  }

  /** Removes and returns the earliest timer's value if it is due at `now`. */
  popDue(now: number): T | undefined {
    const at = this.#at[0]
    if (at === undefined || at > now) return undefined
    const value = this.#values[0] as T
    const last = this.#at.length - 1
    this.#swap(0, last)
    this.#at.pop()
    this.#seq.pop()
    this.#values.pop()
    if (last > 0) this.#down(0)
    return value
  }

  #less(i: number, j: number): boolean {
    const a = this.#at[i] as number
    const b = this.#at[j] as number
    return a < b || (a === b && (this.#seq[i] as number) < (this.#seq[j] as number))
  }

  #swap(i: number, j: number): void {
    ;[this.#at[i], this.#at[j]] = [this.#at[j] as number, this.#at[i] as number]
    ;[this.#seq[i], this.#seq[j]] = [this.#seq[j] as number, this.#seq[i] as number]
    ;[this.#values[i], this.#values[j]] = [this.#values[j] as T, this.#values[i] as T]
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) return
      this.#swap(i, parent)
      i = parent
    }
  }

  #down(i: number): void {
    const n = this.#at.length
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let best = i
      if (left < n && this.#less(left, best)) best = left
      if (right < n && this.#less(right, best)) best = right
      if (best === i) return
      this.#swap(i, best)
      i = best
    }
  }
}
