/** A FIFO queue that does not shift arrays (a machine's outputs, a worker's queued tasks). */
export class Fifo<T> {
  #items: (T | undefined)[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
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
