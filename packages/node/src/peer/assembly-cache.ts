import { AbortError, type AbortOptions, type Clock, raceSignal, systemClock, throwIfAborted } from '@tessera/core'
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

/** Options of {@link AssemblyCache.getOrAssemble}. */
export interface SharedAssemblyOptions extends AbortOptions {
  /**
   * Bytes the assembly refuses to fetch past, when it has such a bound: only callers with the same bound share an
   * assembly in flight, since one refused past a smaller bound could be owed to a caller with a larger one. The
   * output is kept under its key alone, whatever the bound.
   * @default none
   */
  bound?: number
}

/** An assembly in flight, and how many callers wait for it: the last to stop waiting aborts it. */
interface Assembly {
  readonly output: Promise<AssembledOutput>
  readonly controller: AbortController
  waiters: number
}

/**
 * Outputs put together lately, by a key that names what each was put together from, the least recently used let go
 * first past `maxEntries` or `maxBytes`, and any left unused for `idleMs`: asking for a frame's files one at a time
 * then assembles the frame once, and an idle node holds none. What it holds is shared with every caller that gets
 * it, and never changed. An output being put together is shared too (see {@link getOrAssemble}).
 */
export class AssemblyCache {
  readonly #entries = new Map<string, { output: AssembledOutput; bytes: number; usedAt: number }>()
  readonly #inFlight = new Map<string, Assembly>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #idleMs: number
  readonly #clock: Clock
  #bytes = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Set by {@link close}: nothing is assembled or kept any more. */
  #closed = false

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

  /**
   * The output kept under `key`; else the one being put together under it (with the same `options.bound`); else the
   * one `assemble` puts together, kept once done. Callers asking for one output at once (a client fetching a frame's
   * PNG and EXR side by side) so wait on one assembly, not one each. A caller whose signal aborts stops waiting, with
   * an `AbortError`, and the others wait on; the assembly is aborted only when no caller is left waiting for it. An
   * assembly that fails fails every caller waiting for it, and is not kept: the next call tries again. Once the cache
   * is closed, rejects with an `AbortError`.
   */
  async getOrAssemble(
    key: string,
    assemble: (options: Required<AbortOptions>) => Promise<AssembledOutput>,
    options: SharedAssemblyOptions = {},
  ): Promise<AssembledOutput> {
    const kept = this.get(key)
    if (kept !== undefined) return kept
    throwIfAborted(options.signal)
    if (this.#closed) throw new AbortError('the assembly cache is closed')
    const flightKey = options.bound === undefined ? key : `${key}\n${options.bound}`
    let assembly = this.#inFlight.get(flightKey)
    if (assembly === undefined) {
      const controller = new AbortController()
      const started: Assembly = {
        controller,
        waiters: 0,
        output: assemble({ signal: controller.signal })
          .then((output) => {
            this.set(key, output)
            return output
          })
          .finally(() => {
            if (this.#inFlight.get(flightKey) === started) this.#inFlight.delete(flightKey)
          }),
      }
      assembly = started
      this.#inFlight.set(flightKey, assembly)
    }
    assembly.waiters++
    try {
      // A close stops the wait at once, whether or not `assemble` heeds its abort.
      const { signal } = assembly.controller
      return await raceSignal(assembly.output, options.signal ? AbortSignal.any([options.signal, signal]) : signal)
    } finally {
      assembly.waiters--
      // The last caller gone before it is done: no one will use it, so it stops fetching and holding outputs.
      if (assembly.waiters === 0 && this.#inFlight.get(flightKey) === assembly) {
        this.#inFlight.delete(flightKey)
        assembly.controller.abort()
      }
    }
  }

  /** Keeps `output` under `key`, letting the least recently used go until the bounds hold; nothing once closed. */
  set(key: string, output: AssembledOutput): void {
    this.delete(key)
    this.#dropIdle()
    const bytes = assembledBytes(output)
    if (this.#closed || bytes > this.#maxBytes) return
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

  /**
   * Aborts the assemblies in flight (their callers reject) and lets go of every output kept: its peer is stopping, and
   * an assembly left running would go on fetching through a stopped node. Nothing is assembled or kept after.
   */
  close(): void {
    this.#closed = true
    for (const assembly of this.#inFlight.values()) assembly.controller.abort()
    this.#inFlight.clear()
    this.#entries.clear()
    this.#bytes = 0
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Outputs being put together. */
  get assembling(): number {
    return this.#inFlight.size
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
