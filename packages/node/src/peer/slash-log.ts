import { SLASH_PROOF_BYTES_KEPT, SLASHES_KEPT } from './constants.js'
import type { SlashRecord } from './verification.js'

/** How many slashes a {@link SlashLog} keeps, and how many bytes of their fraud proofs. */
export interface SlashLogLimits {
  count: number
  bytes: number
}

/**
 * The fraud proofs a peer upheld, newest last, in memory: the latest `limits.count`, and fewer where their proofs
 * would pass `limits.bytes` (the newest is always kept). A proof quotes two chunks and may run to megabytes, so a
 * count alone would let a long-running verifier hold gigabytes. Each slash is also logged and settled.
 */
export class SlashLog {
  /** The kept slashes, oldest first (`Peer.slashes`). */
  readonly records: readonly SlashRecord[]
  readonly #kept: SlashRecord[] = []
  readonly #limits: SlashLogLimits
  #bytes = 0

  constructor(limits: SlashLogLimits = { count: SLASHES_KEPT, bytes: SLASH_PROOF_BYTES_KEPT }) {
    this.records = this.#kept
    this.#limits = limits
  }

  /** Keeps `slash`, letting go of the oldest past the limits. */
  add(slash: SlashRecord): void {
    this.#kept.push(slash)
    this.#bytes += slash.fraudProof?.byteLength ?? 0
    while (this.#kept.length > this.#limits.count || (this.#kept.length > 1 && this.#bytes > this.#limits.bytes)) {
      this.#bytes -= this.#kept.shift()!.fraudProof?.byteLength ?? 0
    }
  }
}
