/**
 * A min-heap of task indices in a fixed Int32Array: a job's pending tasks, so the lowest-numbered pending task is
 * awarded first without scanning the whole job (a 65,536-task job returning a result per task would otherwise scan
 * 65,536 states per result). Each index is held at most once, so `capacity` = the job's task count suffices.
 */
export class IndexHeap {
  readonly #items: Int32Array
  #size = 0

  /** A heap of `capacity`, holding 0..count-1 (a sorted array is already a heap). */
  constructor(capacity: number, count = 0) {
    this.#items = new Int32Array(capacity)
    for (let i = 0; i < count; i++) this.#items[i] = i
    this.#size = count
  }

  get size(): number {
    return this.#size
  }

  push(index: number): void {
    const items = this.#items
    let i = this.#size++
    items[i] = index
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((items[parent] as number) <= index) break
      items[i] = items[parent] as number
      items[parent] = index
      i = parent
    }
  }

  /** Removes and returns the smallest index, or -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1
    const items = this.#items
    const top = items[0] as number
    const last = items[--this.#size] as number
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= this.#size) break
      const right = left + 1
      const child = right < this.#size && (items[right] as number) < (items[left] as number) ? right : left
      if ((items[child] as number) >= last) break
      items[i] = items[child] as number
      i = child
    }
    items[i] = last
    return top
  }
}
