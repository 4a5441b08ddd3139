import { raceSignal, throwIfAborted } from './abort.js'
import type { AbortOptions } from './bus.js'

/**
 * Runs async work one call at a time, in call order. A call whose signal aborts while it waits for its turn
 * rejects with an AbortError at once and never runs; the calls behind it keep their order and still wait for the
 * work ahead of it.
 */
export class SerialQueue {
  /** Settles, never rejecting, once every call made so far has finished or given up its turn. */
  #tail: Promise<unknown> = Promise.resolve()

  /** Runs `work` after every earlier call has settled, unless `options.signal` aborts first. */
  run<T>(work: () => Promise<T>, options: AbortOptions = {}): Promise<T> {
    const turn = this.#tail
    const result = raceSignal(turn, options.signal).then(() => {
      // The signal may fire after the turn came but before this callback ran.
      throwIfAborted(options.signal)
      return work()
    })
    // A call that gave up waiting must not let the next one run alongside the work it was waiting for.
    this.#tail = result.then(
      () => undefined,
      () => turn,
    )
    return result
  }

  /** Resolves once every call made so far has settled. */
  async idle(): Promise<void> {
    await this.#tail
  }
}
