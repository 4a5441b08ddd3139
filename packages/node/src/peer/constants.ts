import { MAX_SERVES_PER_PEER } from '@tessera/core'

/** Defaults for a peer's market behaviour. */

/** A job's highest price per benchmark-hour when the request names none, token units. */
export const DEFAULT_JOB_MAX_PRICE = 1_000n
/** Capacity benchmark score assumed until the node has run the benchmark. */
export const DEFAULT_SCORE = 100
/** Memory a worker advertises when the adapter does not say. */
export const DEFAULT_MEMORY_MB = 1024
/** How long a finished job waits for workers to countersign its receipts before its epoch settles without them. */
export const RECEIPT_GRACE_MS = 30_000
/**
 * Fraud proofs a peer keeps in memory (`Peer.slashes`, and the slashes `Settlement.slashes` carried out), the newest;
 * each slash is also logged and settled.
 */
export const SLASHES_KEPT = 1_000
/** An epoch the chain refused to anchor or pay is tried again after this pause, doubling each time. */
export const SETTLEMENT_RETRY_FIRST_PAUSE_MS = 60_000
/** The longest pause between tries of an unpaid epoch. */
export const SETTLEMENT_RETRY_MAX_PAUSE_MS = 60 * 60_000
/**
 * How soon a settlement waiting to try the chain again tries once the ledger is back (this node's next ledger action
 * confirmed, or its wallet topped up), when that is sooner than its pause: soon, but not at every action of a busy
 * creator, which would try a refusal that is not an outage's as often.
 */
export const SETTLEMENT_RETRY_WOKEN_PAUSE_MS = 10_000
/**
 * Checks and arbitrations other peers may ask of this one (`verification.serve`) per recompute timeout (ten
 * minutes): from one peer, and from all together. The verifier holds 10,000 pending checks; the total leaves most
 * of them to this node's own, whatever a flood of requests (or of identities) asks. A creator delegating a large
 * job's samples to one verifier stays well under the share of one peer.
 */
export const SERVED_REQUESTS_PER_PEER = 256
export const SERVED_REQUESTS_TOTAL = 2_048
/**
 * Bytes of fraud proofs `Peer.slashes` keeps at most: a proof quotes two chunks and may run to megabytes, so a
 * count alone would let a thousand of them hold gigabytes.
 */
export const SLASH_PROOF_BYTES_KEPT = 64 * 1024 * 1024
/**
 * Assembled outputs a creator keeps, the last asked for (see `AssemblyCache`): a client fetching a frame's PNG, its
 * OpenEXR and its tile list one reply each has the frame put together once. Few, since each may be a whole frame.
 */
export const ASSEMBLED_OUTPUTS_KEPT = 4
/**
 * Bytes of assembled outputs kept at most, all together: one 8K frame of RGBA float32 (7680 x 4320 x 16 bytes, about
 * 506 MiB), the size whose files are fetched one reply each, fits with room to spare.
 */
export const ASSEMBLED_OUTPUT_BYTES_KEPT = 768 * 1024 * 1024
/**
 * How long an assembled output is kept unused: a client asks for a frame's files one right after another, and a
 * node that served them should not hold hundreds of megabytes of pixels until the next request pushes them out.
 */
export const ASSEMBLED_OUTPUT_IDLE_MS = 60_000
/**
 * An output whose checks passed but that this node failed to pin or store (its disk full, say) is tried again after
 * this pause, doubling each time: its worker's verdict waits rather than fail a worker for the creator's own failure.
 */
export const KEEP_OUTPUT_FIRST_PAUSE_MS = 1_000
/** The longest pause between tries to keep an output whose checks passed. */
export const KEEP_OUTPUT_MAX_PAUSE_MS = 60_000
/**
 * Outputs a creator fetches at once from one worker, the others waiting their turn: below the blobs a worker serves
 * one peer at once (`MAX_SERVES_PER_PEER`), so a creator keeping many of one worker's outputs is not answered `busy`
 * by its own fetches, with one to spare for anything else it fetches from the worker.
 */
export const KEEP_OUTPUT_FETCHES_PER_WORKER = MAX_SERVES_PER_PEER - 1
/**
 * Times a worker may answer `busy` (serving as many blobs as it will, to other peers) to a fetch of an output whose
 * checks passed before the task fails: each after the blob service asked for a minute (`BLOB_BUSY_RETRY_MS`), the
 * fetch tried again after a pause from {@link KEEP_OUTPUT_FIRST_PAUSE_MS} doubling to
 * {@link KEEP_OUTPUT_MAX_PAUSE_MS}, so an honest worker under load has a quarter of an hour, and one that answers
 * `busy` for ever holds the job no longer.
 */
export const KEEP_OUTPUT_BUSY_TRIES = 10
