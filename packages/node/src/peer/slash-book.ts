import type { Datastore } from '../datastore.js'
import type { NodeError } from '../errors.js'
import type { SlashView } from './settlement.js'

/**
 * A worker's current stake bond. Each bond a slash empties is followed by a new one under the next generation (a
 * bond id of its own, so a new vault): the ledger's journal replays an opening under an id it has seen, which would
 * give back the closed vault.
 */
export interface BondRecord {
  generation: number
  /** What the generation's bond was posted with, once it was: what a restart posts it again with (idempotent). */
  payee?: string
  stake?: bigint
}

/** A fraud proof upheld against a worker whose bond is not forfeited yet: carried out at the next start. */
export interface UpheldRecord {
  jobId: string
  fraudProofHash: Uint8Array
  /** The generation of the bond it forfeits. */
  generation: number
}

/** The ledger bond id of a worker's bond of generation `generation` (the first is the worker's id, as it always was). */
export function bondIdOf(worker: string, generation: number): string {
  return generation === 0 ? worker : `${worker}/${generation}`
}

const bondKey = (worker: string): string => `bond/${worker}`
const upheldKey = (worker: string): string => `upheld/${worker}`
/** A fraud proof carried out against a worker: a proof forfeits one bond, however often it is upheld again. */
const proofKey = (worker: string, fraudProofHash: Uint8Array): string =>
  `proof/${worker}/${Buffer.from(fraudProofHash).toString('hex')}`
/** Peer ids and job ids hold no `/`: a job's slashes are one prefix read. */
const jobSlashKey = (jobId: string, worker: string): string => `job/${jobId}/${worker}`

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/** A stored {@link BondRecord}, checked (a stake as a bigint again: DAG-CBOR gives a small one back as a number). */
function parseBond(value: unknown): BondRecord {
  const { generation, payee, stake } = (value ?? {}) as Record<string, unknown>
  if (
    !Number.isSafeInteger(generation) ||
    (generation as number) < 0 ||
    (payee !== undefined && !isString(payee)) ||
    (stake !== undefined && typeof stake !== 'bigint' && !Number.isSafeInteger(stake))
  ) {
    throw new TypeError('a bond record is { generation, payee?, stake? }')
  }
  return {
    generation: generation as number,
    ...(payee !== undefined ? { payee } : {}),
    ...(stake !== undefined ? { stake: BigInt(stake as number | bigint) } : {}),
  }
}

function parseUpheld(value: unknown): UpheldRecord {
  const { jobId, fraudProofHash, generation } = (value ?? {}) as Record<string, unknown>
  if (
    !isString(jobId) ||
    !(fraudProofHash instanceof Uint8Array) ||
    fraudProofHash.byteLength !== 32 ||
    !Number.isSafeInteger(generation) ||
    (generation as number) < 0
  ) {
    throw new TypeError('an upheld fraud proof is { jobId, fraudProofHash: 32 bytes, generation }')
  }
  return { jobId, fraudProofHash, generation: generation as number }
}

function parseSlash(value: unknown): SlashView {
  const { worker, jobId, payee, signature, amount } = (value ?? {}) as Record<string, unknown>
  if (
    !isString(worker) ||
    !isString(jobId) ||
    !isString(payee) ||
    !isString(signature) ||
    (amount !== undefined && !isString(amount))
  ) {
    throw new TypeError('a slash is { worker, jobId, payee, signature, amount? }')
  }
  return { worker, jobId, payee, signature, ...(amount !== undefined ? { amount } : {}) }
}

/**
 * A creator's slash bookkeeping on disk (namespace `slashes`), so a restart neither forgets a slash nor replays one:
 * each worker's bond generation, the fraud proofs upheld and not carried out yet, and the slashes carried out, by
 * job. A slash is recorded, its worker's generation moved on and its upheld proof let go in one batch.
 */
export class SlashBook {
  readonly #datastore: Datastore

  constructor(datastore: Datastore) {
    this.#datastore = datastore
  }

  /** The worker's current bond: generation 0, never posted, for a worker this node never bonded. */
  async bond(worker: string): Promise<BondRecord> {
    return (await this.#datastore.get('slashes', bondKey(worker), parseBond)) ?? { generation: 0 }
  }

  /** Keeps the worker's current bond. */
  async setBond(worker: string, record: BondRecord): Promise<void> {
    await this.#datastore.put('slashes', bondKey(worker), record)
  }

  /** The fraud proof upheld against the worker and not carried out yet, if any. */
  async upheld(worker: string): Promise<UpheldRecord | undefined> {
    return this.#datastore.get('slashes', upheldKey(worker), parseUpheld)
  }

  /** Journals a fraud proof upheld against the worker, before its bond is forfeited. */
  async uphold(worker: string, record: UpheldRecord): Promise<void> {
    await this.#datastore.put('slashes', upheldKey(worker), record)
  }

  /** Lets go of the worker's upheld fraud proof. */
  async dropUpheld(worker: string): Promise<void> {
    await this.#datastore.delete('slashes', upheldKey(worker))
  }

  /** Every upheld fraud proof not carried out yet, by worker; one that cannot be read goes to `onCorrupt`. */
  async allUpheld(onCorrupt: (key: string, error: NodeError) => void): Promise<Map<string, UpheldRecord>> {
    const upheld = new Map<string, UpheldRecord>()
    for await (const [key, record] of this.#datastore.entries('slashes', {
      prefix: upheldKey(''),
      onCorrupt,
      parse: parseUpheld,
    })) {
      upheld.set(key.slice(upheldKey('').length), record)
    }
    return upheld
  }

  /** Whether the fraud proof has forfeited one of the worker's bonds already. */
  async carriedOut(worker: string, fraudProofHash: Uint8Array): Promise<boolean> {
    return (await this.#datastore.get('slashes', proofKey(worker, fraudProofHash))) !== undefined
  }

  /**
   * Records a slash carried out, in one batch: the slash under its job, the proof it carried out, the worker's next
   * bond generation (the one slashed is empty and closed), and its upheld proof let go.
   */
  async slashed(view: SlashView, generation: number, fraudProofHash: Uint8Array): Promise<void> {
    await this.#datastore.batch([
      { type: 'put', ns: 'slashes', key: jobSlashKey(view.jobId, view.worker), value: view },
      { type: 'put', ns: 'slashes', key: proofKey(view.worker, fraudProofHash), value: view.jobId },
      { type: 'put', ns: 'slashes', key: bondKey(view.worker), value: { generation: generation + 1 } },
      { type: 'del', ns: 'slashes', key: upheldKey(view.worker) },
    ])
  }

  /** The slashes carried out for a job's fraud proofs; one that cannot be read goes to `onCorrupt`. */
  async slashesOf(jobId: string, onCorrupt: (key: string, error: NodeError) => void): Promise<SlashView[]> {
    const slashes: SlashView[] = []
    for await (const [, view] of this.#datastore.entries('slashes', {
      prefix: jobSlashKey(jobId, ''),
      onCorrupt,
      parse: parseSlash,
    })) {
      slashes.push(view)
    }
    return slashes
  }
}
