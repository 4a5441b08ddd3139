import { readFile } from 'node:fs/promises'
import type { AbortOptions } from '@tessera/core'
import { z } from 'zod'
import { API_TIMEOUT_MS } from '../constants.js'
import { readApiToken, type DataDir } from '../data-dir.js'
import { NodeError, type NodeErrorCode } from '../errors.js'
import type { JobOutput, JobOutputOptions, JobRequest, JobStatus, NodeStatus, WalletInfo } from './contract.js'

const errorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) })
const apiAddress = z.object({ host: z.string(), port: z.number().int().min(1).max(65535) })

const jobStatusSchema = z.object({
  jobId: z.string(),
  state: z.enum(['bidding', 'running', 'completed', 'failed', 'cancelled', 'expired']),
  tasks: z.number(),
  completed: z.number(),
  verified: z.number(),
  reassigned: z.number(),
  etaMs: z.number().optional(),
  diagnostic: z.record(z.string(), z.number()).optional(),
  leases: z.record(z.string(), z.number()).optional(),
  reassignedFrom: z.record(z.string(), z.number()).optional(),
  workers: z.record(z.string(), z.object({ accepted: z.number(), rejected: z.number() })).optional(),
  slashed: z
    .array(
      z.object({ worker: z.string(), jobId: z.string(), payee: z.string(), signature: z.string(), amount: z.string() }),
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
})

/** The CLI's side of the control API. Replies are validated like any other input from outside the process. */
export class ApiClient {
  readonly #base: string
  readonly #token: string

  constructor(base: string, token: string) {
    this.#base = base
    this.#token = token
  }

  /** A client for the node running on `dir` (it writes its address there when it starts). */
  static async forDataDir(dir: DataDir): Promise<ApiClient> {
    let address
    try {
      address = apiAddress.parse(JSON.parse(await readFile(dir.apiAddress, 'utf8')))
    } catch {
      throw new NodeError(
        'NODE__API_UNREACHABLE',
        `no running node found for ${dir.root}; start one with \`tessera node start --data-dir ${dir.root}\``,
        { dir: dir.root },
      )
    }
    return new ApiClient(`http://${address.host}:${address.port}`, await readApiToken(dir))
  }

  async #call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: string | Uint8Array,
    options: AbortOptions = {},
  ): Promise<T> {
    const signal = options.signal ?? AbortSignal.timeout(API_TIMEOUT_MS)
    let res: Response
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}` },
        ...(body !== undefined ? { body: body as RequestInit['body'] } : {}),
        signal,
      })
    } catch (cause) {
      throw new NodeError(
        'NODE__API_UNREACHABLE',
        `the node at ${this.#base} did not answer; is it running?`,
        {
          base: this.#base,
        },
        { cause },
      )
    }
    let json: unknown
    try {
      json = await res.json()
    } catch {
      throw new NodeError('NODE__API_MALFORMED_REPLY', `the node answered ${path} with something that is not JSON`, {
        path,
      })
    }
    if (!res.ok) {
      const err = errorReply.safeParse(json)
      if (err.success) throw new NodeError(err.data.error.code as NodeErrorCode, err.data.error.message, { path })
      throw new NodeError('NODE__API_MALFORMED_REPLY', `the node answered ${path} with HTTP ${res.status}`, { path })
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      throw new NodeError('NODE__API_MALFORMED_REPLY', `the node's reply to ${path} is malformed`, { path })
    }
    return parsed.data
  }

  status(options?: AbortOptions): Promise<NodeStatus> {
    return this.#call('GET', '/v1/status', statusSchema, undefined, options)
  }

  async putBlob(bytes: Uint8Array, options?: AbortOptions): Promise<string> {
    const reply = await this.#call('PUT', '/v1/blobs', z.object({ cid: z.string() }), bytes, {
      signal: options?.signal ?? AbortSignal.timeout(10 * API_TIMEOUT_MS),
    })
    return reply.cid
  }

  submitJob(request: JobRequest, options?: AbortOptions): Promise<{ jobId: string }> {
    return this.#call('POST', '/v1/jobs', z.object({ jobId: z.string() }), JSON.stringify(request), options)
  }

  jobStatus(jobId: string, options?: AbortOptions): Promise<JobStatus> {
    return this.#call('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, jobStatusSchema, undefined, options)
  }

  /** A finished job's files; `exposure` and `toneCurve` say how its PNG frames are tone-mapped. */
  jobOutput(jobId: string, options: JobOutputOptions & AbortOptions = {}): Promise<JobOutput> {
    const query = new URLSearchParams()
    if (options.exposure !== undefined) query.set('exposure', String(options.exposure))
    if (options.toneCurve !== undefined) query.set('toneCurve', options.toneCurve)
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/output${query.size > 0 ? `?${query}` : ''}`
    return this.#call('GET', path, jobOutputSchema, undefined, options)
  }

  wallet(options?: AbortOptions): Promise<WalletInfo> {
    return this.#call('GET', '/v1/wallet', walletSchema, undefined, options)
  }

  airdrop(amount: bigint, options?: AbortOptions): Promise<WalletInfo> {
    return this.#call(
      'POST',
      '/v1/wallet/airdrop',
      walletSchema,
      JSON.stringify({ amount: amount.toString() }),
      options,
    )
  }
}
