import { AbortError, blobCid, isTesseraError, seededRng } from '@tessera/core'
import { bytesToFloat32, generateScene, onnx, tensor } from '@tessera/gpu'
import { CreatorMachine, DEFAULT_AWARD_GRACE_MS, SchedulerError } from '@tessera/scheduler'
import { decode as decodePng } from 'fast-png'
import { type Logger, pino } from 'pino'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JOURNAL_FILE, parseReceipt } from '@tessera/ledger'
import { describe, expect, it, vi } from 'vitest'
import type { JobRequest } from '../src/api/contract.js'
import { NodeError } from '../src/errors.js'
import { UPLOAD } from '../src/peer/blob-holds.js'
import { encodeTensorBundle } from '../src/peer/tensor-bundle.js'
import { jobSpecOf } from '../src/peer/job-request.js'
import { GpuWorkload } from '../src/peer/gpu-workload.js'
import { Peer } from '../src/peer/peer.js'
import { Settlement } from '../src/peer/settlement.js'
import { peerHarness, until } from './peer-harness.js'

/** One 16 x 16 tile, one sample per pixel: the smallest job a worker renders. */
const request = (scene: string): JobRequest => ({
  kind: 'render',
  inputs: [scene],
  render: { frames: 1, width: 16, height: 16, tileWidth: 16, tileHeight: 16, samples: 1 },
  maxPrice: '200',
  minBids: 1,
})

/** The holds a peer keeps (`<cid>/<holder>`), not their index entries. */
async function holdsOf(peer: Peer): Promise<string[]> {
  const held: string[] = []
  for await (const [key] of peer.datastore.entries('holds')) {
    if (!key.startsWith('expiry/') && !key.startsWith('holder/')) held.push(key)
  }
  return held.sort()
}

/**
 * Lets workers run their first task and hang every later one until it is aborted (a job cancelled part done).
 * Every peer of the suite runs through the prototype: restore the spy once the job is cancelled.
 */
function runFirstTaskOnly() {
  const execute = GpuWorkload.prototype.execute
  let calls = 0
  return vi.spyOn(GpuWorkload.prototype, 'execute').mockImplementation(function (
    this: GpuWorkload,
    execution,
    options,
  ) {
    calls++
    if (calls === 1) return execute.call(this, execution, options)
    return new Promise((_, reject) => options.signal.addEventListener('abort', () => reject(new AbortError())))
  })
}

/** ONNX bytes of y = op(x) for x of [batch, 4] floats. */
function elementwiseModel(opType: string): Uint8Array {
  const info = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] },
      },
    },
  })
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: opType,
      input: [info('x')],
      output: [info('y')],
      node: [{ opType, input: ['x'], output: ['y'], name: opType }],
    },
  }).finish()
}

/** A logger whose lines are kept, parsed, in `lines`. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) }
}

/**
 * A long-running peer over real libp2p (loopback TCP), Dawn on lavapipe and LiteSVM: what it holds per job is let go
 * once the job has ended and settled, its failures are logged rather than left unhandled, and its start honours an
 * abort.
 */
describe('a peer over the life of its jobs', () => {
  const { init, start, peers, dirOf } = peerHarness('tessera-lifecycle-')

  /** A creator and a worker that knows it, for the tests that run a job to its end. */
  async function pair(name: string): Promise<{ creator: Peer; worker: Peer; scene: string }> {
    const creator = await start(`${name}-creator`, { worker: { enabled: false } })
    await start(`${name}-worker`, { bootstrap: [creator.node.getMultiaddrs()[0]!.toString()] })
    await until('the capacity record', async () => ((await creator.status()).capacityRecords >= 1 ? true : undefined))
    await creator.airdrop(1_000_000n)
    return { creator, worker: peers.at(-1)!, scene: await creator.putBlob(await generateScene({ subdivisions: 1 })) }
  }

  /**
   * Orders `job`, lets its worker finish the first task only, cancels it once that is accepted, and resolves to its
   * id once its record says how it ended.
   */
  async function cancelledPartDone(creator: Peer, job: JobRequest): Promise<string> {
    const spy = runFirstTaskOnly()
    const { jobId } = await creator.submitJob(job)
    await until('one task to be accepted', () => (creator.scheduler.job(jobId)?.accepted === 1 ? true : undefined))
    expect((await creator.cancelJob(jobId)).state).toBe('cancelled')
    // Every peer of the suite runs through the prototype: the other tests' workers must not hang.
    spy.mockRestore()
    await until('the record of how it ended', async () =>
      (await creator.jobs.stored(jobId))?.end !== undefined ? true : undefined,
    )
    return jobId
  }

  /** Resolves once a job has settled and the creator has let its settlement go; its status then. */
  async function settledStatus(creator: Peer, jobId: string) {
    await until('the settlement to end', () => (creator.retained.settlements === 0 ? true : undefined))
    return creator.jobStatus(jobId)
  }

  it('should settle a job that ends unfinished over the tasks it accepted, without waiting for a restart', async () => {
    const { creator, scene } = await pair('expiring')
    // The job ends unfinished (cancelled or past its deadline) once its one task has been accepted.
    let end: (e: unknown) => void = () => {}
    vi.spyOn(creator.scheduler, 'waitForJob').mockReturnValueOnce(new Promise((_, reject) => (end = reject)))
    const { jobId } = await creator.submitJob(request(scene))
    await until('the task to be accepted', () => (creator.scheduler.job(jobId)?.accepted === 1 ? true : undefined))
    end(new SchedulerError('SCHEDULER__JOB_UNFINISHED', 'the job expired', { jobId, event: 'job:expired' }))

    const status = await settledStatus(creator, jobId)
    expect(status.settlement).toMatchObject({ receipts: 1, anchor: expect.any(String), refunded: expect.any(String) })
    expect(Object.keys(status.settlement?.paid ?? {})).toHaveLength(1)
    // Once the market forgets the job, its record says how it ended (it was reported as unknown before).
    vi.spyOn(creator.scheduler, 'job').mockReturnValue(undefined)
    expect(await creator.jobStatus(jobId)).toMatchObject({
      state: 'expired',
      tasks: 1,
      verified: 1,
      settlement: { receipts: 1 },
    })
  }, 300_000)

  it('should report a job whose record an older version wrote without its end as ended by a stop, not as unknown', async () => {
    const creator = await start('legacy', { worker: { enabled: false } })
    const split = { kind: 'render', firstFrame: 0, frames: 2, width: 32, height: 16, tileWidth: 16, tileHeight: 16 }
    await creator.datastore.put('jobs', 'job-old', {
      request: '{}',
      order: { jobId: 'job-old', kind: 'render', split },
    })
    expect(await creator.jobStatus('job-old')).toMatchObject({ state: 'failed', tasks: 4, verified: 0 })
    await expect(creator.jobStatus('job-none')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
    // Its output too: a job this node never ordered is not found, not "not complete".
    await expect(creator.jobOutput('job-none')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
    await expect(creator.jobOutput('job-old')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_COMPLETE' })
  })

  it("should keep what it learnt of other peers' results across a restart", async () => {
    const first = await start('reputation', { worker: { enabled: false } })
    first.verification.reputation.recordLocal('a-cheater', 'fail')
    first.verification.reputation.recordLocal('an-honest-worker', 'pass')
    // Stopped again with the suite: a second stop finds everything closed already.
    await first.stop()
    const again = await start('reputation', { worker: { enabled: false } })
    expect(again.verification.reputation.evidence('a-cheater')).toEqual({ valid: 0, failed: 1 })
    expect(again.verification.reputation.evidence('an-honest-worker')).toEqual({ valid: 1, failed: 0 })
  })

  it("should order a job only once the restart's settlements have resumed", async () => {
    let resumed: () => void = () => {}
    const gate = new Promise<Map<string, number>>((resolve) => (resumed = () => resolve(new Map())))
    // Every resume until the gate opens: an earlier test's peer may still be on its way to its own.
    const resume = vi.spyOn(Settlement.prototype, 'resume').mockReturnValue(gate)
    const creator = await start('gated', { worker: { enabled: false } })
    await creator.airdrop(1_000_000n)
    const scene = await creator.putBlob(await generateScene({ subdivisions: 1 }))
    let ordered = false
    const submitted = creator.submitJob(request(scene)).then(() => (ordered = true))
    await new Promise((resolve) => setTimeout(resolve, 200))
    // Ordered now, the job's open settlement would be taken for one the restart left.
    expect(ordered).toBe(false)
    resumed()
    await submitted
    expect(ordered).toBe(true)
    resume.mockRestore()
  })

  it('should give a cancelled render its frame with the tiles it accepted, when asked for a partial output', async () => {
    const { creator, scene } = await pair('partial')
    // The worker renders its first tile; the second never finishes before the job is cancelled.
    const two = request(scene)
    const jobId = await cancelledPartDone(creator, { ...two, render: { ...two.render!, width: 32 } })
    await expect(creator.jobOutput(jobId)).rejects.toMatchObject({
      code: 'NODE__JOB_NOT_COMPLETE',
      message: expect.stringMatching(/accepted 1 of its tiles/),
    })
    const output = await creator.jobOutput(jobId, { partial: true })
    // Beside the frame, the tile left black.
    const tiles = output.files.find((f) => f.name === 'tiles.json')
    expect(JSON.parse(Buffer.from(tiles!.base64, 'base64').toString('utf8'))).toEqual({
      missing: [{ frame: 0, x: 16, y: 0, width: 16, height: 16 }],
    })
    const png = output.files.find((f) => f.name === 'frame-0000.png')
    const image = decodePng(Buffer.from(png!.base64, 'base64'))
    expect([image.width, image.height]).toEqual([32, 16])
    // The accepted left tile is rendered, the right one is black.
    const light = (x0: number) => {
      let sum = 0
      for (let y = 0; y < 16; y++) {
        for (let x = x0; x < x0 + 16; x++) for (let c = 0; c < 3; c++) sum += image.data[(y * 32 + x) * 4 + c]!
      }
      return sum
    }
    expect(light(0)).toBeGreaterThan(0)
    expect(light(16)).toBe(0)
  }, 300_000)

  it('should give a cancelled inference the items it accepted, NaN for the rest, and say which', async () => {
    const { creator } = await pair('partial-inference')
    // y = relu(x) over items of 4 floats; 4 items in tasks of 2.
    const model = elementwiseModel('Relu')
    const x = Float32Array.from({ length: 16 }, (_, i) => i - 8)
    const inputs = [await creator.putBlob(model), await creator.putBlob(encodeTensorBundle({ x: tensor([4, 4], x) }))]
    const jobId = await cancelledPartDone(creator, {
      kind: 'inference',
      inputs,
      inference: { items: 4, itemsPerTask: 2 },
      maxPrice: '200',
      minBids: 1,
    })
    await expect(creator.jobOutput(jobId)).rejects.toMatchObject({
      code: 'NODE__JOB_NOT_COMPLETE',
      message: expect.stringMatching(/accepted 1 of its item ranges/),
    })
    const { files } = await creator.jobOutput(jobId, { partial: true })
    expect(files.map((f) => f.name)).toEqual(['output.f32', 'ranges.json'])
    const manifest = JSON.parse(Buffer.from(files[1]!.base64, 'base64').toString('utf8'))
    expect(manifest).toMatchObject({ items: 4, itemBytes: 16 })
    // One range of two items in, the other out (whichever the worker ran first).
    expect(manifest.accepted).toHaveLength(1)
    expect([...manifest.accepted, ...manifest.missing].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 2],
      [2, 4],
    ])
    const y = bytesToFloat32(Buffer.from(files[0]!.base64, 'base64'))
    const [start, end] = (manifest.accepted as [number, number][])[0]!
    for (let i = 0; i < 16; i++) {
      const item = Math.floor(i / 4)
      if (item >= start && item < end) expect(y[i]).toBe(Math.max(0, x[i]!))
      else expect(y[i]).toBeNaN()
    }
  }, 300_000)

  it('should refuse a job its workers could not run, with the reason, before anything is ordered or paid', async () => {
    const creator = await start('refusing', { worker: { enabled: false } })
    await creator.airdrop(1_000_000n)
    const before = await creator.wallet()
    const scene = await creator.putBlob(await generateScene({ subdivisions: 1 }))
    const inference = (inputs: string[], items = 4): JobRequest => ({
      kind: 'inference',
      inputs,
      inference: { items, itemsPerTask: 2 },
      maxPrice: '200',
      minBids: 1,
    })
    const twoItems = await creator.putBlob(encodeTensorBundle({ x: tensor([2, 4], new Float32Array(8)) }))
    // A .gltf whose buffer is a file beside it: no worker has that file.
    const sidecar = new TextEncoder().encode(
      JSON.stringify({
        asset: { version: '2.0' },
        buffers: [{ uri: 'scene.bin', byteLength: 36 }],
        bufferViews: [{ buffer: 0, byteLength: 36 }],
        accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] }],
        meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
        nodes: [{ mesh: 0 }],
        scenes: [{ nodes: [0] }],
      }),
    )
    const cases: [string, JobRequest, string][] = [
      ['a name that is no CID', request('scene.glb'), 'NODE__UNSUPPORTED_INPUT'],
      ['a blob never uploaded', request(blobCid(new Uint8Array([1, 2, 3])).toString()), 'NODE__INPUT_NOT_FOUND'],
      // Recorded, its scene held, then refused by the ledger before: a job listed cancelled that held its inputs.
      ['no price', { ...request(scene), maxPrice: '0' }, 'NODE__API_MALFORMED_REQUEST'],
      ['a .gltf with its buffer beside it', request(await creator.putBlob(sidecar)), 'GPU__MALFORMED_SCENE'],
      [
        'a model with an operator the runtime lacks',
        inference([await creator.putBlob(elementwiseModel('Acosh')), twoItems], 2),
        'GPU__UNSUPPORTED_OP',
      ],
      [
        'a batch of two items for a job of four',
        inference([await creator.putBlob(elementwiseModel('Relu')), twoItems]),
        'GPU__INVALID_MODEL_INPUT',
      ],
    ]
    for (const [why, job, code] of cases) {
      await expect(creator.submitJob(job), why).rejects.toMatchObject({ code })
    }
    expect(await creator.listJobs(10)).toEqual([])
    expect(await creator.wallet()).toEqual(before)
    expect((await holdsOf(creator)).filter((key) => !key.endsWith(`/${UPLOAD}`))).toEqual([])
  }, 120_000)

  it("should keep a job's input whose upload hold runs out while the job is being checked", async () => {
    const creator = await start('renewing', { worker: { enabled: false } })
    await creator.airdrop(1_000_000n)
    const scene = await creator.putBlob(await generateScene({ subdivisions: 1 }))
    // Uploaded a day ago: its hold ran out, and the hourly sweep fires just as the job's inputs have been checked.
    await creator.holds.hold(scene, UPLOAD, Date.now() - 1)
    const check = GpuWorkload.prototype.checkInputs
    const spy = vi.spyOn(GpuWorkload.prototype, 'checkInputs').mockImplementation(async function (
      this: GpuWorkload,
      ...args
    ) {
      await check.apply(this, args)
      await creator.holds.sweep()
    })
    try {
      const { jobId } = await creator.submitJob(request(scene))
      expect(await creator.node.blobs.has(scene)).toBe(true)
      expect(await creator.holds.holders(scene)).toContain(`job:${jobId}`)
      await creator.cancelJob(jobId)
    } finally {
      spy.mockRestore()
    }
  }, 60_000)

  it('should take bids for a job while its vault is funded and award no task before, then run and pay it', async () => {
    const { creator, scene } = await pair('funded-first')
    // Funding takes until the job's bid window has closed, its bids in.
    const fund = creator.settlement.fundJob.bind(creator.settlement)
    let closed: () => void = () => {}
    const auctionClosed = new Promise<void>((resolve) => (closed = resolve))
    const granted: string[] = []
    creator.scheduler.on('auction:closed', () => closed())
    creator.scheduler.on('lease:granted', (e) => granted.push(e.jobId))
    let funded = false
    vi.spyOn(creator.settlement, 'fundJob').mockImplementationOnce(async (...args) => {
      await auctionClosed
      // Give a wrongly released job the time to award its task.
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(granted).toEqual([])
      // It waits on its funding, not on bids: no why-no-bid diagnostic.
      expect(await creator.jobStatus(args[0])).not.toHaveProperty('diagnostic')
      await fund(...args)
      funded = true
    })
    const { jobId } = await creator.submitJob(request(scene))
    expect(funded).toBe(true)

    const status = await settledStatus(creator, jobId)
    expect(granted).toEqual([jobId])
    expect(status).toMatchObject({ state: 'completed', settlement: { receipts: 1, anchor: expect.any(String) } })
    expect(Object.keys(status.settlement?.paid ?? {})).toHaveLength(1)
  }, 300_000)

  it("should let go, once a job is paid, of the worker's output and of all a restart would read, and keep the creator's copy and input", async () => {
    const { creator, worker, scene } = await pair('paid')
    const { jobId } = await creator.submitJob(request(scene))
    const status = await settledStatus(creator, jobId)
    // The creator fetched the output before it accepted the task; the worker countersigned once it was paid for.
    await until('the worker to let its output go', async () =>
      (await holdsOf(worker)).length === 0 ? true : undefined,
    )
    // The creator's job holds its input (uploaded, also held a day for that) and the output it accepted.
    const creatorHolds = await holdsOf(creator)
    expect(creatorHolds).toHaveLength(3)
    expect(creatorHolds).toContain(`${scene}/job:${jobId}`)
    expect(creatorHolds).toContain(`${scene}/upload`)
    const output = (creatorHolds.find((key) => !key.startsWith(scene)) as string).split('/')[0] as string
    expect(creatorHolds).toContain(`${output}/job:${jobId}`)
    expect(await creator.node.blobs.has(output)).toBe(true)
    expect(await worker.node.blobs.has(output)).toBe(false)
    // Paid on record: a restart of the creator reads neither the settlement nor its receipt again.
    expect(await creator.receipts.stored()).toEqual({ cosigned: [], pending: [] })
    for await (const [key] of creator.datastore.entries('settlement', { prefix: 'open/' })) expect.fail(key)
    expect(await worker.metrics.text()).toMatch(/^tessera_blobs_deleted_total\{reason="released"\} 1$/m)
    // Its countersigned receipt answers for the task now; what it remembered to check that receipt is gone.
    const keys = async (ns: 'leases' | 'receipts') => {
      const out: string[] = []
      for await (const [key] of worker.datastore.entries(ns)) out.push(key)
      return out
    }
    expect(await keys('leases')).toEqual([])
    expect(await keys('receipts')).toEqual([`${jobId}/f0/t0_0`])
    // Its operator sees what it was receipted for; a node that does not work shows no work.
    const receipt = await worker.datastore.get('receipts', `${jobId}/f0/t0_0`, parseReceipt)
    expect((await worker.status()).work).toEqual({
      running: 0,
      queued: 0,
      slots: 1,
      receipted: 1,
      earned: receipt!.amount.toString(),
    })
    expect((await creator.status()).work).toBeUndefined()

    // Deleted, the job takes its output with it; its input stays for the day its upload is held.
    expect(await creator.deleteJob(jobId)).toEqual({ jobId, blobsDeleted: 1 })
    expect(await creator.node.blobs.has(output)).toBe(false)
    expect(await holdsOf(creator)).toEqual([`${scene}/upload`])
    await expect(creator.jobStatus(jobId)).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
    expect((await creator.listJobs(10)).map((j) => j.jobId)).not.toContain(jobId)
    // The settlement's records stay: they are what was paid.
    expect(await creator.datastore.get('settlement', `job/${jobId}`)).toMatchObject({ settled: true })
    // The ledger journal let go of the epoch's actions (vault, anchor and payouts, refund and close), which every
    // restart would read: one retirement line each stands for them.
    const journal = await readFile(join(dirOf('paid-creator').ledger, JOURNAL_FILE), 'utf8')
    const records = journal
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line.slice(0, line.lastIndexOf('\t'))) as { t: string; key: string })
    const retired = records.filter((r) => r.t === 'retired').map((r) => r.key)
    const epoch = status.settlement!.epoch
    expect(retired).toEqual([
      expect.stringMatching(new RegExp(`^vault/\\w+/epoch-${epoch}/$`)),
      expect.stringMatching(new RegExp(`^settle-\\w+-${epoch}/$`)),
      expect.stringMatching(/^escrow\/\w+\/$/),
    ])
  }, 300_000)

  it('should pay for a result delivered before a cancel once its check passes, and end and delete the job after', async () => {
    const { creator, worker, scene } = await pair('checked')
    let pass: () => void = () => {}
    const checked = new Promise<void>((resolve) => (pass = resolve))
    const verify = vi.spyOn(creator.verification, 'verify').mockImplementation(async () => {
      await checked
      return 'pass'
    })
    const { jobId } = await creator.submitJob(request(scene))
    await until('the result to be checked', () => (verify.mock.calls.length > 0 ? true : undefined))
    expect((await creator.cancelJob(jobId)).state).toBe('cancelled')
    // Its end waits for the check: deleted now, the check ending later would hold the output for a job that is gone.
    await expect(creator.deleteJob(jobId)).rejects.toMatchObject({ code: 'NODE__JOB_NOT_ENDED' })
    pass()
    await until('the record of how it ended', async () =>
      (await creator.jobs.stored(jobId))?.end !== undefined ? true : undefined,
    )
    verify.mockRestore()
    // The worker delivered in time: the cancel does not get the creator out of paying for it.
    const status = await settledStatus(creator, jobId)
    expect(status).toMatchObject({ state: 'cancelled', verified: 1, settlement: { receipts: 1 } })
    // The worker it awarded may fetch the job's blobs; once the job is deleted, nobody is let in for it.
    const audience = async () => {
      const keys: string[] = []
      for await (const [key] of creator.datastore.entries('audience')) keys.push(key)
      return keys
    }
    expect(await audience()).toEqual([`${worker.node.peerId.toString()}/job:${jobId}`])
    expect(await creator.deleteJob(jobId)).toEqual({ jobId, blobsDeleted: 1 })
    expect(await holdsOf(creator)).toEqual([`${scene}/upload`])
    expect(await audience()).toEqual([])
  }, 300_000)

  it("should forget a bid nobody answered once the award grace has passed, not at the order's deadline", async () => {
    const bidder = await start('bidder', {})
    const machine = bidder.scheduler.worker!
    const other = new CreatorMachine({ self: 'other-creator', rng: seededRng(7) })
    const now = Date.now()
    const order = other.job(
      other.submit(jobSpecOf({ ...request('bafkreigh2akiscaildc'), deadlineMs: 3_600_000 }), now),
    )!.order
    machine.handle(
      { kind: 'message', inbound: { from: 'other-creator', message: { type: 'order', body: order }, expiresAt: now } },
      now,
    )
    expect(machine.jobCount).toBe(1)
    machine.handleTimeout(order.bidDeadline + DEFAULT_AWARD_GRACE_MS - 1)
    expect(machine.jobCount).toBe(1)
    machine.handleTimeout(order.bidDeadline + DEFAULT_AWARD_GRACE_MS)
    expect(machine.jobCount).toBe(0)
  }, 60_000)

  it('should log a completed job it fails to close, with its code, and leave no rejection unhandled', async () => {
    const { logger, lines } = capturingLogger()
    const lonely = await start('lonely', { worker: { enabled: false } }, logger)
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      // The job completes at once, and its settlement cannot close (the datastore going away under a stop, say).
      vi.spyOn(lonely.scheduler, 'waitForJob').mockResolvedValueOnce([])
      vi.spyOn(lonely.settlement, 'fundJob').mockResolvedValueOnce(undefined)
      vi.spyOn(lonely.settlement, 'closeJob').mockRejectedValueOnce(
        new NodeError('NODE__DATASTORE_CORRUPT', 'the datastore is closed', {}),
      )
      const { jobId } = await lonely.submitJob(request(await lonely.putBlob(await generateScene({ subdivisions: 1 }))))
      const failure = await until('the failure to be logged', () => lines.find((l) => l.msg === 'job:close-failed'))
      expect(failure).toMatchObject({ jobId, code: 'NODE__DATASTORE_CORRUPT' })
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(unhandled).toEqual([])
      lonely.scheduler.cancel(jobId)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  }, 60_000)

  it('should close what it opened when its start is aborted, so the data directory can start again', async () => {
    const parts = await init('aborted', { worker: { enabled: false } })
    const controller = new AbortController()
    const starting = Peer.start(parts, { signal: controller.signal })
    controller.abort()
    await expect(starting).rejects.toSatisfy((e) => isTesseraError(e, 'CORE__ABORTED'))
    const peer = await start('aborted', { worker: { enabled: false } })
    expect((await peer.status()).peerId).toBe(parts.identity.peerId.toString())
  }, 60_000)
})
