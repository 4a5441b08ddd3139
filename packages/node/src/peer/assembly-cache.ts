import { type Clock, systemClock } from '@tessera/core'
import type { AssembledOutput } from '@tessera/scheduler/driver'
import { ASSEMBLED_OUTPUT_BYTES_KEPT, ASSEMBLED_OUTPUT_IDLE_MS, ASSEMBLED_OUTPUTS_KEPT } from './constants.js'

/** Options of {@link AssemblyCache}. */
export interface AssemblyCacheInit {
  /**
   * Outputs kept at most.
   * @default ASSEMBLED_OUTPUTS_KEPT (4)
   */
  maxEntries?: number
  /**
   * Bytes of outputs kept at most, all together; an output larger than this is not kept at all.
   * @default ASSEMBLED_OUTPUT_BYTES_KEPT (768 MiB)
   */
  maxBytes?: number
  /**
   * How long an output is kept unused before it is let go (checked on every call, and by a timer that does not keep
   * the process alive).
   * @default ASSEMBLED_OUTPUT_IDLE_MS (60 s)
   */
  idleMs?: number
  /** @default systemClock */
  clock?: Clock
}

/** The bytes an assembled output holds: its frames' pixels, or its items. */
export function assembledBytes(output: AssembledOutput): number {
  if (output.kind === 'inference') return output.bytes.byteLength
  return output.frames.reduce((sum, f) => sum + f.pixels.byteLength, 0)
}

/**
 * Outputs put together lately, by a key that names what each was put together from, the least recently used let go
 * first past `maxEntries` or `maxBytes`, and any left unused for `idleMs`: asking for a frame's files one at a time
 * then assembles the frame once, and an idle node holds none. What it holds is shared with every caller that gets
 * it, and never changed.
 */
export class AssemblyCache {
  readonly #entries = new Map<string, { output: AssembledOutput; bytes: number; usedAt: number }>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #idleMs: number
  readonly #clock: Clock
  #bytes = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(init: AssemblyCacheInit = {}) {
    this.#maxEntries = init.maxEntries ?? ASSEMBLED_OUTPUTS_KEPT
    this.#maxBytes = init.maxBytes ?? ASSEMBLED_OUTPUT_BYTES_KEPT
    this.#idleMs = init.idleMs ?? ASSEMBLED_OUTPUT_IDLE_MS
    this.#clock = init.clock ?? systemClock
  }

  /** The output kept under `key`, now the most recently used; undefined when none is. */
  get(key: string): AssembledOutput | undefined {
    this.#dropIdle()
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    entry.usedAt = this.#clock.now()
    this.#entries.set(key, entry)
    return entry.output
  }

  /** Keeps `output` under `key`, letting the least recently used go until the bounds hold. */
  set(key: string, output: AssembledOutput): void {
    this.delete(key)
    this.#dropIdle()
    const bytes = assembledBytes(output)
    if (bytes > this.#maxBytes) return
    this.#entries.set(key, { output, bytes, usedAt: this.#clock.now() })
    this.#bytes += bytes
    this.#arm()
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.bytes
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#bytes -= entry.bytes
  }

  /** Lets go of the outputs unused for `idleMs`: the least recently used come first, so it stops at a fresh one. */
  #dropIdle(): void {
    const now = this.#clock.now()
    for (const [key, entry] of this.#entries) {
      if (entry.usedAt + this.#idleMs > now) break
      this.delete(key)
    }
  }

  /** Checks for idle outputs every `idleMs` while any are kept, without keeping the process alive. */
  #arm(): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#dropIdle()
      if (this.#entries.size > 0) this.#arm()
    }, this.#idleMs)
    this.#timer.unref?.()
  }

  /** Outputs kept. */
  get size(): number {
    return this.#entries.size
  }

  /** Bytes of the outputs kept, all together. */
  get bytes(): number {
    return this.#bytes
  }
}
