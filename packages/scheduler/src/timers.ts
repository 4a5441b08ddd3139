/**
 * A machine's timers: a binary min-heap of (due time, insertion order, value). Entries are never cancelled one by
 * one; whoever pops one re-checks the state it refers to and ignores it when it is stale. That keeps re-arming a lease
 * on every heartbeat O(1) (nothing is pushed until the old entry fires). The owner says when it forgets a unit of
 * state (a job; {@link noteForgotten}), and once as many were forgotten as it keeps, the timers of forgotten ones are
 * dropped: a timer due long after its state is forgotten (a month-long job's deadline) holds memory only until the
 * next such prune. Ties fire in insertion order, so a run replays exactly.
 */
export class TimerQueue<T> {
  #at: number[] = []
  #seq: number[] = []
  #values: T[] = []
  #nextSeq = 0
  /** Units of state the owner forgot since the last prune, whose timers may be stale. */
  #forgotten = 0

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
    const lastAt = this.#at.pop() as number
    const lastSeq = this.#seq.pop() as number
    const lastValue = this.#values.pop() as T
    if (this.#at.length > 0) this.#down(0, lastAt, lastSeq, lastValue)
    return value
  }

  /**
   * Tells the queue that the owner forgot a unit of state its timers may refer to, and keeps `live` units still. Once
   * it forgot as many as it keeps (so always when it keeps none), the timers `keep` refuses are dropped
   * ({@link prune}): forgotten units then never outnumber live ones by more than one, and a prune, which costs the
   * heap's size, comes once per `live` units forgotten at most.
   */
  noteForgotten(live: number, keep: (value: T) => boolean): void {
    if (++this.#forgotten < live) return
    this.#forgotten = 0
    this.prune(keep)
  }

  /**
   * Drops every timer whose value `keep` refuses (those of state forgotten since they were armed) and restores the
   * heap in linear time. The order the rest fire in is unchanged.
   */
  prune(keep: (value: T) => boolean): void {
    let kept = 0
    for (let i = 0; i < this.#at.length; i++) {
      const value = this.#values[i] as T
      if (!keep(value)) continue
      this.#set(kept++, this.#at[i] as number, this.#seq[i] as number, value)
    }
    this.#at.length = kept
    this.#seq.length = kept
    this.#values.length = kept
    for (let i = (kept >> 1) - 1; i >= 0; i--)
      this.#down(i, this.#at[i] as number, this.#seq[i] as number, this.#values[i] as T)
  }

  /** Moves the entry at `i` up to its place: parents move down into the hole instead of swapping pairwise. */
  #up(i: number): void {
    const at = this.#at[i] as number
    const seq = this.#seq[i] as number
    const value = this.#values[i] as T
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pAt = this.#at[parent] as number
      if (pAt < at || (pAt === at && (this.#seq[parent] as number) < seq)) break
      this.#move(parent, i)
      i = parent
    }
    this.#set(i, at, seq, value)
  }

  /** Places (at, seq, value) from `i` down, moving the smaller child up into the hole at each level. */
  #down(i: number, at: number, seq: number, value: T): void {
    const n = this.#at.length
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      const right = child + 1
      if (right < n && this.#less(right, child)) child = right
      const cAt = this.#at[child] as number
      if (at < cAt || (at === cAt && seq < (this.#seq[child] as number))) break
      this.#move(child, i)
      i = child
    }
    this.#set(i, at, seq, value)
  }

  #less(i: number, j: number): boolean {
    const a = this.#at[i] as number
    const b = this.#at[j] as number
    return a < b || (a === b && (this.#seq[i] as number) < (this.#seq[j] as number))
  }

  #move(from: number, to: number): void {
    this.#at[to] = this.#at[from] as number
    this.#seq[to] = this.#seq[from] as number
    this.#values[to] = this.#values[from] as T
  }

  #set(i: number, at: number, seq: number, value: T): void {
    this.#at[i] = at
    this.#seq[i] = seq
    this.#values[i] = value
  }
}
