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
    this.#items[this.#size] = index
    this.#siftUp(this.#size++)
  }

  /** Removes `index` if held (a scan: for the rare task taken out of turn); returns whether it was. */
  remove(index: number): boolean {
    const at = this.#items.subarray(0, this.#size).indexOf(index)
    if (at < 0) return false
    this.#take(at)
    return true
  }

  /** Removes and returns the smallest index, or -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1
    const top = this.#items[0] as number
    this.#take(0)
    return top
  }

  /** Fills slot `at` with the last item and restores the heap order around it. */
  #take(at: number): void {
    const last = this.#items[--this.#size] as number
    if (at === this.#size) return
    this.#items[at] = last
    this.#siftDown(at)
    this.#siftUp(at)
  }

  #siftUp(at: number): void {
    const items = this.#items
    const index = items[at] as number
    let i = at
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((items[parent] as number) <= index) break
      items[i] = items[parent] as number
      i = parent
    }
    items[i] = index
  }

  #siftDown(at: number): void {
    const items = this.#items
    const index = items[at] as number
    let i = at
    for (;;) {
      const left = 2 * i + 1
      if (left >= this.#size) break
      const right = left + 1
      const child = right < this.#size && (items[right] as number) < (items[left] as number) ? right : left
      if ((items[child] as number) >= index) break
      items[i] = items[child] as number
      i = child
    }
    items[i] = index
  }
}
