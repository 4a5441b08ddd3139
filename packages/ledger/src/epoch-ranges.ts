/**
 * A set of epoch numbers kept as sorted, disjoint, non-adjacent runs `[start, end)`: what the settlement machine
 * remembers of the epochs it dropped. Epochs are dropped mostly in order, so the runs merge as they grow and the
 * set holds one run per gap, an epoch not yet dropped (in flight, or stuck on a payout that failed for good), not
 * one number per epoch: a simulator closing an epoch a second for a day holds a few runs, not 86,400 numbers.
 */
export class EpochRanges {
  /** Run starts, ascending. */
  readonly #starts: number[] = []
  /** Run ends (exclusive), parallel to {@link #starts}. */
  readonly #ends: number[] = []

  /** Whether `epoch` is in the set. */
  has(epoch: number): boolean {
    const i = this.#runAfter(epoch) - 1
    return i >= 0 && epoch < (this.#ends[i] as number)
  }

  /** Adds `epoch`, merging it with the runs it touches. */
  add(epoch: number): void {
    const next = this.#runAfter(epoch)
    const prev = next - 1
    if (prev >= 0 && epoch < (this.#ends[prev] as number)) return
    const joinsPrev = prev >= 0 && this.#ends[prev] === epoch
    const joinsNext = next < this.#starts.length && this.#starts[next] === epoch + 1
    if (joinsPrev && joinsNext) {
      this.#ends[prev] = this.#ends[next] as number
      this.#starts.splice(next, 1)
      this.#ends.splice(next, 1)
    } else if (joinsPrev) {
      this.#ends[prev] = epoch + 1
    } else if (joinsNext) {
      this.#starts[next] = epoch
    } else {
      this.#starts.splice(next, 0, epoch)
      this.#ends.splice(next, 0, epoch + 1)
    }
  }

  /** Runs held: what the set costs in memory. */
  get runs(): number {
    return this.#starts.length
  }

  /** The index of the first run starting after `epoch` (binary search). */
  #runAfter(epoch: number): number {
    let lo = 0
    let hi = this.#starts.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.#starts[mid] as number) <= epoch) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
