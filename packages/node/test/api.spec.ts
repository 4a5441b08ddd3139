import { MAX_JOB_TIMEOUT_MS } from '@tessera/scheduler'
import { describe, expect, it } from 'vitest'
import type { JobRequest, NodeOperations } from '../src/api/contract.js'
import { ApiClient } from '../src/api/client.js'
import { ApiServer } from '../src/api/server.js'
import { NodeError } from '../src/errors.js'

function fakeOps(): NodeOperations & { submitted: unknown[]; outputOptions: unknown[] } {
  const submitted: unknown[] = []
  const outputOptions: unknown[] = []
  return {
    submitted,
    outputOptions,
    status: async () => ({ peerId: 'p', addrs: [], peers: 0, capacityRecords: 0, worker: true, payee: 'x' }),
    putBlob: async (bytes) => `cid-${bytes.byteLength}`,
    submitJob: async (r) => {
      submitted.push(r)
      return { jobId: 'job-1' }
    },
    jobStatus: async (id) => {
      if (id !== 'job-1') throw new NodeError('NODE__JOB_NOT_FOUND', `no job ${id}`, {})
      return { jobId: id, state: 'running', tasks: 4, completed: 1, verified: 1, reassigned: 0 }
    },
    jobOutput: async (id, options) => {
      outputOptions.push(options)
      return { jobId: id, files: [] }
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
  body: (client: ApiClient, port: number) => Promise<void>,
): Promise<void> {
  const server = new ApiServer(ops, { host: '127.0.0.1', port: 0, token: TOKEN })
  const { port } = await server.listen()
  try {
    await body(new ApiClient(`http://127.0.0.1:${port}`, TOKEN), port)
  } finally {
    await server.close()
  }
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
        { ...lit, render: { ...lit.render, environment: { intensity: -1, rotation: 0 } } },
        { ...lit, render: { ...lit.render, environment: { intensity: 1 } } },
      ]) {
        await expect(client.submitJob(bad as typeof lit)).rejects.toMatchObject({ code: 'NODE__API_MALFORMED_REQUEST' })
      }
      const wrong = new ApiClient(`http://127.0.0.1:${port}`, 'guess')
      await expect(wrong.status()).rejects.toMatchObject({ code: 'NODE__API_UNAUTHORISED' })
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
      expect(await metrics.text()).toMatch(/tessera_jobs_submitted_total/)
    })
  })

  it("should pass a job output's tone mapping through the query and refuse bad values", async () => {
    const ops = fakeOps()
    await withServer(ops, async (client, port) => {
      await client.jobOutput('job-1')
      await client.jobOutput('job-1', { exposure: 0.25, toneCurve: 'aces' })
      expect(ops.outputOptions).toEqual([{}, { exposure: 0.25, toneCurve: 'aces' }])
      for (const bad of [{ exposure: 0 }, { exposure: -1 }, { exposure: Infinity }, { toneCurve: 'sepia' }]) {
        await expect(client.jobOutput('job-1', bad as never), JSON.stringify(bad)).rejects.toMatchObject({
          code: 'NODE__API_MALFORMED_REQUEST',
        })
      }
      const raw = (query: string) =>
        fetch(`http://127.0.0.1:${port}/v1/jobs/job-1/output?${query}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      for (const query of ['exposure=abc', 'exposure=1&exposure=2', 'gamma=2.2']) {
        const res = await raw(query)
        expect(res.status, query).toBe(400)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NODE__API_MALFORMED_REQUEST')
      }
      expect(ops.outputOptions).toHaveLength(2)
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
      expect(await client.submitJob({ ...job, deadlineMs: MAX_JOB_TIMEOUT_MS })).toEqual({ jobId: 'job-1' })
    })
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
})
