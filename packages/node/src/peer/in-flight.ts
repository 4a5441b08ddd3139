/**
 * Counts the calls under way per key (a job's verifications, say), so that something that must not overlap them (the
 * job's deletion) can tell whether any is.
 */
export class InFlight {
  readonly #counts = new Map<string, number>()

  /** Runs `work` counted under `key` until it settles, either way. */
  async track<T>(key: string, work: () => Promise<T>): Promise<T> {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1)
    try {
      return await work()
    } finally {
      const left = (this.#counts.get(key) ?? 1) - 1
      if (left === 0) this.#counts.delete(key)
      else this.#counts.set(key, left)
    }
  }

  /** Whether a call is under way for `key`. */
  has(key: string): boolean {
    return this.#counts.has(key)
  }

  /** How many keys have a call under way. */
  get size(): number {
    return this.#counts.size
  }
}
