import { type IncomingMessage, request as httpRequest } from 'node:http'
import { connect, type Socket } from 'node:net'
import {
  AbortError,
  type AbortOptions,
  MAX_FIRST_FRAME,
  MAX_FRAMES_PER_JOB,
  readBoundedFile,
  throwIfAborted,
  withTimeout,
} from '@tessera/core'
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
import { MAX_JOBS_LISTED, MAX_OUTPUT_FILE_BYTES, MAX_OUTPUT_REPLY_BYTES } from './contract.js'
import { API_INSTANCE, apiNonce, isApiProof } from './proof.js'

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

/** Where a client connects: the node's address as a socket takes it, its port, and its `Host` header. */
interface Endpoint {
  host: string
  port: number
  authority: string
}

/**
 * The endpoint of a base URL (`http://[::1]:7070`): an IPv6 address without its brackets, its zone decoded (WHATWG's
 * URL takes no zone, `[fe80::1%25eth0]`). `NODE__INVALID_CONFIG` for a base that is not `http://host[:port]`.
 */
function endpointOf(base: string): Endpoint {
  const parts = /^http:\/\/((?:\[([^\]/]+)\]|([^:/[\]]+))(?::(\d{1,5}))?)\/?$/.exec(base)
  if (parts === null) {
    throw new NodeError('NODE__INVALID_CONFIG', `the API base ${JSON.stringify(base)} is not http://host:port`, {
      base,
    })
  }
  const host = parts[2] !== undefined ? decodeURIComponent(parts[2]) : (parts[3] as string)
  return { host, port: Number(parts[4] ?? 80), authority: parts[1] as string }
}

/** A TCP connection to `endpoint`, once it is open; rejects when it cannot open, or when `signal` aborts first. */
function openConnection(endpoint: Endpoint, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port })
    const onAbort = (): void => void socket.destroy(signal.reason as Error)
    const settle = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort)
      socket.off('error', settle)
      if (error === undefined) resolve(socket)
      else reject(error)
    }
    socket.once('connect', () => settle())
    socket.once('error', settle)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** One request of a call, as {@link exchange} sends it. */
interface Exchange {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Whether the connection stays open after the reply, for the next request of the call. */
  keepOpen: boolean
  signal: AbortSignal
}

/** Sends one request on `socket`, an open connection; resolves to its reply once the reply's headers are in. */
function exchange(socket: Socket, authority: string, ask: Exchange): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      {
        method: ask.method,
        path: ask.path,
        headers: { host: authority, connection: ask.keepOpen ? 'keep-alive' : 'close', ...ask.headers },
        signal: ask.signal,
        // Never a connection of its own: the request goes on the one whose other end was proved.
        createConnection: () => socket,
      },
      resolve,
    )
    req.on('error', reject)
    req.end(ask.body)
  })
}

/** Whether a reply's status is 2xx. */
function isOk(res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0
  return status >= 200 && status < 300
}

/** A blob upload may carry up to `MAX_INPUT_BYTES`, so it gets this many times the API timeout. */
const BLOB_TIMEOUT_FACTOR = 10
/**
 * Calls that wait on the chain (a submit funds the job's vault; an airdrop mints) or build large replies (a job's
 * frames) get this many times the API timeout: a cluster over RPC confirms in seconds per transaction, and a submit
 * cut short by the client still orders and funds the job, which a retry would order again.
 */
const SLOW_CALL_TIMEOUT_FACTOR = 18

/** Most bytes read of a JSON reply: a list of 10,000 jobs, or a job's status, takes a few MiB. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024
/** Most bytes read of a job's output as JSON: its files in base64, and room for their names. */
const MAX_OUTPUT_JSON_REPLY_BYTES = Math.ceil(MAX_OUTPUT_REPLY_BYTES / 3) * 4 + MAX_REPLY_BYTES
/** Most bytes read of an error, or of an answer to a challenge. */
const MAX_SMALL_REPLY_BYTES = 64 * 1024

const errorReply = z.object({
  // The id a node logs a failure of its own under (HTTP 500 and up), for its operator to find the cause by.
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().max(64).optional() }),
})
const apiAddressSchema = z.object({
  host: z.string(),
  port: z.number().int().min(1).max(65535),
  pid: z.number().int().positive(),
  instance: z.string().regex(API_INSTANCE),
})
/**
 * What a running node writes to its data directory's address file: where its API listens, its process, and the id
 * its API drew as it started, which its answers to a challenge carry.
 */
export type ApiAddressRecord = z.infer<typeof apiAddressSchema>

const challengeReply = z.object({ instance: z.string().regex(API_INSTANCE), proof: z.string().regex(/^[0-9a-f]{64}$/) })

/** The latest time a JavaScript Date holds (ECMA-262's time value bound), in ms: a later one cannot be printed. */
const MAX_DATE_MS = 8_640_000_000_000_000

const JOB_STATES = ['bidding', 'running', 'completed', 'failed', 'cancelled', 'expired'] as const
const jobStatusSchema = z.object({
  jobId: z.string(),
  state: z.enum(JOB_STATES),
  tasks: z.number(),
  completed: z.number(),
  verified: z.number(),
  reassigned: z.number(),
  etaMs: z.number().optional(),
  frames: z
    .object({
      first: z.number().int().nonnegative().max(MAX_FIRST_FRAME),
      count: z.number().int().positive().max(MAX_FRAMES_PER_JOB),
    })
    .optional(),
  verification: z
    .object({
      budget: z.object({ detect: z.number(), withinTasks: z.number(), cheatRate: z.number(), maxOverhead: z.number() }),
      plans: z
        .array(
          z.object({
            chunks: z.number(),
            p: z.number(),
            challengeChunks: z.number(),
            overhead: z.number(),
            withinTasks: z.number(),
          }),
        )
        .max(2),
    })
    .optional(),
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
        orderedAt: z.number().int().nonnegative().max(MAX_DATE_MS),
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
  /**
   * The node an address file names, as {@link ApiClient.forDataDir} read it: a node answering with another instance
   * id is refused, and one whose process is gone is told as a stale file (`NODE__API_STALE`, naming `file`).
   */
  expect?: { instance: string; pid: number; file: string }
}

/** Whether process `pid` runs on this machine; one of another user's does (only "no such process" is gone). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/**
 * The CLI's side of the control API. Replies are validated like any other input from outside the process, and read
 * only up to a bound. The token is sent only over a connection whose other end proved it holds it: each call opens a
 * connection and sends a fresh nonce over it to the open `GET /v1/challenge`, which the node answers with HMAC-SHA256
 * keyed by the token (see `apiProof`); only then does the call go, with the token, on that same connection. A proof
 * per connection, not per client: a node that died between two calls may have left its port to another process.
 */
export class ApiClient {
  readonly #base: string
  readonly #endpoint: Endpoint
  readonly #token: string
  readonly #timeoutMs: number
  readonly #expect: ApiClientOptions['expect']

  constructor(base: string, token: string, options: ApiClientOptions = {}) {
    this.#base = base
    this.#endpoint = endpointOf(base)
    this.#token = token
    this.#timeoutMs = options.timeoutMs ?? API_TIMEOUT_MS
    this.#expect = options.expect
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
      address = apiAddressSchema.parse(JSON.parse(text))
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
    return new ApiClient(`http://${urlHost(address.host)}:${address.port}`, token, {
      ...clientOptions,
      expect: { instance: address.instance, pid: address.pid, file: dir.apiAddress },
    })
  }

  /**
   * One request, on a connection whose other end proved it holds the token, bounded by `timeoutMs` and the caller's
   * signal together (the proof by the client's timeout). The caller's abort rejects with `AbortError`; the timeout,
   * or a node that does not answer, with `NODE__API_UNREACHABLE`. A reply that is not OK rejects with the node's coded
   * error. `read` takes the body of an OK reply.
   */
  async #request<T>(
    method: string,
    path: string,
    read: (res: IncomingMessage) => Promise<T>,
    body?: string | Uint8Array,
    options: AbortOptions & { timeoutMs?: number } = {},
  ): Promise<T> {
    const socket = await this.#provenConnection(options.signal)
    try {
      const signal = withTimeout(options.signal, options.timeoutMs ?? this.#timeoutMs)
      // The caller's own abort is not the node's fault: it must read as an abort, not as a node that is down.
      const unreachable = (cause: unknown): Error =>
        options.signal?.aborted === true ? new AbortError() : this.#unreachable(path, cause)
      let res: IncomingMessage
      try {
        res = await exchange(socket, this.#endpoint.authority, {
          method,
          path,
          headers: {
            authorization: `Bearer ${this.#token}`,
            // A reply is read as sent, and counted as read: a compressed one would be bytes of another file.
            'accept-encoding': 'identity',
            // A string body is JSON here; bytes (a blob) go as they are.
            ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body } : {}),
          keepOpen: false,
          signal,
        })
      } catch (cause) {
        throw unreachable(cause)
      }
      const encoding = res.headers['content-encoding']
      if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
        throw new NodeError('NODE__API_MALFORMED_REPLY', `the node answered ${path} in ${encoding}, not as sent`, {
          path,
          encoding,
        })
      }
      let error: unknown
      try {
        if (isOk(res)) return await read(res)
        error = await readJson(res, path, MAX_SMALL_REPLY_BYTES)
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
      throw new NodeError('NODE__API_MALFORMED_REPLY', `the node answered ${path} with HTTP ${res.statusCode}`, {
        path,
      })
    } finally {
      socket.destroy()
    }
  }

  /** `NODE__API_UNREACHABLE` for a call to `path` nothing answered in time. */
  #unreachable(path: string, cause: unknown): NodeError {
    return new NodeError(
      'NODE__API_UNREACHABLE',
      `the node at ${this.#base} did not answer ${path}; is it running?`,
      { base: this.#base, path },
      { cause },
    )
  }

  /**
   * A new connection to the node, once the node has proved over it that it holds the token: a fresh nonce to
   * `GET /v1/challenge`, no token sent, bounded by the client's timeout. Rejects with `AbortError` on the caller's
   * abort, `NODE__API_STALE` when the address file's node is gone (nothing answers, or something else does),
   * `NODE__API_PROOF_MISMATCH` when what answers cannot prove it, and `NODE__API_UNREACHABLE` when nothing answers a
   * node still running.
   */
  async #provenConnection(callerSignal: AbortSignal | undefined): Promise<Socket> {
    throwIfAborted(callerSignal)
    const nonce = apiNonce()
    const path = `/v1/challenge?nonce=${nonce}`
    const signal = withTimeout(callerSignal, this.#timeoutMs)
    const gone = this.#expect !== undefined && !isRunning(this.#expect.pid)
    const failed = (cause: unknown): Error => {
      if (callerSignal?.aborted === true) return new AbortError()
      return gone ? this.#stale(cause) : this.#unreachable('/v1/challenge', cause)
    }
    let socket: Socket
    try {
      socket = await openConnection(this.#endpoint, signal)
    } catch (cause) {
      throw failed(cause)
    }
    try {
      let res: IncomingMessage
      try {
        res = await exchange(socket, this.#endpoint.authority, { method: 'GET', path, keepOpen: true, signal })
      } catch (cause) {
        throw failed(cause)
      }
      let reply: unknown
      try {
        reply = await readJson(res, '/v1/challenge', MAX_SMALL_REPLY_BYTES)
      } catch (cause) {
        if (signal.aborted) throw failed(cause)
      }
      const answer = challengeReply.safeParse(reply)
      const proven =
        isOk(res) &&
        answer.success &&
        (this.#expect === undefined || answer.data.instance === this.#expect.instance) &&
        isApiProof(answer.data.proof, this.#token, nonce, answer.data.instance)
      if (proven) return socket
      if (gone) throw this.#stale()
      const named = this.#expect !== undefined ? `the node ${this.#expect.file} names` : 'the node its token is for'
      throw new NodeError(
        'NODE__API_PROOF_MISMATCH',
        `what answers at ${this.#base} is not ${named}: it could not prove it holds the API token, which was not ` +
          "sent to it. Another process may hold the port of a node that stopped; or the token is not that node's",
        {
          base: this.#base,
          status: res.statusCode ?? 0,
          ...(this.#expect !== undefined ? { file: this.#expect.file } : {}),
        },
      )
    } catch (e) {
      socket.destroy()
      throw e
    }
  }

  /** `NODE__API_STALE`: the address file names a node whose process is gone. */
  #stale(cause?: unknown): NodeError {
    const { file, pid } = this.#expect as NonNullable<ApiClientOptions['expect']>
    return new NodeError(
      'NODE__API_STALE',
      `${file} names a node that is no longer running (pid ${pid}; killed before it could remove the file), and ` +
        `${cause === undefined ? 'another process answers' : 'nothing answers'} at ${this.#base}; the API token ` +
        'was not sent. Start the node again',
      { file, pid, base: this.#base },
      cause === undefined ? undefined : { cause },
    )
  }

  /** A request whose OK reply is JSON of `schema`. */
  #call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: string | Uint8Array,
    options: AbortOptions & { timeoutMs?: number; maxReplyBytes?: number } = {},
  ): Promise<T> {
    return this.#request(
      method,
      path,
      async (res) => {
        const parsed = schema.safeParse(await readJson(res, path, options.maxReplyBytes ?? MAX_REPLY_BYTES))
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
  async jobStatus(jobId: string, options?: AbortOptions): Promise<JobStatus> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}`
    return aboutJob(await this.#call('GET', path, jobStatusSchema, undefined, options), jobId, path)
  }

  /** The jobs the node ordered, newest first, at most `limit` (the node's default when absent). */
  async listJobs(limit?: number, options?: AbortOptions): Promise<JobSummary[]> {
    const path = limit === undefined ? '/v1/jobs' : `/v1/jobs?limit=${limit}`
    return (await this.#call('GET', path, jobListSchema, undefined, options)).jobs
  }

  /** Cancels a job the node ordered; resolves to its status (a job that has ended is left as it is). */
  async cancelJob(jobId: string, options?: AbortOptions): Promise<JobStatus> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/cancel`
    return aboutJob(await this.#call('POST', path, jobStatusSchema, undefined, options), jobId, path)
  }

  /** Deletes a job that has ended and settled, with its blobs where nothing else holds them. */
  async deleteJob(jobId: string, options?: AbortOptions): Promise<{ jobId: string; blobsDeleted: number }> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}`
    const reply = z.object({ jobId: z.string(), blobsDeleted: z.number().int().min(0) })
    return aboutJob(await this.#call('DELETE', path, reply, undefined, options), jobId, path)
  }

  /** A finished job's files; `exposure` and `toneCurve` say how its PNG frames are tone-mapped. */
  async jobOutput(jobId: string, options: JobOutputOptions & AbortOptions = {}): Promise<JobOutput> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/output${outputQuery(options)}`
    const reply = await this.#call('GET', path, jobOutputSchema, undefined, {
      ...options,
      timeoutMs: SLOW_CALL_TIMEOUT_FACTOR * this.#timeoutMs,
      maxReplyBytes: MAX_OUTPUT_JSON_REPLY_BYTES,
    })
    return aboutJob(reply, jobId, path)
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
        const declared = Number(res.headers['content-length'] ?? Number.NaN)
        if (!(Number.isSafeInteger(declared) && declared >= 0 && declared <= MAX_OUTPUT_FILE_BYTES)) {
          throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} has no length in bounds`, {
            path,
            declared,
          })
        }
        const bytes = await readReplyBytes(res, path, declared)
        if (bytes.byteLength !== declared) {
          throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} was cut short`, { path })
        }
        return { name, contentType: res.headers['content-type'] ?? 'application/octet-stream', bytes }
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

/** `reply`, a reply to `path`, when it is about job `jobId`; `NODE__API_MALFORMED_REPLY` when it tells of another. */
function aboutJob<T extends { jobId: string }>(reply: T, jobId: string, path: string): T {
  if (reply.jobId === jobId) return reply
  throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} is about another job`, {
    path,
    jobId,
    replied: reply.jobId,
  })
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

/**
 * A reply's body, at most `max` bytes: one that declares more is refused unread, one that sends more once it has
 * (`NODE__API_MALFORMED_REPLY`), so a reply takes no more of the client's memory than its call may need.
 */
async function readReplyBytes(res: IncomingMessage, path: string, max: number): Promise<Uint8Array> {
  const tooLarge = (): NodeError =>
    new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} is larger than ${max} bytes`, {
      path,
      max,
    })
  if (Number(res.headers['content-length'] ?? 0) > max) {
    res.destroy()
    throw tooLarge()
  }
  const chunks: Uint8Array[] = []
  let size = 0
  // Leaving the loop early cancels the rest of the body.
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > max) throw tooLarge()
    chunks.push(chunk)
  }
  // A plain Uint8Array, not a Buffer: its caller's bytes, not a view of Node's shared pool.
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/** A reply's body as JSON, of at most `max` bytes; `NODE__API_MALFORMED_REPLY` when it is not. */
async function readJson(res: IncomingMessage, path: string, max: number): Promise<unknown> {
  const bytes = await readReplyBytes(res, path, max)
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch (cause) {
    throw new NodeError(
      'NODE__API_MALFORMED_REPLY',
      `the node answered ${path} with something that is not JSON`,
      { path },
      { cause },
    )
  }
}
