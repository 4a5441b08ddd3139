/**
 * A first-in, first-out queue that never shifts an array: a read index walks forward and the array is reused once
 * drained. Every sans-IO machine queues its outputs in one (a verifier with thousands of checks in flight emits many
 * outputs per input, and `Array.prototype.shift` moves them all on every poll); a worker queues its tasks in one.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  /** Items waiting. */
  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  /** Removes and returns the oldest item, or undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    // Let the collector reclaim what the consumed slot pointed at.
    this.#items[this.#head++] = undefined
    // Drained: start over in place (no allocation on this hot path), so consumed slots do not pile up.
    if (this.#head === this.#items.length) {
      this.#items.length = 0
      this.#head = 0
      return item
    }
    // Compact once the consumed prefix dominates, so memory follows the live length.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }
}
