/**
 * A drained queue whose array grew past this many slots gives it back rather than keeping it for the next burst.
 */
const KEEP_SLOTS = 1024

/**
 * A first-in, first-out queue that never shifts an array: read and write indices walk forward over one array, and
 * both go back to the start once it drains. Every sans-IO machine queues its outputs in one (a verifier with
 * thousands of checks in flight emits many outputs per input, and `Array.prototype.shift` moves them all on every
 * poll); a worker queues its tasks in one.
 *
 * Drained, the queue keeps its array and overwrites it: emptying it with `length = 0` makes V8 drop the backing
 * store, so the next push allocated a new one, and drivers drain after every input.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0
  #tail = 0

  /** Items waiting. */
  get length(): number {
    return this.#tail - this.#head
  }

  push(item: T): void {
    this.#items[this.#tail++] = item
  }

  /** Removes and returns the oldest item, or undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.#head === this.#tail) return undefined
    const item = this.#items[this.#head]
    // Let the collector reclaim what the consumed slot pointed at.
    this.#items[this.#head++] = undefined
    if (this.#head === this.#tail) {
      this.#head = 0
      this.#tail = 0
      if (this.#items.length > KEEP_SLOTS) this.#items = []
      return item
    }
    // Compact once the consumed prefix dominates, so memory follows the live length.
    if (this.#head > KEEP_SLOTS && this.#head * 2 > this.#tail) {
      this.#items = this.#items.slice(this.#head, this.#tail)
      this.#tail -= this.#head
      this.#head = 0
    }
    return item
  }
}
