/**
 * The control API between the `tessera` CLI and a running node (JSON over HTTP on loopback, bearer token from the
 * data directory), and the operations a node offers through it.
 */

import type { AbortOptions } from '@tessera/core'
import type { ToneCurve } from '@tessera/gpu'

/** A job as the CLI submits it: inputs already stored as blobs, identified by CID. */
export interface JobRequest {
  kind: 'render' | 'inference'
  /**
   * A render's scene, then its panorama only with `render.environment`; an inference's model, then its input tensors.
   */
  inputs: string[]
  /** Render: frames x tiles. */
  render?: {
    frames: number
    width: number
    height: number
    tileWidth: number
    tileHeight: number
    samples: number
    /** The first frame's number; frames `firstFrame` to `firstFrame + frames - 1` are rendered. @default 0 */
    firstFrame?: number
    /** Plays the scene's animations: frame `f` shows them at `f / fps` seconds. Absent, the scene as stored. */
    fps?: number
    /** With `fps`, the one animation to play, by name (a file may hold several clips); absent, all of them. */
    animation?: string
    /**
     * How the panorama in `inputs[1]` lights the scene: radiance multiplier, turn about +y in radians, and whether
     * the camera sees it (default true; else black behind the scene).
     */
    environment?: { intensity: number; rotation: number; visible?: boolean }
  }
  /**
   * Inference: batch items split into tasks, and the FLOPs one item takes (twice its multiply-adds), which workers
   * price the order by; absent, they cannot (the order's `split.flopsPerItem`).
   */
  inference?: { items: number; itemsPerTask: number; flopsPerItem?: number }
  tier?: 1 | 2 | 3
  /** Highest price per benchmark-hour, token units, decimal string. */
  maxPrice?: string
  /** Milliseconds from now. */
  deadlineMs?: number
  /** The bid window closes once this many bids arrived. */
  minBids?: number
  /**
   * How hard the job's results are checked: catch a worker wrong on `cheatRate` of its tasks with probability `detect`
   * within `withinTasks` of its tasks, spending at most `maxOverhead` of the job's compute on checks. Terms left out
   * take the default budget's (0.999, 200, 0.1, 0.1). A budget no sampling plan meets for the job's tasks is refused
   * (`NODE__VERIFICATION_INFEASIBLE`, naming the shortest horizon that is met). Absent, the default budget, its horizon
   * lengthened for tasks too small to meet it (under 32 tile rows or batch items).
   */
  verification?: { detect?: number; withinTasks?: number; cheatRate?: number; maxOverhead?: number }
}

/** Progress of a job as the CLI shows it. */
export interface JobStatus {
  jobId: string
  state: 'bidding' | 'running' | 'completed' | 'failed' | 'cancelled' | 'expired'
  tasks: number
  completed: number
  verified: number
  reassigned: number
  /**
   * Estimated milliseconds to completion while the job runs, by the node's clock: the tasks left to verify at the pace
   * its verified ones took since it was ordered. Absent until a task is verified, and once the job is not running.
   */
  etaMs?: number
  /** A render job's frames, `first` to `first + count - 1`: what `job fetch` asks for one at a time. */
  frames?: { first: number; count: number }
  /**
   * How its results are checked: the order's verification budget and, for each task size (`chunks`: tile rows or
   * batch items), the plan verifiers sample by: each task checked with probability at least `p`, `challengeChunks` of
   * its chunks recomputed, at `overhead` of the compute, catching the budget's cheater within `withinTasks` tasks (the
   * budget's own horizon, or a longer one for a budget no plan meets as it stands).
   */
  verification?: {
    budget: { detect: number; withinTasks: number; cheatRate: number; maxOverhead: number }
    plans: { chunks: number; p: number; challengeChunks: number; overhead: number; withinTasks: number }[]
  }
  /**
   * While bidding: why there are not enough bids yet (`@tessera/scheduler`'s diagnostic): capacity records `seen`,
   * `eligible` peers, `bids` and `needed`, and records excluded by each first failing reason (`expired`, `tier`,
   * `features`, `memory`, `tooLarge`, `underpriced`, `price`, `busy`).
   */
  diagnostic?: Record<string, number>
  /** Tasks ever leased to each worker peer id. */
  leases?: Record<string, number>
  /** Tasks taken from each worker peer id and awarded to another (lost lease, failed check). */
  reassignedFrom?: Record<string, number>
  /** Tasks accepted and rejected per worker peer id. */
  workers?: Record<string, { accepted: number; rejected: number }>
  /**
   * Stakes this node slashed on chain for this job's fraud proofs: the worker, its wallet, the transaction, and the
   * bond's token units (absent when its balance could not be read).
   */
  slashed?: { worker: string; jobId: string; payee: string; signature: string; amount?: string }[]
  /** The job's settlement on the ledger, once funded. */
  settlement?: {
    epoch: number
    expected: number
    receipts: number
    anchor?: string
    payouts: string[]
    /** Token units received by each payee address. */
    paid: Record<string, string>
    fee: string
    /** Budget returned to the creator from the epoch vault after settlement. */
    refunded?: string
  }
}

/**
 * How a render job's PNG frames are tone-mapped; its OpenEXR frames are the verified linear radiance whatever these
 * say. Inference outputs ignore them.
 */
export interface JobOutputOptions {
  /** Multiplies radiance before the tone curve (finite, above 0). @default 2 (`PNG_EXPOSURE`) */
  exposure?: number
  /** How radiance above 1 fits 8 bits. @default 'clamp' */
  toneCurve?: ToneCurve
  /**
   * For a job that ended unfinished (cancelled, expired): what it accepted. A render's frames with the tiles it
   * accepted, the others left blank (transparent black) and listed in `tiles.json`; an inference's `output.f32` with the items of no accepted
   * range NaN, and `ranges.json` listing the ranges in and out. Without it such a job's output is refused with
   * `NODE__JOB_NOT_COMPLETE`, as is a job that accepted nothing.
   * @default false
   */
  partial?: boolean
  /**
   * A render job's one frame to give (its PNG and OpenEXR, and with `partial` its missing tiles as
   * `frame-NNNN.tiles.json`): how a job of many frames is fetched, a frame a reply. Without it every frame comes in
   * one reply, refused with `NODE__OUTPUT_TOO_LARGE` when its frames would take more than
   * {@link MAX_ASSEMBLED_OUTPUT_BYTES} to put together, or its files more than {@link MAX_OUTPUT_REPLY_BYTES}.
   */
  frame?: number
}

/**
 * The most bytes of files one output reply carries (before base64): a JSON reply is one string, which V8 caps at
 * about 512 MiB, and base64 takes a third more.
 */
export const MAX_OUTPUT_REPLY_BYTES = 360 * 1024 * 1024
/** The most bytes of pixels (16 a pixel) the frames of one reply without `frame` may take as they are put together. */
export const MAX_ASSEMBLED_OUTPUT_BYTES = 2 * 1024 * 1024 * 1024
/**
 * The most bytes a client takes in one output file reply: a frame's OpenEXR holds its pixels (at most
 * {@link MAX_ASSEMBLED_OUTPUT_BYTES}) and, where they do not compress, a little more.
 */
export const MAX_OUTPUT_FILE_BYTES = 2 * MAX_ASSEMBLED_OUTPUT_BYTES

/** One output file, as `GET /v1/jobs/:id/output/:file` answers it: its bytes, not base64. */
export interface OutputFileReply {
  name: string
  contentType: string
  bytes: Uint8Array
}

/** A job's output files. */
export interface JobOutput {
  jobId: string
  files: { name: string; contentType: string; base64: string }[]
}

/** This node's wallet: its address and balances. */
export interface WalletInfo {
  address: string
  /** Lamports (1e-9 SOL), decimal string. */
  lamports: string
  /** Payment token units, decimal string. */
  tokens: string
  /** The payment token's mint address. */
  mint: string
}

/** One line of `job list`: a job this node ordered and where it stands. */
export interface JobSummary {
  jobId: string
  state: JobStatus['state']
  tasks: number
  verified: number
  /** When the job was ordered (its order's `issuedAt`, epoch ms). */
  orderedAt: number
}

/** Most jobs `GET /v1/jobs` lists at once, and how many it lists when not asked. */
export const MAX_JOBS_LISTED = 10_000
export const DEFAULT_JOBS_LISTED = 50

/** A running node as the CLI shows it. */
export interface NodeStatus {
  peerId: string
  addrs: string[]
  peers: number
  capacityRecords: number
  worker: boolean
  /** Where this node is paid (a Solana address). */
  payee: string
  /** A worker's work: tasks running and queued now, and what it has countersigned receipts for, ever. */
  work?: {
    running: number
    queued: number
    slots: number
    /** Tasks whose receipts it countersigned (the creator's claim to pay them). */
    receipted: number
    /** Their gross amount, token units (the settlement's fee comes off it), as a decimal string. */
    earned: string
  }
}

/**
 * What a running node does for the API; the server only routes, validates and authorises. Each call's `signal`
 * aborts when the HTTP client goes away before its reply is sent: stop the work and reject with `AbortError`.
 */
export interface NodeOperations {
  /** The node's identity, addresses and view of the network. */
  status(options?: AbortOptions): Promise<NodeStatus>
  /** Stores `bytes` as a blob and resolves to its CID. */
  putBlob(bytes: Uint8Array, options?: AbortOptions): Promise<string>
  /** Orders a job from the network (the request is already validated). */
  submitJob(request: JobRequest, options?: AbortOptions): Promise<{ jobId: string }>
  /** A job's progress; rejects with `NODE__JOB_NOT_FOUND` for a job this node did not order. */
  jobStatus(jobId: string, options?: AbortOptions): Promise<JobStatus>
  /** The jobs this node ordered, newest first, at most `limit` of them. */
  listJobs(limit: number, options?: AbortOptions): Promise<JobSummary[]>
  /**
   * Cancels a job this node ordered and resolves to its status: it stops awarding, its workers stop, its accepted
   * tasks are paid and the rest of its budget refunded. A job that has ended already is left as it is (its status
   * says how it ended); rejects with `NODE__JOB_NOT_FOUND` for a job this node did not order.
   */
  cancelJob(jobId: string, options?: AbortOptions): Promise<JobStatus>
  /**
   * Deletes a job that has ended and settled, with its inputs and outputs where nothing else holds them; resolves to
   * how many blobs went. Rejects with `NODE__JOB_NOT_ENDED` while it runs or settles.
   */
  deleteJob(jobId: string, options?: AbortOptions): Promise<{ jobId: string; blobsDeleted: number }>
  /** A completed job's files, PNG frames tone-mapped as `output` says. */
  jobOutput(jobId: string, output?: JobOutputOptions, options?: AbortOptions): Promise<JobOutput>
  /**
   * One file of a completed job's output, by the name {@link jobOutput} gives it, as bytes: how a file past
   * {@link MAX_OUTPUT_REPLY_BYTES} is fetched. Rejects with `NODE__OUTPUT_FILE_NOT_FOUND` for a name it has not.
   */
  jobOutputFile(
    jobId: string,
    name: string,
    output?: JobOutputOptions,
    options?: AbortOptions,
  ): Promise<OutputFileReply>
  /** This node's wallet and balances. */
  wallet(options?: AbortOptions): Promise<WalletInfo>
  /** Airdrops `amount` payment token units to this node (local ledgers only); resolves to the new balances. */
  airdrop(amount: bigint, options?: AbortOptions): Promise<WalletInfo>
  /** Prometheus text exposition. */
  prometheusText(options?: AbortOptions): Promise<string>
}
