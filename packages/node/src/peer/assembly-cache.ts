import type { AssembledOutput } from '@tessera/scheduler/driver'
import { ASSEMBLED_OUTPUT_BYTES_KEPT, ASSEMBLED_OUTPUTS_KEPT } from './constants.js'

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
}

/** The bytes an assembled output holds: its frames' pixels, or its items. */
export function assembledBytes(output: AssembledOutput): number {
  if (output.kind === 'inference') return output.bytes.byteLength
  return output.frames.reduce((sum, f) => sum + f.pixels.byteLength, 0)
}

/**
 * Outputs put together lately, by a key that names what each was put together from, the least recently used let go
 * first past `maxEntries` or `maxBytes`: asking for a frame's files one at a time then assembles the frame once.
 * What it holds is shared with every caller that gets it, and never changed.
 */
export class AssemblyCache {
  readonly #entries = new Map<string, { output: AssembledOutput; bytes: number }>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  #bytes = 0

  constructor(init: AssemblyCacheInit = {}) {
    this.#maxEntries = init.maxEntries ?? ASSEMBLED_OUTPUTS_KEPT
    this.#maxBytes = init.maxBytes ?? ASSEMBLED_OUTPUT_BYTES_KEPT
  }

  /** The output kept under `key`, now the most recently used; undefined when none is. */
  get(key: string): AssembledOutput | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.output
  }

  /** Keeps `output` under `key`, letting the least recently used go until the bounds hold. */
  set(key: string, output: AssembledOutput): void {
    this.delete(key)
    const bytes = assembledBytes(output)
    if (bytes > this.#maxBytes) return
    this.#entries.set(key, { output, bytes })
    this.#bytes += bytes
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

  /** Outputs kept. */
  get size(): number {
    return this.#entries.size
  }

  /** Bytes of the outputs kept, all together. */
  get bytes(): number {
    return this.#bytes
  }
}
