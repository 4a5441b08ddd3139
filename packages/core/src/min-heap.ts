/**
 * A binary min-heap of values by a numeric key: what expires next, found in O(1) and removed in O(log n), where a
 * scan over every held item would make each arrival cost the size of the whole set.
 *
 * Nothing is removed from the middle: a holder whose value was replaced leaves the old entry in place and skips it
 * when it reaches the top (see {@link MinHeap.rebuild} to drop such entries in bulk).
 */
export class MinHeap<T> {
  #keys: number[] = []
  #values: T[] = []

  get size(): number {
    return this.#keys.length
  }

  push(key: number, value: T): void {
    const keys = this.#keys
    const values = this.#values
    let i = keys.length
    keys.push(key)
    values.push(value)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((keys[parent] as number) <= key) break
      keys[i] = keys[parent] as number
      values[i] = values[parent] as T
      i = parent
    }
    keys[i] = key
    values[i] = value
  }

  /** The smallest key, or undefined when empty. */
  peekKey(): number | undefined {
    return this.#keys[0]
  }

  /** The value with the smallest key, or undefined when empty. */
  peek(): T | undefined {
    return this.#values[0]
  }

  /** Removes and returns the value with the smallest key, or undefined when empty. */
  pop(): T | undefined {
    const keys = this.#keys
    const values = this.#values
    if (keys.length === 0) return undefined
    const top = values[0] as T
    const lastKey = keys.pop() as number
    const lastValue = values.pop() as T
    if (keys.length > 0) {
      keys[0] = lastKey
      values[0] = lastValue
      this.#siftDown(0)
    }
    return top
  }

  /** Replaces the contents with `entries` ([key, value] pairs), in O(n). */
  rebuild(entries: Iterable<readonly [number, T]>): void {
    this.#keys = []
    this.#values = []
    for (const [key, value] of entries) {
      this.#keys.push(key)
      this.#values.push(value)
    }
    for (let i = (this.#keys.length >> 1) - 1; i >= 0; i--) this.#siftDown(i)
  }

  #siftDown(start: number): void {
    const keys = this.#keys
    const values = this.#values
    const size = keys.length
    const key = keys[start] as number
    const value = values[start] as T
    let i = start
    for (;;) {
      const left = 2 * i + 1
      if (left >= size) break
      const right = left + 1
      const child = right < size && (keys[right] as number) < (keys[left] as number) ? right : left
      if ((keys[child] as number) >= key) break
      keys[i] = keys[child] as number
      values[i] = values[child] as T
      i = child
    }
    keys[i] = key
    values[i] = value
  }
}
