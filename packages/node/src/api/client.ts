import { AbortError, type AbortOptions, readBoundedFile, throwIfAborted, withTimeout } from '@tessera/core'
import { z } from 'zod'
import { API_TIMEOUT_MS, MAX_SMALL_FILE_BYTES } from '../constants.js'
import { readApiToken, type DataDir } from '../data-dir.js'
import { isNodeErrorCode, isNotFound, NodeError } from '../errors.js'
import type {
  JobOutput,
  JobOutputOptions,
  JobRequest,
  JobStatus,
  JobSummary,
  NodeStatus,
  OutputFileReply,
  WalletInfo,
} from './contract.js'
import { MAX_JOBS_LISTED, MAX_OUTPUT_FILE_BYTES } from './contract.js'

/**
 * The host part of a URL reaching a node bound to `host`: an IPv6 address in brackets, and a node bound to every
 * interface reached on loopback.
 */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  // A zone (fe80::1%eth0) is written %25 inside the brackets (RFC 6874).
  return host.includes(':') ? `[${host.replace('%', '%25')}]` : host
}

/** A blob upload may carry up to `MAX_INPUT_BYTES`, so it gets this many times the API timeout. */
const BLOB_TIMEOUT_FACTOR = 10
/**
 * Calls that wait on the chain (a submit funds the job's vault; an airdrop mints) or build large replies (a job's
 * frames) get this many times the API timeout: a cluster over RPC confirms in seconds per transaction, and a submit
 * cut short by the client still orders and funds the job, which a retry would order again.
 */
const SLOW_CALL_TIMEOUT_FACTOR = 18

const errorReply = z.object({
  // The id a node logs a failure of its own under (HTTP 500 and up), for its operator to find the cause by.
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().max(64).optional() }),
})
const apiAddress = z.object({ host: z.string(), port: z.number().int().min(1).max(65535) })

const JOB_STATES = ['bidding', 'running', 'completed', 'failed', 'cancelled', 'expired'] as const
const jobStatusSchema = z.object({
  jobId: z.string(),
  state: z.enum(JOB_STATES),
  tasks: z.number(),
  completed: z.number(),
  verified: z.number(),
  reassigned: z.number(),
  etaMs: z.number().optional(),
  frames: z.object({ first: z.number().int().nonnegative(), count: z.number().int().positive() }).optional(),
  diagnostic: z.record(z.string(), z.number()).optional(),
  leases: z.record(z.string(), z.number()).optional(),
  reassignedFrom: z.record(z.string(), z.number()).optional(),
  workers: z.record(z.string(), z.object({ accepted: z.number(), rejected: z.number() })).optional(),
  slashed: z
    .array(
      z.object({
        worker: z.string(),
        jobId: z.string(),
        payee: z.string(),
        signature: z.string(),
        amount: z.string().optional(),
      }),
    )
    .optional(),
  settlement: z
    .object({
      epoch: z.number(),
      expected: z.number(),
      receipts: z.number(),
      anchor: z.string().optional(),
      payouts: z.array(z.string()),
      paid: z.record(z.string(), z.string()),
      fee: z.string(),
      refunded: z.string().optional(),
    })
    .optional(),
})
const jobListSchema = z.object({
  jobs: z
    .array(
      z.object({
        jobId: z.string(),
        state: z.enum(JOB_STATES),
        tasks: z.number(),
        verified: z.number(),
        orderedAt: z.number(),
      }),
    )
    .max(MAX_JOBS_LISTED),
})
const jobOutputSchema = z.object({
  jobId: z.string(),
  files: z.array(z.object({ name: z.string().max(256), contentType: z.string(), base64: z.string() })).max(100_000),
})
const walletSchema = z.object({ address: z.string(), lamports: z.string(), tokens: z.string(), mint: z.string() })
const statusSchema = z.object({
  peerId: z.string(),
  addrs: z.array(z.string()),
  peers: z.number(),
  capacityRecords: z.number(),
  worker: z.boolean(),
  payee: z.string(),
  work: z
    .object({
      running: z.number().int().nonnegative(),
      queued: z.number().int().nonnegative(),
      slots: z.number().int().nonnegative(),
      receipted: z.number().int().nonnegative(),
      earned: z.string().regex(/^\d+$/),
    })
    .optional(),
})

/** How an {@link ApiClient} talks to its node. */
export interface ApiClientOptions {
  /**
   * How long one call may take before it fails with `NODE__API_UNREACHABLE`, on top of any caller's signal; a blob
   * upload gets ten times this.
   * @default API_TIMEOUT_MS
   */
  timeoutMs?: number
}

/** The CLI's side of the control API. Replies are validated like any other input from outside the process. */
export class ApiClient {
  readonly #base: string
  readonly #token: string
  readonly #timeoutMs: number

  constructor(base: string, token: string, options: ApiClientOptions = {}) {
    this.#base = base
    this.#token = token
    this.#timeoutMs = options.timeoutMs ?? API_TIMEOUT_MS
  }

  /**
   * A client for the node running on `dir` (it writes its address there when it starts); rejects with `AbortError`
   * when `options.signal` aborts. The signal is this call's alone: the client's calls each take their own.
   */
  static async forDataDir(dir: DataDir, options: ApiClientOptions & AbortOptions = {}): Promise<ApiClient> {
    const { signal, ...clientOptions } = options
    throwIfAborted(signal)
    let text: string
    try {
      const bytes = await readBoundedFile(
        dir.apiAddress,
        MAX_SMALL_FILE_BYTES,
        (why) =>
          new NodeError('NODE__FILE_UNREADABLE', `cannot read ${dir.apiAddress}: ${why}`, { path: dir.apiAddress }),
        { signal },
      )
      text = new TextDecoder().decode(bytes)
    } catch (cause) {
      if (cause instanceof NodeError || cause instanceof AbortError) throw cause
      if (!isNotFound(cause)) {
        throw new NodeError(
          'NODE__FILE_UNREADABLE',
          `cannot read ${dir.apiAddress}: ${(cause as Error).message}; check its permissions`,
          { path: dir.apiAddress },
          { cause },
        )
      }
      throw new NodeError(
        'NODE__API_UNREACHABLE',
        `no running node found for ${dir.root}; start one with \`tessera node start --data-dir ${dir.root}\``,
        { dir: dir.root },
        { cause },
      )
    }
    throwIfAborted(signal)
    let address
    try {
      address = apiAddress.parse(JSON.parse(text))
    } catch (cause) {
      // A node writes the file once it listens, so one still starting (or one that crashed mid-write) leaves it torn.
      throw new NodeError(
        'NODE__API_UNREACHABLE',
        `${dir.apiAddress} does not hold a node's address; start the node again if it is not starting now`,
        { dir: dir.root },
        { cause },
      )
    }
    const token = await readApiToken(dir, { signal })
    return new ApiClient(`http://${urlHost(address.host)}:${address.port}`, token, clientOptions)
  }

  /**
   * One request, bounded by `timeoutMs` and the caller's signal together. The caller's abort rejects with
   * `AbortError`; the timeout, or a node that does not answer, with `NODE__API_UNREACHABLE`. A reply that is not
   * OK rejects with the node's coded error. `read` takes the body of an OK reply.
   */
  async #request<T>(
    method: string,
    path: string,
    read: (res: Response) => Promise<T>,
    body?: string | Uint8Array,
    options: AbortOptions & { timeoutMs?: number } = {},
  ): Promise<T> {
    const signal = withTimeout(options.signal, options.timeoutMs ?? this.#timeoutMs)
    // The caller's own abort is not the node's fault: it must read as an abort, not as a node that is down.
    const unreachable = (cause: unknown): Error =>
      options.signal?.aborted === true
        ? new AbortError()
        : new NodeError(
            'NODE__API_UNREACHABLE',
            `the node at ${this.#base} did not answer ${path}; is it running?`,
            { base: this.#base, path },
            { cause },
          )
    let res: Response
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        // A string body is JSON here; bytes (a blob) go as they are.
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: body as RequestInit['body'] } : {}),
        signal,
      })
    } catch (cause) {
      throw unreachable(cause)
    }
    let error: unknown
    try {
      if (res.ok) return await read(res)
      error = await readJson(res, path)
    } catch (e) {
      // A body cut off by the timeout or the caller's abort is no fault of the reply's.
      if (signal.aborted) throw unreachable(e)
      throw e
    }
    const err = errorReply.safeParse(error)
    if (err.success) {
      const { code, message, requestId } = err.data.error
      const context = { path, ...(requestId !== undefined ? { requestId } : {}) }
      if (isNodeErrorCode(code)) throw new NodeError(code, message, context)
      throw new NodeError('NODE__API_REMOTE_ERROR', message, { ...context, remoteCode: code })
    }
    throw new NodeError('NODE__API_MALFORMED_REPLY', `the node answered ${path} with HTTP ${res.status}`, { path })
  }

  /** A request whose OK reply is JSON of `schema`. */
  #call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: string | Uint8Array,
    options: AbortOptions & { timeoutMs?: number } = {},
  ): Promise<T> {
    return this.#request(
      method,
      path,
      async (res) => {
        const parsed = schema.safeParse(await readJson(res, path))
        if (!parsed.success) {
          throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} is malformed`, { path })
        }
        return parsed.data
      },
      body,
      options,
    )
  }

  /** The node's identity, addresses and view of the network. */
  status(options?: AbortOptions): Promise<NodeStatus> {
    return this.#call('GET', '/v1/status', statusSchema, undefined, options)
  }

  /** Stores `bytes` on the node as a blob; resolves to its CID. */
  async putBlob(bytes: Uint8Array, options: AbortOptions = {}): Promise<string> {
    const reply = await this.#call('PUT', '/v1/blobs', z.object({ cid: z.string() }), bytes, {
      ...options,
      timeoutMs: BLOB_TIMEOUT_FACTOR * this.#timeoutMs,
    })
    return reply.cid
  }

  /** Orders a job through the node; resolves to its id. */
  async submitJob(request: JobRequest, options: AbortOptions = {}): Promise<{ jobId: string }> {
    try {
      return await this.#call('POST', '/v1/jobs', z.object({ jobId: z.string() }), JSON.stringify(request), {
        ...options,
        timeoutMs: SLOW_CALL_TIMEOUT_FACTOR * this.#timeoutMs,
      })
    } catch (e) {
      // The node goes on funding a job whose client stopped waiting: a blind retry would order it twice.
      if (!(e instanceof NodeError) || e.code !== 'NODE__API_UNREACHABLE') throw e
      throw new NodeError(
        e.code,
        `${e.message} It may have ordered the job all the same: see \`tessera job list\` before submitting again.`,
        e.context,
        { cause: e },
      )
    }
  }

  /** A job's progress. */
  jobStatus(jobId: string, options?: AbortOptions): Promise<JobStatus> {
    return this.#call('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, jobStatusSchema, undefined, options)
  }

  /** The jobs the node ordered, newest first, at most `limit` (the node's default when absent). */
  async listJobs(limit?: number, options?: AbortOptions): Promise<JobSummary[]> {
    const path = limit === undefined ? '/v1/jobs' : `/v1/jobs?limit=${limit}`
    return (await this.#call('GET', path, jobListSchema, undefined, options)).jobs
  }

  /** Cancels a job the node ordered; resolves to its status (a job that has ended is left as it is). */
  cancelJob(jobId: string, options?: AbortOptions): Promise<JobStatus> {
    return this.#call('POST', `/v1/jobs/${encodeURIComponent(jobId)}/cancel`, jobStatusSchema, undefined, options)
  }

  /** Deletes a job that has ended and settled, with its blobs where nothing else holds them. */
  deleteJob(jobId: string, options?: AbortOptions): Promise<{ jobId: string; blobsDeleted: number }> {
    const reply = z.object({ jobId: z.string(), blobsDeleted: z.number().int().min(0) })
    return this.#call('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`, reply, undefined, options)
  }

  /** A finished job's files; `exposure` and `toneCurve` say how its PNG frames are tone-mapped. */
  jobOutput(jobId: string, options: JobOutputOptions & AbortOptions = {}): Promise<JobOutput> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/output${outputQuery(options)}`
    return this.#call('GET', path, jobOutputSchema, undefined, {
      ...options,
      timeoutMs: SLOW_CALL_TIMEOUT_FACTOR * this.#timeoutMs,
    })
  }

  /**
   * One file of a finished job's output, by the name {@link jobOutput} gives it, as bytes: how a file too large for
   * one JSON reply (an 8K frame's OpenEXR) is fetched. `NODE__OUTPUT_FILE_NOT_FOUND` for a name the output has not.
   */
  jobOutputFile(jobId: string, name: string, options: JobOutputOptions & AbortOptions = {}): Promise<OutputFileReply> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/output/${encodeURIComponent(name)}${outputQuery(options)}`
    return this.#request(
      'GET',
      path,
      async (res) => {
        const declared = Number(res.headers.get('content-length') ?? Number.NaN)
        if (!(Number.isSafeInteger(declared) && declared >= 0 && declared <= MAX_OUTPUT_FILE_BYTES)) {
          throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} has no length in bounds`, {
            path,
            declared,
          })
        }
        const bytes = new Uint8Array(await res.arrayBuffer())
        if (bytes.byteLength !== declared) {
          throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} was cut short`, { path })
        }
        return { name, contentType: res.headers.get('content-type') ?? 'application/octet-stream', bytes }
      },
      undefined,
      { ...options, timeoutMs: SLOW_CALL_TIMEOUT_FACTOR * this.#timeoutMs },
    )
  }

  /** The node's wallet and balances. */
  wallet(options?: AbortOptions): Promise<WalletInfo> {
    return this.#call('GET', '/v1/wallet', walletSchema, undefined, options)
  }

  /** Airdrops `amount` payment token units to the node (local ledgers only); resolves to the new balances. */
  airdrop(amount: bigint, options: AbortOptions = {}): Promise<WalletInfo> {
    return this.#call('POST', '/v1/wallet/airdrop', walletSchema, JSON.stringify({ amount: amount.toString() }), {
      ...options,
      timeoutMs: SLOW_CALL_TIMEOUT_FACTOR * this.#timeoutMs,
    })
  }
}

/** The query string of an output request (`?exposure=2&frame=7`), or nothing. */
function outputQuery(options: JobOutputOptions): string {
  const query = new URLSearchParams()
  if (options.exposure !== undefined) query.set('exposure', String(options.exposure))
  if (options.toneCurve !== undefined) query.set('toneCurve', options.toneCurve)
  if (options.partial === true) query.set('partial', 'true')
  if (options.frame !== undefined) query.set('frame', String(options.frame))
  return query.size > 0 ? `?${query}` : ''
}

/** A reply's body as JSON; `NODE__API_MALFORMED_REPLY` when it is not. */
async function readJson(res: Response, path: string): Promise<unknown> {
  try {
    return await res.json()
  } catch (cause) {
    throw new NodeError(
      'NODE__API_MALFORMED_REPLY',
      `the node answered ${path} with something that is not JSON`,
      { path },
      { cause },
    )
  }
}
