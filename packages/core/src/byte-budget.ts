import { throwIfAborted } from './abort.js'
import type { AbortOptions } from './bus.js'
import { AbortError } from './errors.js'

/**
 * Gives back what {@link ByteBudget.acquire} reserved: `bytes` of it (a reservation made for the most a fetch could
 * take, cut down once its size is known), or, without an argument, all that is left. Giving back more than is left
 * gives back what is left; once all is back, a call does nothing.
 */
export type ReleaseBytes = (bytes?: number) => void

interface Waiter {
  bytes: number
  grant(): void
}

/**
 * Bytes that may be held at once by concurrent work (blobs being fetched and assembled), granted first come,
 * first served. A request that does not fit waits for earlier ones to finish; one larger than the whole budget
 * is granted alone, when nothing else is held, so it can never wait for good.
 */
export class ByteBudget {
  readonly max: number
  #held = 0
  readonly #waiting: Waiter[] = []

  constructor(max: number) {
    this.max = max
  }

  /** Bytes granted and not yet released. */
  get held(): number {
    return this.#held
  }

  /** Requests waiting for bytes. */
  get waiting(): number {
    return this.#waiting.length
  }

  /**
   * Reserves `bytes` if they fit now (or are the only bytes held, as {@link acquire} would grant them), with nobody
   * waiting ahead; undefined otherwise.
   */
  tryAcquire(bytes: number): ReleaseBytes | undefined {
    return this.#waiting.length === 0 && this.#fits(bytes) ? this.#grant(bytes) : undefined
  }

  /** Reserves `bytes`, waiting for room; rejects with an AbortError if `options.signal` aborts first. */
  async acquire(bytes: number, options: AbortOptions = {}): Promise<ReleaseBytes> {
    throwIfAborted(options.signal)
    if (this.#waiting.length === 0 && this.#fits(bytes)) return this.#grant(bytes)
    const { signal } = options
    return new Promise<ReleaseBytes>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.#grant(bytes))
        },
      }
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(waiter)
        if (at >= 0) this.#waiting.splice(at, 1)
        reject(new AbortError())
        // The first in line leaving may make room for the next.
        this.#drain()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  #fits(bytes: number): boolean {
    return this.#held === 0 || this.#held + bytes <= this.max
  }

  #grant(bytes: number): ReleaseBytes {
    this.#held += bytes
    let left = bytes
    return (some = left) => {
      const back = Math.min(left, some)
      if (!(back > 0)) return
      left -= back
      this.#held -= back
      this.#drain()
    }
  }

  #drain(): void {
    for (let next = this.#waiting[0]; next !== undefined && this.#fits(next.bytes); next = this.#waiting[0]) {
      this.#waiting.shift()
      next.grant()
    }
  }
}
