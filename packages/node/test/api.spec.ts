import { mkdir, writeFile } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { gzipSync } from 'node:zlib'
import {
  AbortError,
  type AbortOptions,
  inferenceSplitSchema,
  MAX_FLOPS_PER_TASK,
  MAX_INFERENCE_ITEMS,
  TesseraError,
} from '@tessera/core'
import { LedgerError } from '@tessera/ledger'
import { MAX_JOB_TIMEOUT_MS } from '@tessera/scheduler'
import { describe, expect, it, vi } from 'vitest'
import { DEFAULT_JOBS_LISTED, type JobRequest, MAX_JOBS_LISTED, type NodeOperations } from '../src/api/contract.js'
import { ApiClient } from '../src/api/client.js'
import { apiProof } from '../src/api/proof.js'
import { ApiServer } from '../src/api/server.js'
import {
  API_HEADERS_TIMEOUT_MS,
  API_KEEP_ALIVE_TIMEOUT_MS,
  MAX_API_BODY_BYTES,
  MAX_API_CONNECTIONS,
  MAX_INPUT_BYTES,
} from '../src/constants.js'
import { reportError } from '../src/cli/errors.js'
import { initDataDir, resolveDataDir } from '../src/data-dir.js'
import { isNodeErrorCode, NodeError } from '../src/errors.js'
import { tempDir } from './helpers.js'

// Every HTTP server the API creates, so a test can reach the one inside an ApiServer.
const httpServers = vi.hoisted((): Server[] => [])
vi.mock('node:http', async (importOriginal) => {
  const http = await importOriginal<typeof import('node:http')>()
  return {
    ...http,
    createServer: (...args: Parameters<typeof http.createServer>) => {
      const server = http.createServer(...args)
      httpServers.push(server)
      return server
    },
  }
})

/** An operation that never answers: it rejects with AbortError once its signal aborts, as a node's should. */
function hang<T>(options: AbortOptions | undefined): Promise<T> {
  return new Promise<T>((_, reject) => {
    options?.signal?.addEventListener('abort', () => reject(new AbortError()), { once: true })
  })
}

function fakeOps(): NodeOperations & {
  submitted: unknown[]
  outputOptions: unknown[]
  signals: AbortSignal[]
  cancelled: string[]
  limits: number[]
} {
  const submitted: unknown[] = []
  const cancelled: string[] = []
  const limits: number[] = []
  const outputOptions: unknown[] = []
  const signals: AbortSignal[] = []
  return {
    submitted,
    outputOptions,
    signals,
    cancelled,
    limits,
    status: async (options) => {
      if (options?.signal !== undefined) signals.push(options.signal)
      return { peerId: 'p', addrs: [], peers: 0, capacityRecords: 0, worker: true, payee: 'x' }
    },
    putBlob: async (bytes) => `cid-${bytes.byteLength}`,
    submitJob: async (r) => {
      submitted.push(r)
      return { jobId: 'job-1' }
    },
    jobStatus: async (id) => {
      if (id !== 'job-1') throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${id}`, {})
      return { jobId: id, state: 'running', tasks: 4, completed: 1, verified: 1, reassigned: 0 }
    },
    listJobs: async (limit) => {
      limits.push(limit)
      return [{ jobId: 'job-1', state: 'running', tasks: 4, verified: 1, orderedAt: 1_700_000_000_000 }]
    },
    deleteJob: async (id) => {
      if (id === 'job-1') throw new NodeError('NODE__JOB_NOT_ENDED', `job ${id} is still running`, {})
      if (id !== 'job-0') throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${id}`, {})
      return { jobId: id, blobsDeleted: 2 }
    },
    cancelJob: async (id) => {
      if (id !== 'job-1') throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${id}`, {})
      cancelled.push(id)
      return { jobId: id, state: 'cancelled', tasks: 4, completed: 1, verified: 1, reassigned: 0 }
    },
    jobOutput: async (id, output) => {
      outputOptions.push(output)
      return { jobId: id, files: [] }
    },
    jobOutputFile: async (id, name, output) => {
      outputOptions.push(output)
      if (id !== 'job-1' || name !== 'frame-0007.exr') {
        throw new NodeError('NODE__OUTPUT_FILE_NOT_FOUND', `no file ${name}`, {})
      }
      // Past what one JSON reply may carry in base64 would be too slow here; bytes of every value stand in.
      return { name, contentType: 'image/x-exr', bytes: Uint8Array.from({ length: 70_000 }, (_, i) => i % 251) }
    },
    wallet: async () => ({ address: 'a', lamports: '1', tokens: '2', mint: 'm' }),
    airdrop: async () => ({ address: 'a', lamports: '1', tokens: '3', mint: 'm' }),
    prometheusText: async () => 'tessera_jobs_submitted_total 0\n',
  }
}

/** Serves `ops` on a loopback port for the length of `body`, with a client holding the right token. */
const TOKEN = 'a'.repeat(48)

async function withServer(
  ops: NodeOperations,
  body: (client: ApiClient, port: number, server: ApiServer) => Promise<void>,
  logger: { error: (...args: unknown[]) => void } = { error: () => {} },
): Promise<void> {
  const server = new ApiServer(ops, { host: '127.0.0.1', port: 0, token: TOKEN, logger })
  const { port } = await server.listen()
  try {
    await body(new ApiClient(`http://127.0.0.1:${port}`, TOKEN), port, server)
  } finally {
    await server.close()
  }
}

/**
 * Sends `text` on a raw connection to `port` and resolves to all the node answered, once it closes the connection
 * or `waitMs` has passed (what came by then). The connection is left open for writing: a body the request declares
 * is never sent unless `text` holds it.
 */
function rawExchange(port: number, text: string, waitMs = 3_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let reply = ''
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(reply)
    }, waitMs)
    socket.on('data', (d) => (reply += d.toString()))
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(reply)
    })
    socket.on('error', reject)
  })
}

/** What the foreign process of the review answered every request with: a status and a wallet not the node's. */
const FOREIGN_REPLY = {
  peerId: 'FOREIGN',
  addrs: [],
  peers: 0,
  capacityRecords: 0,
  worker: false,
  payee: 'attacker',
  address: 'AttackerWa11et1111111111111111111111111111111',
  lamports: '1',
  tokens: '0',
  mint: 'm',
}

/** A request's path without its query. */
function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?', 1)[0] as string
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number
}

describe('control API', () => {
  it('should route authorised calls and validate requests and replies', async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      expect(await client.putBlob(new Uint8Array(10))).toBe('cid-10')
      const job = {
        kind: 'render' as const,
        inputs: ['c'],
        render: { frames: 1, width: 8, height: 8, tileWidth: 4, tileHeight: 4, samples: 1 },
      }
      expect(await client.submitJob(job)).toEqual({ jobId: 'job-1' })
      expect(ops.submitted).toHaveLength(1)
      expect((await client.jobStatus('job-1')).completed).toBe(1)
      await expect(client.jobStatus('nope')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
      await expect(client.submitJob({ kind: 'render', inputs: ['c'] })).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REQUEST',
      })
      // Environment lighting needs its panorama as the second input, and bounded values.
      const lighting = { intensity: 2, rotation: -0.5 }
      const lit = { ...job, inputs: ['c', 'sky'], render: { ...job.render, environment: lighting } }
      expect(await client.submitJob(lit)).toEqual({ jobId: 'job-1' })
      expect((ops.submitted[1] as JobRequest).render?.environment).toEqual(lighting)
      const hidden = { ...lit, render: { ...lit.render, environment: { ...lighting, visible: false } } }
      expect(await client.submitJob(hidden)).toEqual({ jobId: 'job-1' })
      expect((ops.submitted[2] as JobRequest).render?.environment?.visible).toBe(false)
      for (const bad of [
        { ...lit, inputs: ['c'] },
        // Read by every peer as a panorama lit with defaults, though no lighting was asked for.
        { ...job, inputs: ['c', 'sky'] },
        // Carried, never read.
        { ...lit, inputs: ['c', 'sky', 'extra'] },
        { ...lit, render: { ...lit.render, environment: { intensity: -1, rotation: 0 } } },
        { ...lit, render: { ...lit.render, environment: { intensity: 1 } } },
        // An animation is picked to be played at a frame rate: without one it would only change the job's id.
        { ...job, render: { ...job.render, animation: 'walk' } },
        { ...job, render: { ...job.render, fps: 0 } },
        // One kind of work: a render carrying an inference split too is refused, not half read.
        { ...job, inference: { items: 4, itemsPerTask: 2 } },
        // Not digits: refused as such, never handed to BigInt (whose SyntaxError was a 500).
        { ...job, maxPrice: 'abc' },
        { ...job, maxPrice: '-5' },
      ]) {
        await expect(client.submitJob(bad as typeof lit)).rejects.toMatchObject({ code: 'NODE__API_MALFORMED_REQUEST' })
      }
      // Listing, at the node's default length or the one asked for (within bounds); cancelling.
      expect(await client.listJobs()).toEqual([expect.objectContaining({ jobId: 'job-1', state: 'running' })])
      await client.listJobs(7)
      expect(ops.limits).toEqual([DEFAULT_JOBS_LISTED, 7])
      for (const limit of [0, MAX_JOBS_LISTED + 1, 1.5]) {
        await expect(client.listJobs(limit)).rejects.toMatchObject({ code: 'NODE__API_MALFORMED_REQUEST' })
      }
      // Numbers as no client writes them, which `Number()` alone would take.
      for (const query of ['limit=0x10', 'limit=1e3', 'limit=%2010%20']) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs?${query}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
        expect(res.status, query).toBe(400)
      }
      expect(ops.limits).toEqual([DEFAULT_JOBS_LISTED, 7])
      expect(await client.cancelJob('job-1')).toMatchObject({ state: 'cancelled' })
      expect(ops.cancelled).toEqual(['job-1'])
      await expect(client.cancelJob('nope')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
      const cancelByGet = await fetch(`http://127.0.0.1:${port}/v1/jobs/job-1/cancel`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      expect(cancelByGet.status).toBe(405)
      expect(ops.cancelled).toEqual(['job-1'])
      expect(await client.deleteJob('job-0')).toEqual({ jobId: 'job-0', blobsDeleted: 2 })
      await expect(client.deleteJob('job-1')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_ENDED' })
      const running = await fetch(`http://127.0.0.1:${port}/v1/jobs/job-1`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      expect(running.status).toBe(409)
      // A client whose token is not the node's cannot tell the node from another process, so sends it nothing.
      const wrong = new ApiClient(`http://127.0.0.1:${port}`, 'guess')
      await expect(wrong.status()).rejects.toMatchObject({ code: 'NODE__API_PROOF_MISMATCH' })
      const unauthorised = await fetch(`http://127.0.0.1:${port}/v1/status`, {
        headers: { authorization: 'Bearer guess' },
      })
      expect(unauthorised.status).toBe(401)
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
      expect(await metrics.text()).toMatch(/tessera_jobs_submitted_total/)
    })
  })

  it('should answer one output file as its bytes, and refuse names that are not one', async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const file = await client.jobOutputFile('job-1', 'frame-0007.exr', { frame: 7, exposure: 0.5 })
      expect(file.contentType).toBe('image/x-exr')
      expect(file.bytes).toEqual(Uint8Array.from({ length: 70_000 }, (_, i) => i % 251))
      expect(ops.outputOptions).toEqual([{ frame: 7, exposure: 0.5 }])
      await expect(client.jobOutputFile('job-1', 'frame-0008.exr')).rejects.toMatchObject({
        code: 'NODE__OUTPUT_FILE_NOT_FOUND',
      })
      const raw = (path: string) =>
        fetch(`http://127.0.0.1:${port}/v1/jobs/job-1/output/${path}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      expect((await raw('frame-0008.exr')).status).toBe(404)
      for (const bad of ['.hidden', '..%2Fconfig.json', 'a%2Fb', 'frame%00.png', `${'a'.repeat(129)}`, '%E0%A4%A']) {
        const res = await raw(bad)
        expect(res.status, bad).toBe(400)
        expect(((await res.json()) as { error: { code: string } }).error.code, bad).toBe('NODE__API_MALFORMED_REQUEST')
      }
      expect((await raw('frame-0007.exr?frame=x')).status).toBe(400)
    })
  })

  it("should pass a job output's tone mapping through the query and refuse bad values", async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      await client.jobOutput('job-1')
      await client.jobOutput('job-1', { exposure: 0.25, toneCurve: 'aces', frame: 7 })
      // Numbers as the CLI's parser takes them and String() writes them: exponents, long fractions.
      await client.jobOutput('job-1', { exposure: 1e-7 })
      await client.jobOutput('job-1', { exposure: 0.1234567890123 })
      expect(ops.outputOptions).toEqual([
        {},
        { exposure: 0.25, toneCurve: 'aces', frame: 7 },
        { exposure: 1e-7 },
        { exposure: 0.1234567890123 },
      ])
      for (const bad of [
        { exposure: 0 },
        { exposure: -1 },
        { exposure: Infinity },
        { exposure: 1e7 },
        { toneCurve: 'sepia' },
      ]) {
        await expect(client.jobOutput('job-1', bad as never), JSON.stringify(bad)).rejects.toMatchObject({
          code: 'NODE__API_MALFORMED_REQUEST',
        })
      }
      const raw = (query: string) =>
        fetch(`http://127.0.0.1:${port}/v1/jobs/job-1/output?${query}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      for (const query of [
        'exposure=abc',
        'exposure=0x2',
        'exposure=1&exposure=2',
        'gamma=2.2',
        'frame=-1',
        'frame=1.5',
        'frame=x',
      ]) {
        const res = await raw(query)
        expect(res.status, query).toBe(400)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_MALFORMED_REQUEST')
      }
      expect(ops.outputOptions).toHaveLength(4)
    })
  })

  it('should refuse a malformed job id and a deadline no peer could check, with coded 400s', async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/jobs/%E0%A4%A`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_MALFORMED_REQUEST')
      const job = {
        kind: 'render' as const,
        inputs: ['c'],
        render: { frames: 1, width: 8, height: 8, tileWidth: 4, tileHeight: 4, samples: 1 },
      }
      await expect(client.submitJob({ ...job, deadlineMs: Number.MAX_SAFE_INTEGER })).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REQUEST',
      })
      // Of no budget: the node recorded it and held its inputs before the ledger refused to fund it.
      await expect(client.submitJob({ ...job, maxPrice: '0' })).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REQUEST',
        message: expect.stringMatching(/^maxPrice: a job pays at least 1 token unit per benchmark-hour/),
      })
      expect(ops.submitted).toEqual([])
      expect(await client.submitJob({ ...job, deadlineMs: MAX_JOB_TIMEOUT_MS, maxPrice: '1' })).toEqual({
        jobId: 'job-1',
      })
    })
  })

  it('should refuse, with a coded 400, inputs a job would not read as the caller meant', async () => {
    const ops = fakeOps()
    await withServer(ops, async (_client, port) => {
      const render = { frames: 1, width: 8, height: 8, tileWidth: 4, tileHeight: 4, samples: 1 }
      const environment = { intensity: 1, rotation: 0 }
      const inference = { items: 4, itemsPerTask: 2 }
      const cases: [object, RegExp][] = [
        // Accepted before: every peer lit the scene with the second input as a panorama, at default lighting.
        [{ kind: 'render', inputs: ['scene', 'sky'], render }, /^inputs: a render's inputs are its scene and/],
        // Accepted before: the third input was carried in the order and never read.
        [
          { kind: 'render', inputs: ['scene', 'sky', 'x'], render: { ...render, environment } },
          /^inputs: .*one input, or two with render\.environment$/,
        ],
        [{ kind: 'inference', inputs: ['model', 'tensors', 'x'], inference }, /^inputs: .*at most two$/],
      ]
      for (const [body, message] of cases) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
        expect(res.status, JSON.stringify(body)).toBe(400)
        expect(await res.json()).toMatchObject({ error: { code: 'NODE__API_MALFORMED_REQUEST', message } })
      }
      expect(ops.submitted).toEqual([])
    })
  })

  it('should refuse an inference of more items than an order may carry, with a coded 400', async () => {
    // The bound is the wire's: an order the node could not put on it is refused at its door.
    const split = { kind: 'inference', items: MAX_INFERENCE_ITEMS, itemsPerTask: MAX_INFERENCE_ITEMS }
    expect(inferenceSplitSchema.safeParse(split).success).toBe(true)
    expect(inferenceSplitSchema.safeParse({ ...split, items: MAX_INFERENCE_ITEMS + 1 }).success).toBe(false)
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const job = { kind: 'inference' as const, inputs: ['model', 'tensors'] }
      const inference = { items: MAX_INFERENCE_ITEMS, itemsPerTask: MAX_INFERENCE_ITEMS }
      expect(await client.submitJob({ ...job, inference })).toEqual({ jobId: 'job-1' })
      for (const bad of [
        { ...inference, items: MAX_INFERENCE_ITEMS + 1 },
        { ...inference, itemsPerTask: MAX_INFERENCE_ITEMS + 1 },
      ]) {
        // Before, the order went on to the scheduler, which refused it only after its inputs were uploaded.
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...job, inference: bad }),
        })
        expect(res.status, JSON.stringify(bad)).toBe(400)
        expect(await res.json()).toMatchObject({
          error: { code: 'NODE__API_MALFORMED_REQUEST', message: expect.stringMatching(/^inference\./) },
        })
      }
      expect(ops.submitted).toHaveLength(1)
    })
  })

  it('should carry verification terms to the node, and refuse terms out of range or unknown with a coded 400', async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const job = { kind: 'inference' as const, inputs: ['model', 'tensors'], inference: { items: 8, itemsPerTask: 2 } }
      const verification = { detect: 0.9999, withinTasks: 5000, cheatRate: 0.2, maxOverhead: 0.5 }
      expect(await client.submitJob({ ...job, verification })).toEqual({ jobId: 'job-1' })
      expect(ops.submitted).toEqual([expect.objectContaining({ verification })])
      for (const bad of [
        { detect: 1 },
        { detect: 0 },
        { withinTasks: 1.5 },
        { cheatRate: 2 },
        { maxOverhead: -1 },
        { p: 1 },
      ]) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...job, verification: bad }),
        })
        expect(res.status, JSON.stringify(bad)).toBe(400)
        expect(await res.json()).toMatchObject({
          error: { code: 'NODE__API_MALFORMED_REQUEST', message: expect.stringMatching(/^verification/) },
        })
      }
      expect(ops.submitted).toHaveLength(1)
    })
    // A budget the node finds no plan for is the caller's to change: 400, not a node failure.
    const refusing = fakeOps()
    refusing.submitJob = async () => {
      throw new NodeError('NODE__VERIFICATION_INFEASIBLE', 'cannot be met', {})
    }
    await withServer(refusing, async (_client, port) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'inference', inputs: ['m', 't'], inference: { items: 1, itemsPerTask: 1 } }),
      })
      // Before, a code the table does not name and its name does not read as the caller's fault: 500.
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { code: 'NODE__VERIFICATION_INFEASIBLE' } })
    })
  })

  it("should carry an inference's declared FLOPs per item to the node, and refuse a figure no order may carry", async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const job = { kind: 'inference' as const, inputs: ['model', 'tensors'] }
      const inference = { items: 8, itemsPerTask: 2, flopsPerItem: MAX_FLOPS_PER_TASK / 2 }
      expect(await client.submitJob({ ...job, inference })).toEqual({ jobId: 'job-1' })
      // Before, the field was dropped at the door and the order declared no work.
      expect(ops.submitted).toEqual([expect.objectContaining({ inference })])
      for (const flopsPerItem of [0, 1.5, MAX_FLOPS_PER_TASK + 1, '1000']) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...job, inference: { ...inference, flopsPerItem } }),
        })
        expect(res.status, String(flopsPerItem)).toBe(400)
        expect(await res.json()).toMatchObject({
          error: { code: 'NODE__API_MALFORMED_REQUEST', message: expect.stringMatching(/^inference\.flopsPerItem/) },
        })
      }
      expect(ops.submitted).toHaveLength(1)
    })
  })

  it("should answer each failure with the status its code means, not a 500 for the caller's mistakes", async () => {
    const ops = fakeOps()
    const failing: [TesseraError, number][] = [
      [new TesseraError('LEDGER__INSUFFICIENT_FUNDS', 'the wallet holds too little', {}), 402],
      [new TesseraError('GPU__SHAPE_MISMATCH', 'the inputs do not fit the model', {}), 400],
      // A scene whose every ray would walk most of its BVH is the caller's to simplify.
      [new TesseraError('GPU__TRAVERSAL_COST_EXCEEDED', 'the scene costs a ray too much', {}), 400],
      // Inputs too big to parse within the thread's bounds, or that a parser fails on, are the caller's; a parse thread
      // that would not start, ours.
      [new NodeError('NODE__INPUT_UNPARSEABLE', 'out of memory', { reason: 'out-of-memory' }), 400],
      [new NodeError('NODE__INPUT_PARSE_FAILED', 'out of time', { reason: 'timed-out' }), 400],
      [new NodeError('NODE__INPUT_UNPARSEABLE', 'parser failed', { reason: 'parser-failed' }), 400],
      [new NodeError('NODE__INPUT_PARSE_FAILED', 'no thread', { reason: 'worker-failed' }), 500],
      [new TesseraError('LEDGER__AIRDROP_UNAVAILABLE', 'no faucet here', {}), 409],
      [new NodeError('NODE__INPUT_NOT_FOUND', 'upload it first', {}), 400],
      // An output blob the node lost is its own fault, not a job the caller named wrongly.
      [new TesseraError('CORE__BLOB_NOT_FOUND', 'blob gone', {}), 500],
      [new NodeError('NODE__JOB_NOT_FOUND', 'no job', {}), 404],
    ]
    await withServer(ops, async (_client, port) => {
      for (const [error, status] of failing) {
        ops.wallet = async () => {
          throw error
        }
        const res = await fetch(`http://127.0.0.1:${port}/v1/wallet`, { headers: { authorization: `Bearer ${TOKEN}` } })
        expect(res.status, error.code).toBe(status)
      }
    })
  })

  it('should refuse a body past its bound with 413, an amount past u64 and a target that is no URL with 400', async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
      const big = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
        method: 'POST',
        headers,
        body: new Uint8Array(MAX_API_BODY_BYTES + 1),
      })
      expect(big.status).toBe(413)
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe('NODE__API_BODY_TOO_LARGE')
      // 2^64: one past u64, which the chain would refuse after the node had begun.
      await expect(client.airdrop(18_446_744_073_709_551_616n)).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REQUEST',
      })
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end(
            `GET http://[x/v1/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
          )
        })
        let text = ''
        socket.on('data', (d) => (text += d.toString()))
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
      })
      expect(reply).toMatch(/^HTTP\/1\.1 400/)
      expect(reply).toMatch(/NODE__API_MALFORMED_REQUEST/)
    })
  })

  it('should answer a method a path does not take with 405 and the methods it takes, not 404', async () => {
    const ops = fakeOps()
    await withServer(ops, async (_client, port) => {
      const auth = { authorization: `Bearer ${TOKEN}` }
      for (const [method, path, allow, headers] of [
        ['PUT', '/v1/status', 'GET, HEAD', auth],
        ['DELETE', '/v1/wallet', 'GET, HEAD', auth],
        ['GET', '/v1/jobs/job-1/cancel', 'POST', auth],
        ['PUT', '/v1/jobs/job-1', 'GET, HEAD, DELETE', auth],
        ['DELETE', '/v1/jobs', 'GET, HEAD, POST', auth],
        // Open to scrapers, so its methods are told without the token.
        ['POST', '/metrics', 'GET, HEAD', {}],
      ] as const) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers })
        expect({ method, path, status: res.status, allow: res.headers.get('allow') }).toEqual({
          method,
          path,
          status: 405,
          allow,
        })
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_METHOD_NOT_ALLOWED')
      }
      expect(ops.cancelled).toEqual([])
      expect(isNodeErrorCode('NODE__API_METHOD_NOT_ALLOWED')).toBe(true)
      // A path no route has is still 404; and without the token a /v1 path tells nothing but 401.
      expect((await fetch(`http://127.0.0.1:${port}/v1/nothing`, { headers: auth })).status).toBe(404)
      expect((await fetch(`http://127.0.0.1:${port}/v1/status`, { method: 'PUT' })).status).toBe(401)
    })
  })

  it('should ask a caller without the token for one as RFC 6750 says, and take the scheme in any case', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      const status = (authorization?: string) =>
        fetch(`http://127.0.0.1:${port}/v1/status`, authorization === undefined ? {} : { headers: { authorization } })
      const none = await status()
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="tessera"')
      const wrong = await status(`Bearer ${'b'.repeat(48)}`)
      expect(wrong.status).toBe(401)
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="invalid_token"')
      // The scheme is a token matched in any case (RFC 9110, section 11.1).
      for (const scheme of ['bearer', 'BEARER', 'Bearer']) expect((await status(`${scheme} ${TOKEN}`)).status).toBe(200)
      expect((await status(`Basic ${TOKEN}`)).status).toBe(401)
    })
  })

  it('should refuse a JSON body sent as another media type with 415, before reading it', async () => {
    const ops = fakeOps()
    const airdrop = vi.spyOn(ops, 'airdrop')
    await withServer(ops, async (client, port) => {
      const send = (contentType?: string) =>
        fetch(`http://127.0.0.1:${port}/v1/wallet/airdrop`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            ...(contentType !== undefined ? { 'content-type': contentType } : {}),
          },
          body: new TextEncoder().encode(JSON.stringify({ amount: '1' })),
        })
      // A page may send the first two cross-origin without asking the node first.
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
        const res = await send(contentType)
        expect({ contentType, status: res.status }).toEqual({ contentType, status: 415 })
        expect(res.headers.get('accept-post')).toBe('application/json')
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_UNSUPPORTED_MEDIA_TYPE')
      }
      expect(airdrop).not.toHaveBeenCalled()
      for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
        expect((await send(contentType)).status).toBe(200)
      }
      expect(await client.airdrop(5n)).toMatchObject({ tokens: '3' })
      expect(airdrop).toHaveBeenCalledTimes(3)
    })
  })

  it('should answer HEAD as it answers GET, without the body', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      const got = await fetch(`http://127.0.0.1:${port}/metrics`)
      const body = await got.text()
      // Before, HEAD /metrics was refused as a /v1 route without the token.
      const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toBe(got.headers.get('content-type'))
      expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)))
      expect(await head.text()).toBe('')
      const status = await fetch(`http://127.0.0.1:${port}/v1/status`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      expect(status.status).toBe(200)
      expect(await status.text()).toBe('')
    })
  })

  it('should refuse a body that declares more than its bound with 413 at once, without waiting for it', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      for (const [method, path, max] of [
        ['POST', '/v1/jobs', MAX_API_BODY_BYTES],
        ['PUT', '/v1/blobs', MAX_INPUT_BYTES],
      ] as const) {
        const started = Date.now()
        const reply = await rawExchange(
          port,
          `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${max + 1}\r\n\r\n`,
        )
        expect(reply, path).toMatch(/^HTTP\/1\.1 413 /)
        expect(reply).toMatch(/NODE__API_BODY_TOO_LARGE/)
        // The node closed the connection, rather than read what it would refuse.
        expect(reply).toMatch(/\r\nconnection: close\r\n/i)
        expect(Date.now() - started).toBeLessThan(2_000)
      }
    })
  })

  it('should answer no web page: a Host not its own, or any Origin, is refused with 403, /metrics included', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      const ask = (path: string, headers: string) =>
        rawExchange(
          port,
          `GET ${path} HTTP/1.1\r\n${headers}Authorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
        )
      // A page at a name its attacker's DNS points at 127.0.0.1 (DNS rebinding): before, it read /metrics and more.
      for (const host of [
        `evil.example:${port}`,
        `localhost.evil.example:${port}`,
        'localhost',
        `localhost:${port + 1}`,
      ]) {
        for (const path of ['/metrics', '/v1/status']) {
          const reply = await ask(path, `Host: ${host}\r\n`)
          expect(reply, `${host} ${path}`).toMatch(/^HTTP\/1\.1 403 /)
          expect(reply).toMatch(/"code":"NODE__API_HOST_REFUSED"/)
        }
      }
      for (const host of [`localhost:${port}`, `LocalHost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        expect(await ask('/v1/status', `Host: ${host}\r\n`), host).toMatch(/^HTTP\/1\.1 200 /)
      }
      // A browser's request: cross-origin, a preflight, or a page on the node's own origin.
      for (const origin of ['http://evil.example', `http://127.0.0.1:${port}`, 'null']) {
        const reply = await ask('/metrics', `Host: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\n`)
        expect(reply, origin).toMatch(/^HTTP\/1\.1 403 /)
        expect(reply).toMatch(/"code":"NODE__API_ORIGIN_REFUSED"/)
      }
      const preflight = await rawExchange(
        port,
        `OPTIONS /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://evil.example\r\n` +
          'Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n',
      )
      expect(preflight).toMatch(/^HTTP\/1\.1 403 .*NODE__API_ORIGIN_REFUSED/s)
      expect(preflight).not.toMatch(/access-control-allow/i)
    })
  })

  it('should tell a client to send its body only once the request passed every check made before reading it', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      const ask = (head: string, body = '') =>
        rawExchange(port, `${head}Host: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`)
      const auth = `Authorization: Bearer ${TOKEN}\r\n`
      // Before, each was told `100 Continue` first, and would have sent 100 GB or a body that is refused unread.
      for (const [head, status, code] of [
        ['PUT /v1/blobs HTTP/1.1\r\nContent-Length: 100000000000\r\n', 401, 'NODE__API_UNAUTHORISED'],
        [`PUT /v1/blobs HTTP/1.1\r\n${auth}Content-Length: 100000000000\r\n`, 413, 'NODE__API_BODY_TOO_LARGE'],
        [
          `POST /v1/jobs HTTP/1.1\r\n${auth}Content-Type: text/plain\r\nContent-Length: 2\r\n`,
          415,
          'NODE__API_UNSUPPORTED_MEDIA_TYPE',
        ],
      ] as const) {
        const reply = await ask(head)
        expect(reply, head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} .*"code":"${code}"`, 's'))
        expect(reply).not.toMatch(/100 Continue/)
      }
      const upload = await ask(`PUT /v1/blobs HTTP/1.1\r\n${auth}Content-Length: 3\r\n`, 'abc')
      expect(upload).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 .*"cid":"cid-3"/s)
    })
  })

  it('should answer an expectation it does not meet, two Host headers and a foreign absolute target as HTTP says', async () => {
    await withServer(fakeOps(), async (_client, port) => {
      const ask = (line: string, headers: string) =>
        rawExchange(port, `${line} HTTP/1.1\r\n${headers}Authorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)
      const host = `Host: 127.0.0.1:${port}\r\n`
      // Before: Node's bare 417 without a body, and 200 for the other two.
      expect(await ask('GET /v1/status', `${host}Expect: 200-ok\r\n`)).toMatch(
        /^HTTP\/1\.1 417 .*"code":"NODE__API_EXPECTATION_FAILED"/s,
      )
      expect(await ask('GET /v1/status', `${host}Host: evil.example:${port}\r\n`)).toMatch(
        /^HTTP\/1\.1 400 .*"code":"NODE__API_MALFORMED_REQUEST"/s,
      )
      expect(await ask(`GET http://evil.example:${port}/v1/status`, host)).toMatch(
        /^HTTP\/1\.1 403 .*"code":"NODE__API_HOST_REFUSED"/s,
      )
      // The target's authority is the host (RFC 9112, section 3.2.2), whatever Host says.
      expect(await ask(`GET http://127.0.0.1:${port}/v1/status`, `Host: evil.example\r\n`)).toMatch(/^HTTP\/1\.1 200 /)
    })
  })

  it('should hold at most 64 connections, and answer headers that come too late with a coded 408', async () => {
    const logger = { error: () => {} }
    const server = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN, logger, headersTimeoutMs: 500 })
    const { port } = await server.listen()
    /** A connection that sends the start of a request and no more, and what the node answers on it until it closes. */
    const loris = () =>
      new Promise<{ socket: Socket; closed: Promise<string> }>((resolve) => {
        const socket = connect(port, '127.0.0.1')
        let reply = ''
        socket.on('data', (d) => (reply += d.toString()))
        socket.on('error', () => {})
        const closed = new Promise<string>((done) => socket.on('close', () => done(reply)))
        socket.on('connect', () => {
          socket.write(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`)
          resolve({ socket, closed })
        })
      })
    const held: { socket: Socket; closed: Promise<string> }[] = []
    try {
      const started = Date.now()
      for (let i = 0; i < MAX_API_CONNECTIONS; i++) held.push(await loris())
      // Before, the node took 2000 such connections and more, each for a minute and more.
      const extra = await loris()
      held.push(extra)
      const dropped = await Promise.race([extra.closed.then(() => true), new Promise((r) => setTimeout(r, 400, false))])
      expect(dropped).toBe(true)
      const replies = await Promise.all(held.slice(0, MAX_API_CONNECTIONS).map((h) => h.closed))
      expect(Date.now() - started).toBeLessThan(4_000)
      for (const reply of replies) {
        expect(reply).toMatch(/^HTTP\/1\.1 408 /)
        expect(reply).toMatch(/\{"error":\{"code":"NODE__API_REQUEST_TIMEOUT"/)
      }
      // Their connections gone, the node answers again.
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200)
    } finally {
      for (const { socket } of held) socket.destroy()
      await server.close()
    }
    // The defaults, for a node started without these options.
    const defaults = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN })
    const http = httpServers.at(-1) as Server
    expect(http.maxConnections).toBe(MAX_API_CONNECTIONS)
    expect(http.headersTimeout).toBe(API_HEADERS_TIMEOUT_MS)
    expect(http.keepAliveTimeout).toBe(API_KEEP_ALIVE_TIMEOUT_MS)
    await defaults.close()
  })

  it('should give a JSON body a short deadline and an upload one by its length, answering late ones with 408', async () => {
    const logger = { error: vi.fn() }
    const server = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN, logger, bodyTimeoutMs: 300 })
    const { port } = await server.listen()
    const head = (method: string, path: string, length: number) =>
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`
    try {
      // A body that stops coming: before, the node waited five minutes for it.
      const started = Date.now()
      const late = await rawExchange(port, `${head('POST', '/v1/wallet/airdrop', 20)}{"amo`)
      expect(late).toMatch(/^HTTP\/1\.1 408 /)
      expect(late).toMatch(/"code":"NODE__API_REQUEST_TIMEOUT"/)
      expect(late).toMatch(/\r\nconnection: close\r\n/i)
      expect(Date.now() - started).toBeLessThan(2_000)
      // 1 MiB in four pieces over 0.6 s: past the JSON deadline, well within an upload's of that length.
      const piece = 256 * 1024
      const uploaded = await new Promise<string>((resolve, reject) => {
        let reply = ''
        const socket = connect(port, '127.0.0.1', async () => {
          socket.write(head('PUT', '/v1/blobs', 4 * piece))
          for (let i = 0; i < 4; i++) {
            await new Promise((r) => setTimeout(r, 150))
            socket.write(new Uint8Array(piece))
          }
        })
        socket.on('data', (d) => {
          reply += d.toString()
          if (reply.includes('}')) socket.destroy()
        })
        socket.on('close', () => resolve(reply))
        socket.on('error', reject)
      })
      expect(uploaded).toMatch(/^HTTP\/1\.1 200 /)
      expect(uploaded).toMatch(/"cid":"cid-1048576"/)
      expect(logger.error).not.toHaveBeenCalled()
    } finally {
      await server.close()
    }
  })

  it("should send its token only to a node that proves it holds it, not to a process on a dead node's port", async () => {
    const tmp = await tempDir()
    // A process that took the port of a node killed before it could remove its address file.
    const seen: { url: string; authorization: string | undefined }[] = []
    const foreign = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(FOREIGN_REPLY))
    })
    try {
      const dir = resolveDataDir(tmp.path)
      await initDataDir(dir)
      await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve))
      const { port } = foreign.address() as AddressInfo
      const record = { host: '127.0.0.1', port, instance: 'b'.repeat(32) }
      // Before, the CLI sent the token there and showed the foreign replies as the node's (its wallet, its peer id).
      await writeFile(dir.apiAddress, JSON.stringify({ ...record, pid: process.pid }))
      const client = await ApiClient.forDataDir(dir)
      for (const call of [() => client.status(), () => client.wallet()]) {
        await expect(call()).rejects.toMatchObject({
          code: 'NODE__API_PROOF_MISMATCH',
          message: expect.stringContaining(`is not the node ${dir.apiAddress} names`),
          context: { file: dir.apiAddress },
        })
      }
      // The node's process is gone: the file is stale, whether something else answers there or nothing does.
      const pid = deadPid()
      await writeFile(dir.apiAddress, JSON.stringify({ ...record, pid }))
      await expect((await ApiClient.forDataDir(dir)).status()).rejects.toMatchObject({
        code: 'NODE__API_STALE',
        message: expect.stringMatching(/names a node that is no longer running \(pid \d+;.*another process answers/),
        context: { file: dir.apiAddress, pid },
      })
      await new Promise((resolve) => foreign.close(resolve))
      await expect((await ApiClient.forDataDir(dir)).wallet()).rejects.toMatchObject({
        code: 'NODE__API_STALE',
        message: expect.stringMatching(/nothing answers/),
      })
      expect(seen.length).toBeGreaterThan(0)
      for (const request of seen) {
        expect(request).toEqual({
          url: expect.stringMatching(/^\/v1\/challenge\?nonce=[0-9a-f]{64}$/),
          authorization: undefined,
        })
      }
    } finally {
      foreign.close()
      await tmp.cleanup()
    }
  })

  it('should prove the node by its token and the start its address file names, on each connection', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(tmp.path)
      await initDataDir(dir)
      await writeFile(dir.apiToken, TOKEN)
      await withServer(fakeOps(), async (_client, port, server) => {
        expect(server.instance).toMatch(/^[0-9a-f]{32}$/)
        // Open: a challenge is answered without the token, and proves the node holds it.
        const nonce = 'c'.repeat(64)
        const challenge = await fetch(`http://127.0.0.1:${port}/v1/challenge?nonce=${nonce}`)
        expect(await challenge.json()).toEqual({
          instance: server.instance,
          proof: apiProof(TOKEN, nonce, server.instance).toString('hex'),
        })
        expect((await fetch(`http://127.0.0.1:${port}/v1/challenge?nonce=xyz`)).status).toBe(400)
        expect((await fetch(`http://127.0.0.1:${port}/v1/challenge`, { method: 'POST' })).status).toBe(405)
        const record = { host: '127.0.0.1', port, pid: process.pid }
        await writeFile(dir.apiAddress, JSON.stringify({ ...record, instance: server.instance }))
        // Each request, by the connection (the client's port) it came on.
        const requests: { port: number | undefined; path: string; token: boolean }[] = []
        const http = httpServers.at(-1) as Server
        const seen = (req: IncomingMessage): void =>
          void requests.push({ port: req.socket.remotePort, path: pathOf(req), token: 'authorization' in req.headers })
        http.on('request', seen)
        try {
          const client = await ApiClient.forDataDir(dir)
          for (let i = 0; i < 3; i++) expect(await client.status()).toMatchObject({ peerId: 'p' })
        } finally {
          http.off('request', seen)
        }
        // Every call on a connection of its own, proved before the token went over it.
        expect(new Set(requests.map((r) => r.port)).size).toBe(3)
        for (let i = 0; i < 3; i++) {
          expect(requests.slice(2 * i, 2 * i + 2)).toEqual([
            { port: requests[2 * i]?.port, path: '/v1/challenge', token: false },
            { port: requests[2 * i]?.port, path: '/v1/status', token: true },
          ])
        }
        // The same token, but not the start the file names.
        await writeFile(dir.apiAddress, JSON.stringify({ ...record, instance: 'd'.repeat(32) }))
        await expect((await ApiClient.forDataDir(dir)).status()).rejects.toMatchObject({
          code: 'NODE__API_PROOF_MISMATCH',
        })
      })
    } finally {
      await tmp.cleanup()
    }
  })

  it("should send no token to a process that took a dead node's port after the client proved the node", async () => {
    const tmp = await tempDir()
    const seen: (string | undefined)[] = []
    const foreign = createServer((req, res) => {
      seen.push(req.headers.authorization)
      // What the review's process answered: the job the CLI follows, done.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({ jobId: 'job-1', state: 'completed', tasks: 4, completed: 4, verified: 4, reassigned: 0 }),
      )
    })
    try {
      const dir = resolveDataDir(tmp.path)
      await initDataDir(dir)
      await writeFile(dir.apiToken, TOKEN)
      const node = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN, logger: { error: () => {} } })
      const { port } = await node.listen()
      await writeFile(
        dir.apiAddress,
        JSON.stringify({ host: '127.0.0.1', port, pid: process.pid, instance: node.instance }),
      )
      // As `job submit` follows its job: the node answers, then dies (SIGKILL leaves its address file), and another
      // process takes its port before the next poll.
      const client = await ApiClient.forDataDir(dir)
      expect(await client.jobStatus('job-1')).toMatchObject({ state: 'running' })
      await node.close()
      await new Promise<void>((resolve) => foreign.listen(port, '127.0.0.1', resolve))
      // Before, the client sent its token there and took the foreign reply for the job's.
      await expect(client.jobStatus('job-1')).rejects.toMatchObject({ code: 'NODE__API_PROOF_MISMATCH' })
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.every((authorization) => authorization === undefined)).toBe(true)
    } finally {
      foreign.close()
      await tmp.cleanup()
    }
  })

  it('should take no reply about another job than the one it asked about', async () => {
    const instance = 'f'.repeat(32)
    // A node that proves itself (a bug, or a node of another version) and answers about another job.
    const node = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const nonce = url.searchParams.get('nonce')
      if (nonce !== null) {
        return void res.end(JSON.stringify({ instance, proof: apiProof(TOKEN, nonce, instance).toString('hex') }))
      }
      const status = { jobId: 'job-2', state: 'completed', tasks: 4, completed: 4, verified: 4, reassigned: 0 }
      res.end(JSON.stringify({ ...status, files: [], blobsDeleted: 0 }))
    })
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = node.address() as AddressInfo
      const client = new ApiClient(`http://127.0.0.1:${port}`, TOKEN)
      const calls = [
        () => client.jobStatus('job-1'),
        () => client.cancelJob('job-1'),
        () => client.deleteJob('job-1'),
        () => client.jobOutput('job-1'),
      ]
      for (const call of calls) {
        await expect(call()).rejects.toMatchObject({
          code: 'NODE__API_MALFORMED_REPLY',
          message: expect.stringContaining('about another job'),
          context: { jobId: 'job-1', replied: 'job-2' },
        })
      }
      expect(await client.jobStatus('job-2')).toMatchObject({ state: 'completed' })
    } finally {
      await new Promise((resolve) => node.close(resolve))
    }
  })

  it('should refuse a reply a report could not print or a file sent compressed, as a malformed reply', async () => {
    const instance = '9'.repeat(32)
    const compressed = gzipSync(new Uint8Array(1024 * 1024))
    const encodings: (string | undefined)[] = []
    // A node that proves itself (a bug, or a node of another version) and answers out of bounds.
    const node = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const nonce = url.searchParams.get('nonce')
      if (nonce !== null) {
        return void res.end(JSON.stringify({ instance, proof: apiProof(TOKEN, nonce, instance).toString('hex') }))
      }
      encodings.push(req.headers['accept-encoding'])
      if (url.pathname === '/v1/jobs') {
        return void res.end(
          JSON.stringify({ jobs: [{ jobId: 'j', state: 'completed', tasks: 1, verified: 1, orderedAt: 1e300 }] }),
        )
      }
      if (url.pathname === '/v1/jobs/job-1') {
        const status = { jobId: 'job-1', state: 'completed', tasks: 1, completed: 1, verified: 1, reassigned: 0 }
        return void res.end(JSON.stringify({ ...status, frames: { first: 0, count: 1e15 } }))
      }
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(compressed.byteLength) })
      res.end(compressed)
    })
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = node.address() as AddressInfo
      const client = new ApiClient(`http://127.0.0.1:${port}`, TOKEN)
      // Before, `job list` threw an uncoded RangeError printing the date; `job fetch` asked for 10^15 frames.
      for (const call of [() => client.listJobs(), () => client.jobStatus('job-1')]) {
        await expect(call()).rejects.toMatchObject({ code: 'NODE__API_MALFORMED_REPLY' })
      }
      // Before, the client inflated it past the length it checked (or, reading it as sent, took gzip for the file).
      await expect(client.jobOutputFile('job-1', 'frame-0000.exr')).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REPLY',
        context: { encoding: 'gzip' },
      })
      expect(encodings).toEqual(['identity', 'identity', 'identity'])
    } finally {
      await new Promise((resolve) => node.close(resolve))
    }
  })

  it('should read no more of a reply than its call may need', async () => {
    const instance = 'e'.repeat(32)
    const MiB = new Uint8Array(1024 * 1024).fill(0x20)
    /** Writes `count` MiB of spaces, as fast as the client reads them, until it hangs up. */
    const stream = (res: ServerResponse, count: number): void => {
      let sent = 0
      res.on('close', () => (sent = count))
      const pump = (): void => {
        while (sent < count) {
          sent++
          if (!res.write(MiB)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    }
    // A node that proves itself (a bug, or a node of another version) and then answers without end.
    const node = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const nonce = url.searchParams.get('nonce')
      if (nonce !== null) {
        res.end(JSON.stringify({ instance, proof: apiProof(TOKEN, nonce, instance).toString('hex') }))
      } else if (url.pathname === '/v1/status') {
        res.writeHead(200, { 'content-length': String(2 ** 30) }).write('{')
      } else if (url.pathname === '/v1/jobs') {
        stream(res.writeHead(200), 70)
      } else {
        stream(res.writeHead(500), 1)
      }
    })
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = node.address() as AddressInfo
      const client = new ApiClient(`http://127.0.0.1:${port}`, TOKEN, { timeoutMs: 5_000 })
      const started = Date.now()
      // Before, the client read all that came, or waited for it until its timeout.
      await expect(client.status()).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REPLY',
        message: expect.stringMatching(/larger than 67108864 bytes/),
      })
      expect(Date.now() - started).toBeLessThan(2_000)
      await expect(client.listJobs()).rejects.toMatchObject({ message: expect.stringMatching(/larger than 67108864/) })
      await expect(client.wallet()).rejects.toMatchObject({ message: expect.stringMatching(/larger than 65536 bytes/) })
    } finally {
      node.closeAllConnections()
      await new Promise((resolve) => node.close(resolve))
    }
  })

  it("should refuse an airdrop of nothing, and one past the mint's supply as the caller's, not its own failure", async () => {
    const ops = fakeOps()
    const logger = { error: vi.fn() }
    const airdrop = vi.spyOn(ops, 'airdrop')
    await withServer(
      ops,
      async (client, port) => {
        // Minted nothing before, and paid a transaction's fee.
        await expect(client.airdrop(0n)).rejects.toMatchObject({
          code: 'NODE__API_MALFORMED_REQUEST',
          message: expect.stringMatching(/amount: an airdrop is of at least 1 token/),
        })
        expect(airdrop).not.toHaveBeenCalled()
        const words = await fetch(`http://127.0.0.1:${port}/v1/wallet/airdrop`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 'lots' }),
        })
        expect(words.status).toBe(400)
        expect(((await words.json()) as { error: { code: string } }).error.code).toBe('NODE__API_MALFORMED_REQUEST')
        expect(airdrop).not.toHaveBeenCalled()
        // The ledger refuses it before sending (it was the token program's Custom 14 overflow: a 500, logged).
        airdrop.mockRejectedValue(new LedgerError('LEDGER__INVALID_INPUT', "past the mint's supply; ask for at most 5"))
        const res = await fetch(`http://127.0.0.1:${port}/v1/wallet/airdrop`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ amount: '6' }),
        })
        expect(res.status).toBe(400)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('LEDGER__INVALID_INPUT')
        expect(logger.error).not.toHaveBeenCalled()
      },
      logger,
    )
  })

  it('should refuse to serve with an empty or short token, which would let any caller in', () => {
    for (const token of ['', 'short']) {
      expect(() => new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token })).toThrow(
        expect.objectContaining({ code: 'NODE__INVALID_CONFIG' }),
      )
    }
  })

  it('should report an unreachable node with a coded error', async () => {
    const client = new ApiClient('http://127.0.0.1:9', 'x')
    await expect(client.status()).rejects.toMatchObject({ code: 'NODE__API_UNREACHABLE' })
  })

  it('should abort the operation of a client that hangs up, and not of one that read its reply', async () => {
    const ops = fakeOps()
    const given = Promise.withResolvers<AbortSignal | undefined>()
    ops.wallet = (options) => {
      given.resolve(options?.signal)
      return hang(options)
    }
    await withServer(ops, async (_client, port) => {
      const req = request({ port, path: '/v1/wallet', headers: { authorization: `Bearer ${TOKEN}` } })
      req.on('error', () => {})
      req.end()
      const signal = await given.promise
      expect(signal?.aborted).toBe(false)
      req.destroy()
      await vi.waitFor(() => expect(signal?.aborted).toBe(true))
      // A request answered in full: its 'close' comes after the reply is finished, which is no abort.
      await new ApiClient(`http://127.0.0.1:${port}`, TOKEN).status()
      expect(ops.signals).toHaveLength(1)
      expect(ops.signals[0]?.aborted).toBe(false)
    })
  })

  it("should reject with AbortError on the caller's abort, not as an unreachable node", async () => {
    const ops = fakeOps()
    ops.wallet = hang
    await withServer(ops, async (client) => {
      const caller = new AbortController()
      const call = client.wallet({ signal: caller.signal })
      setTimeout(() => caller.abort(), 50)
      await expect(call).rejects.toBeInstanceOf(AbortError)
      await expect(client.status({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    })
  })

  it('should give a submit, which waits on the chain, longer than other calls, and say a cut one may have ordered', async () => {
    const ops = fakeOps()
    await withServer(ops, async (_client, port) => {
      const client = new ApiClient(`http://127.0.0.1:${port}`, TOKEN, { timeoutMs: 100 })
      const job = {
        kind: 'render' as const,
        inputs: ['c'],
        render: { frames: 1, width: 8, height: 8, tileWidth: 4, tileHeight: 4, samples: 1 },
      }
      // Funding on a cluster takes seconds: three times the plain timeout here.
      ops.submitJob = async () => {
        await new Promise((resolve) => setTimeout(resolve, 300))
        return { jobId: 'slow' }
      }
      expect(await client.submitJob(job)).toEqual({ jobId: 'slow' })
      ops.submitJob = (_request, options) => hang(options)
      await expect(client.submitJob(job)).rejects.toMatchObject({
        code: 'NODE__API_UNREACHABLE',
        message: expect.stringMatching(/may have ordered the job.*tessera job list/),
      })
    })
  })

  it('should keep the API timeout when the caller passes a signal of its own', { timeout: 10_000 }, async () => {
    const ops = fakeOps()
    ops.wallet = hang
    await withServer(ops, async (_client, port) => {
      const client = new ApiClient(`http://127.0.0.1:${port}`, TOKEN, { timeoutMs: 100 })
      await expect(client.wallet({ signal: new AbortController().signal })).rejects.toMatchObject({
        code: 'NODE__API_UNREACHABLE',
      })
    })
  })

  it('should send only known codes, and keep a code the client does not know as remoteCode', async () => {
    expect(['NODE__API_NOT_FOUND', 'NODE__INTERNAL', 'NODE__JOB_NOT_FOUND'].every(isNodeErrorCode)).toBe(true)
    expect(isNodeErrorCode('SCHEDULER__BID_EXPIRED')).toBe(false)
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/nothing`, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_NOT_FOUND')
      ops.wallet = async () => {
        throw new Error('disk on fire')
      }
      await expect(client.wallet()).rejects.toMatchObject({
        code: 'NODE__INTERNAL',
        message: expect.stringMatching(/^the node failed on this request; its log has the cause under request id /),
        context: { path: '/v1/wallet', requestId: expect.any(String) },
      })
      ops.wallet = async () => {
        throw new TesseraError('SCHEDULER__BID_EXPIRED', 'the bid expired', {})
      }
      const remote = await client.wallet().catch((e: unknown) => e)
      expect(remote).toBeInstanceOf(NodeError)
      expect(remote).toMatchObject({
        code: 'NODE__API_REMOTE_ERROR',
        message: 'the bid expired',
        context: { path: '/v1/wallet', remoteCode: 'SCHEDULER__BID_EXPIRED' },
      })
      let stderr = ''
      reportError(remote, { stdout: () => {}, stderr: (t) => void (stderr += t), isTty: false })
      expect(stderr).toBe('error: the bid expired (NODE__API_REMOTE_ERROR, remote SCHEDULER__BID_EXPIRED)\n')
    })
  })

  it("should log each failure of the node's own, and answer one it did not code without its insides", async () => {
    const ops = fakeOps()
    const logger = { error: vi.fn() }
    await withServer(
      ops,
      async (_client, port) => {
        const get = async (path: string) => {
          const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
          return { status: res.status, error: ((await res.json()) as { error: Record<string, string> }).error }
        }
        ops.wallet = async () => {
          throw Object.assign(new Error("ENOTDIR: not a directory, open '/home/operator/.tessera/ledger/wallet'"), {
            code: 'ENOTDIR',
          })
        }
        // Before, the reply carried the node's own path and nothing was logged.
        const uncoded = await get('/v1/wallet?probe=1')
        expect(uncoded.status).toBe(500)
        expect(uncoded.error).toEqual({
          code: 'NODE__INTERNAL',
          message: `the node failed on this request; its log has the cause under request id ${uncoded.error.requestId}`,
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        })
        expect(logger.error).toHaveBeenCalledExactlyOnceWith(
          {
            err: expect.stringMatching(/ENOTDIR: not a directory, open '\/home\/operator/),
            method: 'GET',
            path: '/v1/wallet',
            requestId: uncoded.error.requestId,
          },
          'api:failed',
        )
        // A coded failure of the node's own keeps its message, and is logged with its code.
        ops.wallet = async () => {
          throw new TesseraError('CORE__BLOB_NOT_FOUND', 'blob gone', {})
        }
        const coded = await get('/v1/wallet')
        expect(coded).toMatchObject({ status: 500, error: { code: 'CORE__BLOB_NOT_FOUND', message: 'blob gone' } })
        expect(logger.error).toHaveBeenLastCalledWith(
          expect.objectContaining({ code: 'CORE__BLOB_NOT_FOUND', requestId: coded.error.requestId }),
          'api:failed',
        )
        // The caller's mistakes are the caller's to read, not the operator's.
        expect((await get('/v1/jobs/nope')).status).toBe(404)
        expect(logger.error).toHaveBeenCalledTimes(2)
        // A failure of the node's own that comes after its client hung up is logged all the same.
        let started: () => void = () => {}
        const running = new Promise<void>((resolve) => (started = resolve))
        let hungUp: () => void = () => {}
        const gone = new Promise<void>((resolve) => (hungUp = resolve))
        ops.wallet = async () => {
          started()
          await gone
          throw new Error('the disk is gone')
        }
        const hangUp = new AbortController()
        const cut = fetch(`http://127.0.0.1:${port}/v1/wallet`, {
          headers: { authorization: `Bearer ${TOKEN}` },
          signal: hangUp.signal,
        }).catch(() => undefined)
        // The client hangs up while the node works on it; the node then fails.
        await running
        hangUp.abort()
        await cut
        await new Promise((resolve) => setTimeout(resolve, 50))
        hungUp()
        await vi.waitFor(() => expect(logger.error).toHaveBeenCalledTimes(3))
        expect(logger.error).toHaveBeenLastCalledWith(
          expect.objectContaining({ err: expect.stringMatching(/the disk is gone/) }),
          'api:failed',
        )
      },
      logger,
    )
  })

  it('should hand a server error after listening to the logger, and still reject a failed listen', async () => {
    const logger = { error: vi.fn() }
    const server = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN, logger })
    const { port } = await server.listen()
    try {
      const http = httpServers.at(-1) as Server
      const failure = new Error('accept failed')
      http.emit('error', failure)
      expect(logger.error).toHaveBeenCalledWith({ err: failure }, 'api:error')
      expect(http.listenerCount('error')).toBe(1)
      const taken = new ApiServer(fakeOps(), { host: '127.0.0.1', port, token: TOKEN })
      await expect(taken.listen()).rejects.toMatchObject({
        code: 'NODE__API_LISTEN_FAILED',
        message: expect.stringMatching(/port is taken/),
        cause: { code: 'EADDRINUSE' },
      })
    } finally {
      await server.close()
    }
  })

  it('should not listen once the signal has aborted, before or during the bind', async () => {
    const server = new ApiServer(fakeOps(), { host: '127.0.0.1', port: 0, token: TOKEN })
    // Before, both listened whatever the caller's signal said.
    await expect(server.listen({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
      code: 'CORE__ABORTED',
    })
    const http = httpServers.at(-1) as Server
    expect(http.listening).toBe(false)
    const controller = new AbortController()
    const listening = server.listen({ signal: controller.signal })
    controller.abort()
    await expect(listening).rejects.toMatchObject({ name: 'AbortError' })
    expect(http.listening).toBe(false)
    // Not a server left half started: it listens when asked again.
    const { port } = await server.listen({ signal: new AbortController().signal })
    try {
      expect(port).toBeGreaterThan(0)
      expect(http.listening).toBe(true)
    } finally {
      await server.close()
    }
  })

  it('should make a client for a data directory unless the signal has aborted, and not keep the signal', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(tmp.path)
      await initDataDir(dir)
      await withServer(fakeOps(), async (_client, port, server) => {
        const record = { host: '127.0.0.1', port, pid: process.pid, instance: server.instance }
        await writeFile(dir.apiAddress, JSON.stringify(record))
        await writeFile(dir.apiToken, TOKEN)
        // Before, the client was made whatever the caller's signal said.
        await expect(ApiClient.forDataDir(dir, { signal: AbortSignal.abort() })).rejects.toMatchObject({
          name: 'AbortError',
          code: 'CORE__ABORTED',
        })
        const controller = new AbortController()
        const client = await ApiClient.forDataDir(dir, { signal: controller.signal, timeoutMs: 5_000 })
        // The signal was for making the client: its calls after it are not aborted by it.
        controller.abort()
        expect(await client.status()).toMatchObject({ peerId: 'p' })
      })
    } finally {
      await tmp.cleanup()
    }
  })

  it('should reach a node bound to an IPv6 address, or to every interface, by a URL that works', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(tmp.path)
      await initDataDir(dir)
      // Port 9 (discard): nothing answers, and the error names the URL the client built.
      for (const [host, url] of [
        ['::1', 'http://[::1]:9'],
        ['::', 'http://[::1]:9'],
        ['0.0.0.0', 'http://127.0.0.1:9'],
        ['fe80::1%lo', 'http://[fe80::1%25lo]:9'],
      ]) {
        await writeFile(dir.apiAddress, JSON.stringify({ host, port: 9, pid: process.pid, instance: 'a'.repeat(32) }))
        const client = await ApiClient.forDataDir(dir)
        await expect(client.status(), host).rejects.toMatchObject({
          code: 'NODE__API_UNREACHABLE',
          message: expect.stringContaining(`the node at ${url} did not answer`),
        })
      }
    } finally {
      await tmp.cleanup()
    }
  })

  it("should tell a missing node's address file from one it cannot read, keeping the cause", async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(tmp.path)
      await expect(ApiClient.forDataDir(dir)).rejects.toMatchObject({
        code: 'NODE__API_UNREACHABLE',
        cause: { code: 'ENOENT' },
      })
      // A directory in the file's place: unreadable even for root, whom permissions do not stop.
      await mkdir(dir.apiAddress)
      await expect(ApiClient.forDataDir(dir)).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        message: expect.stringMatching(/not a regular file/),
      })
    } finally {
      await tmp.cleanup()
    }
  })
})
