import type { Datastore, DatastoreWrite } from '../datastore.js'
import type { NodeError } from '../errors.js'
import type { SlashView } from './settlement.js'

/**
 * A worker's current stake bond. Each bond a slash empties is followed by a new one under the next generation (a
 * bond id of its own, so a new vault): the ledger's journal replays an opening under an id it has seen, which would
 * give back the closed vault.
 */
export interface BondRecord {
  generation: number
  /**
   * What the generation's bond is posted with, recorded before it is posted (an intent): what posting it again after
   * a stop or a failure posts, whatever a later caller asks (the ledger replays an opening only as it was journaled).
   */
  payee?: string
  stake?: bigint
}

/**
 * A fraud proof upheld against a worker and not carried out yet: journaled before the chain is asked anything, and
 * let go in the batch recording the slash that carries it out (or once found carried out). It forfeits the worker's
 * next bond to be slashed, whichever generation that is.
 */
export interface PendingProof {
  jobId: string
  fraudProofHash: Uint8Array
}

/**
 * The one fraud proof per worker an older version journaled (`upheld/<worker>`), and the generation of the bond it
 * was upheld against: adopted as a {@link PendingProof} when read.
 */
interface UpheldRecord extends PendingProof {
  generation: number
}

/** The ledger bond id of a worker's bond of generation `generation` (the first is the worker's id, as it was). */
export function bondIdOf(worker: string, generation: number): string {
  return generation === 0 ? worker : `${worker}/${generation}`
}

/** A fraud proof's hash as keys and the ledger's journal spell it. */
export const proofHex = (fraudProofHash: Uint8Array): string => Buffer.from(fraudProofHash).toString('hex')

const bondKey = (worker: string): string => `bond/${worker}`
const upheldKey = (worker: string): string => `upheld/${worker}`
/** Every worker's pending fraud proofs; peer ids hold no `/`, so one worker's are one prefix read too. */
const PENDING = 'pending/'
const pendingOfKey = (worker: string): string => `${PENDING}${worker}/`
const pendingKey = (worker: string, fraudProofHash: Uint8Array): string =>
  `${pendingOfKey(worker)}${proofHex(fraudProofHash)}`
/** A fraud proof carried out against a worker: a proof forfeits one bond, however often it is upheld again. */
const proofKey = (worker: string, fraudProofHash: Uint8Array): string => `proof/${worker}/${proofHex(fraudProofHash)}`
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

function parsePending(value: unknown): PendingProof {
  const { jobId, fraudProofHash } = (value ?? {}) as Record<string, unknown>
  if (!isString(jobId) || !(fraudProofHash instanceof Uint8Array) || fraudProofHash.byteLength !== 32) {
    throw new TypeError('a pending fraud proof is { jobId, fraudProofHash: 32 bytes }')
  }
  return { jobId, fraudProofHash }
}

function parseUpheld(value: unknown): UpheldRecord {
  const { generation } = (value ?? {}) as Record<string, unknown>
  if (!Number.isSafeInteger(generation) || (generation as number) < 0) {
    throw new TypeError('an upheld fraud proof is { jobId, fraudProofHash: 32 bytes, generation }')
  }
  return { ...parsePending(value), generation: generation as number }
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
 * each worker's bond generation, the fraud proofs upheld and not carried out yet (any number per worker), the proofs
 * carried out, and the slashes carried out, by job. A slash is recorded, its proof let go and its worker's generation
 * moved on in one batch.
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

  /** Journals a fraud proof upheld against the worker, before anything is asked of the chain for it. */
  async pend(worker: string, proof: PendingProof): Promise<void> {
    await this.#datastore.put('slashes', pendingKey(worker, proof.fraudProofHash), {
      jobId: proof.jobId,
      fraudProofHash: proof.fraudProofHash,
    })
  }

  /**
   * The fraud proofs upheld against the worker and not carried out yet, by proof hash. One found carried out already
   * (upheld again as its slash was recorded) is let go; the one an older version journaled is adopted first (see
   * {@link SlashBook.#adopt}, which reports to `onForfeited`). One that cannot be read goes to `onCorrupt`, left on
   * disk.
   */
  async pendingOf(
    worker: string,
    onCorrupt: (key: string, error: NodeError) => void,
    onForfeited: (worker: string, proof: PendingProof) => void,
  ): Promise<PendingProof[]> {
    await this.#adopt([worker], onCorrupt, onForfeited)
    const pending: PendingProof[] = []
    const done: DatastoreWrite[] = []
    for await (const [key, proof] of this.#datastore.entries('slashes', {
      prefix: pendingOfKey(worker),
      onCorrupt,
      parse: parsePending,
    })) {
      if (await this.carriedOut(worker, proof.fraudProofHash)) done.push({ type: 'del', ns: 'slashes', key })
      else pending.push(proof)
    }
    if (done.length > 0) await this.#datastore.batch(done)
    return pending
  }

  /**
   * The workers with fraud proofs upheld against them and not carried out yet, the older version's included (adopted
   * first; see {@link pendingOf}).
   */
  async workersPending(
    onCorrupt: (key: string, error: NodeError) => void,
    onForfeited: (worker: string, proof: PendingProof) => void,
  ): Promise<Set<string>> {
    const legacy: string[] = []
    for await (const [key] of this.#datastore.entries('slashes', { prefix: upheldKey(''), onCorrupt })) {
      legacy.push(key.slice(upheldKey('').length))
    }
    await this.#adopt(legacy, onCorrupt, onForfeited)
    const workers = new Set<string>()
    for await (const [key] of this.#datastore.entries('slashes', { prefix: PENDING, onCorrupt })) {
      workers.add(key.slice(PENDING.length).split('/')[0] as string)
    }
    return workers
  }

  /**
   * Moves the fraud proofs an older version journaled (one per worker, `upheld/<worker>`) to the pending ones, each
   * in one batch. One naming a bond generation older than the worker's current one is only let go, to `onForfeited`:
   * the bond it was upheld against is forfeited already (the record of that lost), and that version never carried
   * such a one out on a later bond either. One that cannot be read goes to `onCorrupt`, left on disk.
   */
  async #adopt(
    workers: readonly string[],
    onCorrupt: (key: string, error: NodeError) => void,
    onForfeited: (worker: string, proof: PendingProof) => void,
  ): Promise<void> {
    for (const worker of workers) {
      let upheld: UpheldRecord | undefined
      try {
        upheld = await this.#datastore.get('slashes', upheldKey(worker), parseUpheld)
      } catch (e) {
        onCorrupt(upheldKey(worker), e as NodeError)
        continue
      }
      if (upheld === undefined) continue
      const { jobId, fraudProofHash, generation } = upheld
      const forfeited = generation < (await this.bond(worker)).generation
      const adopted: DatastoreWrite[] = forfeited
        ? []
        : [{ type: 'put', ns: 'slashes', key: pendingKey(worker, fraudProofHash), value: { jobId, fraudProofHash } }]
      await this.#datastore.batch([...adopted, { type: 'del', ns: 'slashes', key: upheldKey(worker) }])
      if (forfeited) onForfeited(worker, { jobId, fraudProofHash })
    }
  }

  /** Whether the fraud proof has forfeited one of the worker's bonds already. */
  async carriedOut(worker: string, fraudProofHash: Uint8Array): Promise<boolean> {
    return (await this.#datastore.get('slashes', proofKey(worker, fraudProofHash))) !== undefined
  }

  /**
   * Records a slash carried out, in one batch: the slash under its job, the proof it carried out (let go of as
   * pending), and the worker's next bond generation (the one slashed is empty and closed).
   */
  async slashed(view: SlashView, generation: number, fraudProofHash: Uint8Array): Promise<void> {
    await this.#datastore.batch([
      { type: 'put', ns: 'slashes', key: jobSlashKey(view.jobId, view.worker), value: view },
      { type: 'put', ns: 'slashes', key: proofKey(view.worker, fraudProofHash), value: view.jobId },
      { type: 'put', ns: 'slashes', key: bondKey(view.worker), value: { generation: generation + 1 } },
      { type: 'del', ns: 'slashes', key: pendingKey(view.worker, fraudProofHash) },
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
