/**
 * The simulator's future-event list: a binary min-heap ordered by (time, seq), where seq is the insertion
 * counter, so events at one instant fire in the order they were scheduled and every run orders them the same way.
 *
 * Keys live in typed arrays and payloads in two plain arrays, and a pop writes into fields instead of returning an
 * object: the hot loop allocates nothing, which is what lets the engine pass a million events a second.
 */

/** What an event does when it fires; `arg` is whatever was scheduled with it. */
export type EventHandler<A = unknown> = (arg: A, now: number) => void

const INITIAL_CAPACITY = 1024

/** The future-event list described above: schedule with a time, pop the earliest. */
export class EventQueue {
  #time: Float64Array
  #seq: Float64Array
  #handler: Array<EventHandler | undefined>
  #arg: unknown[]
  #size = 0
  #nextSeq = 0

  /** The time, handler and argument of the event the last {@link pop} removed. */
  poppedTime = 0
  poppedHandler: EventHandler | undefined = undefined
  poppedArg: unknown = undefined

  constructor(capacity = INITIAL_CAPACITY) {
    const cap = Math.max(2, capacity)
    this.#time = new Float64Array(cap)
    this.#seq = new Float64Array(cap)
    this.#handler = new Array<EventHandler | undefined>(cap)
    this.#arg = new Array<unknown>(cap)
  }

  /** Events waiting. */
  get size(): number {
    return this.#size
  }

  /** Events pushed so far; the next event's seq. */
  get pushed(): number {
    return this.#nextSeq
  }

  /** The earliest event's time, or Infinity when empty. */
  peekTime(): number {
    return this.#size === 0 ? Infinity : (this.#time[0] as number)
  }

  /** Adds an event at `time`. */
  push<A>(time: number, handler: EventHandler<A>, arg: A): void {
    if (this.#size === this.#time.length) this.#grow()
    const seq = this.#nextSeq++
    const times = this.#time
    const seqs = this.#seq
    const handlers = this.#handler
    const args = this.#arg
    let i = this.#size++
    // Sift the hole up from the end, then drop the new event into it.
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pt = times[parent] as number
      if (pt < time || (pt === time && (seqs[parent] as number) < seq)) break
      times[i] = pt
      seqs[i] = seqs[parent] as number
      handlers[i] = handlers[parent]
      args[i] = args[parent]
      i = parent
    }
    times[i] = time
    seqs[i] = seq
    handlers[i] = handler as EventHandler<unknown>
    args[i] = arg
  }

  /** Removes the earliest event into `poppedTime`/`poppedHandler`/`poppedArg`; false when empty. */
  pop(): boolean {
    const size = this.#size
    if (size === 0) return false
    const times = this.#time
    const seqs = this.#seq
    const handlers = this.#handler
    const args = this.#arg
    this.poppedTime = times[0] as number
    this.poppedHandler = handlers[0]
    this.poppedArg = args[0]
    const last = size - 1
    this.#size = last
    if (last > 0) {
      const t = times[last] as number
      const s = seqs[last] as number
      const h = handlers[last]
      const a = args[last]
      // Sift the hole at the root down, then drop the former last event into it.
      let i = 0
      for (;;) {
        let child = 2 * i + 1
        if (child >= last) break
        const right = child + 1
        if (right < last) {
          const lt = times[child] as number
          const rt = times[right] as number
          if (rt < lt || (rt === lt && (seqs[right] as number) < (seqs[child] as number))) child = right
        }
        const ct = times[child] as number
        if (t < ct || (t === ct && s < (seqs[child] as number))) break
        times[i] = ct
        seqs[i] = seqs[child] as number
        handlers[i] = handlers[child]
        args[i] = args[child]
        i = child
      }
      times[i] = t
      seqs[i] = s
      handlers[i] = h
      args[i] = a
    }
    // Let the collector reclaim what the vacated slot pointed at.
    handlers[last] = undefined
    args[last] = undefined
    return true
  }

  #grow(): void {
    const cap = this.#time.length * 2
    const times = new Float64Array(cap)
    times.set(this.#time)
    const seqs = new Float64Array(cap)
    seqs.set(this.#seq)
    this.#time = times
    this.#seq = seqs
    this.#handler.length = cap
    this.#arg.length = cap
  }
}
