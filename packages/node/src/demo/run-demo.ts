import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { AbortOptions } from '@tessera/core'
import { generateScene, loadScene, renderTileCpu, toRgba8 } from '@tessera/gpu'
import { decode } from 'fast-png'
import type { JobStatus } from '../api/contract.js'
import { openDataDir, resolveDataDir } from '../data-dir.js'
import { NodeError } from '../errors.js'
import { runTessera, spawnPeer, type PeerProcess } from '../local/spawn-peer.js'
import { PNG_EXPOSURE } from '../peer/job-output.js'

/** The demo's job: one frame of the procedural scene, in tiles. */
export const DEMO_IMAGE = { width: 128, height: 128, tile: 32, samples: 16 } as const
/** Price per benchmark-hour every worker asks; each tile is one benchmark-hour, so a tile pays this. */
export const DEMO_PRICE = 100n
export const DEMO_FEE_BPS = 100

export interface DemoOptions extends AbortOptions {
  /** Where data directories, the scene and the image go (emptied first). */
  dir: string
  onLog?: (line: string) => void
}

/** One worker's part in the demo. */
export interface DemoWorker {
  name: string
  peerId: string
  payee: string
  role: 'honest' | 'cheater' | 'killed'
  accepted: number
  /** Tiles taken from it and awarded to another worker. */
  reassignedAway: number
  rejected: number
  paid: bigint
  slashed: boolean
}

export interface DemoSummary {
  image: { path: string; psnrDb: number }
  tiles: number
  tilesReassigned: number
  /** Tiles whose co-signed receipts were settled. */
  tilesPaid: number
  cheatersCaught: number
  cheatersSlashed: number
  paid: Record<string, string>
  feePaid: string
  /** Unspent budget returned to the creator from the job's vault. */
  refunded: string
  anchorTransactions: number
  seconds: number
  workers: DemoWorker[]
  transactions: { anchor: string; payouts: string[]; slashes: string[] }
}

/** How often the demo looks at statuses and logs. */
const POLL_MS = 20

/** How each role misbehaves (`tessera node start --fault`). */
const FAULTS: Partial<Record<DemoWorker['role'], string[]>> = {
  cheater: ['--fault', 'lazy'],
  killed: ['--fault', 'crash-mid-job'],
}

const WORKERS = [
  { name: 'worker-1', role: 'honest' },
  { name: 'worker-2', role: 'killed' },
  { name: 'worker-3', role: 'honest' },
  { name: 'worker-4', role: 'cheater' },
] as const

async function until<T>(
  what: string,
  poll: () => Promise<T | undefined>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    signal?.throwIfAborted()
    const value = await poll()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new NodeError('NODE__JOB_NOT_COMPLETE', `demo: timed out waiting for ${what}`, {})
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/** PSNR in dB between two RGBA8 images over their RGB channels. */
function psnr8(a: Uint8Array, b: Uint8Array): number {
  let sum = 0
  let n = 0
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = (a[i + c] as number) - (b[i + c] as number)
      sum += d * d
      n++
    }
  }
  return sum === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / (sum / n))
}

/**
 * The end-to-end demo: one creator and four workers as separate `tessera node start` processes on loopback. The
 * creator orders a render of the procedural glTF scene in 16 tiles; worker-4 renders lazily (1 sample per pixel)
 * and is caught by sampling and slashed; worker-2 is killed mid-job and its tiles go to others; the frame is
 * assembled into a PNG and compared with the CPU reference path tracer; receipts are anchored and paid on LiteSVM.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = Date.now()
  const log = options.onLog ?? (() => {})
  const dir = resolve(options.dir)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const scenePath = join(dir, 'scene.glb')
  const sceneBytes = await generateScene({ subdivisions: 3 })
  await writeFile(scenePath, sceneBytes)

  const peers: PeerProcess[] = []
  try {
    log('starting the creator and four workers (separate processes, loopback TCP)')
    await Promise.all(
      ['creator', ...WORKERS.map((w) => w.name)].map((name) => runTessera(['--data-dir', join(dir, name), 'init'])),
    )
    // The honest workers arbitrate the creator's accusations (and check some results for it): a node slashes a
    // stake only once an arbiter upholds the fraud proof, never on its own engine's word alone.
    const arbiters = await Promise.all(
      WORKERS.filter((w) => w.role === 'honest').map(async (w) => {
        const { identity } = await openDataDir(resolveDataDir(join(dir, w.name)), options)
        return identity.peerId.toString()
      }),
    )
    const creator = await spawnPeer({
      name: 'creator',
      dataDir: join(dir, 'creator'),
      args: ['--no-worker', '--verifier', ...arbiters],
      ...options,
    })
    peers.push(creator)
    const boot = (await creator.client.status()).addrs.find((a) => !a.includes('/ws'))
    if (boot === undefined) throw new NodeError('NODE__PEER_UNREACHABLE', 'the creator has no TCP address', {})
    // Settle every spawn before failing: a worker that started while another timed out must still be stopped by
    // the cleanup below, or it outlives the demo (seen: two workers left running after one missed its deadline).
    const spawned = await Promise.allSettled(
      WORKERS.map((w) =>
        spawnPeer({
          name: w.name,
          dataDir: join(dir, w.name),
          args: ['--bootstrap', boot, '--price', DEMO_PRICE.toString(), ...(FAULTS[w.role] ?? [])],
          ...options,
        }),
      ),
    )
    const workers = spawned.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    peers.push(...workers)
    const failed = spawned.find((s) => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const statuses = await Promise.all(workers.map((w) => w.client.status()))
    const ids = statuses.map((s) => s.peerId)
    await until(
      "the workers' capacity records",
      async () => ((await creator.client.status()).capacityRecords >= WORKERS.length ? true : undefined),
      60_000,
      options.signal,
    )
    await creator.client.airdrop(1_000_000n)

    log('ordering the render: 128x128, 16 tiles of 32x32, 16 samples per pixel')
    const cid = await creator.client.putBlob(sceneBytes)
    const { jobId } = await creator.client.submitJob({
      kind: 'render',
      inputs: [cid],
      render: {
        frames: 1,
        width: DEMO_IMAGE.width,
        height: DEMO_IMAGE.height,
        tileWidth: DEMO_IMAGE.tile,
        tileHeight: DEMO_IMAGE.tile,
        samples: DEMO_IMAGE.samples,
      },
      maxPrice: (DEMO_PRICE * 2n).toString(),
      minBids: WORKERS.length,
    })

    // worker-2 runs with `--fault crash-mid-job`: once one of its tiles has been receipted, it dies by SIGKILL while
    // it holds an awarded tile it has not delivered. Its lease lapses and that tile goes back to the auction;
    // restarted on its data directory, it must be paid exactly once for the tiles it delivered.
    const victim = workers[1] as PeerProcess
    await until(
      'worker-2 to crash',
      async () => (victim.child.exitCode !== null || victim.child.signalCode !== null ? true : undefined),
      60_000,
      options.signal,
    )
    log(
      'worker-2 was killed mid-job (SIGKILL holding an undelivered tile); its tiles go back to the auction once its lease lapses',
    )
    const victimId = ids[1] as string
    await until(
      "worker-2's lease to lapse and its tiles to be reassigned",
      async () => (((await creator.client.jobStatus(jobId)).reassignedFrom?.[victimId] ?? 0) > 0 ? true : undefined),
      60_000,
      options.signal,
    )
    const restarted = await spawnPeer({
      name: 'worker-2',
      dataDir: join(dir, 'worker-2'),
      args: ['--bootstrap', boot, '--price', DEMO_PRICE.toString()],
      ...options,
    })
    peers.push(restarted)
    log('restarted worker-2 on its data directory: it rejoins and countersigns any receipt still waiting for it')

    let lastStatus: JobStatus | undefined
    const final = await until<JobStatus>(
      'the job to complete and settle',
      async () => {
        const s = await creator.client.jobStatus(jobId)
        if (s.state === 'failed' || s.state === 'cancelled' || s.state === 'expired') {
          throw new NodeError('NODE__JOB_NOT_COMPLETE', `demo: the job ended ${s.state}`, { jobId })
        }
        lastStatus = s
        return s.state === 'completed' && s.settlement?.refunded !== undefined && (s.slashed?.length ?? 0) > 0
          ? s
          : undefined
      },
      150_000,
      options.signal,
    ).catch((e: unknown) => {
      throw new NodeError(
        'NODE__JOB_NOT_COMPLETE',
        `${(e as Error).message}; last status ${JSON.stringify(lastStatus)}`,
        { jobId },
      )
    })

    log('fetching the frame and rendering the CPU reference')
    const output = await creator.client.jobOutput(jobId)
    const png = Buffer.from(output.files[0]?.base64 ?? '', 'base64')
    const imagePath = join(dir, 'frame.png')
    await writeFile(imagePath, png)
    const reference = renderTileCpu({
      scene: await loadScene(sceneBytes),
      frame: 0,
      imageWidth: DEMO_IMAGE.width,
      imageHeight: DEMO_IMAGE.height,
      x: 0,
      y: 0,
      width: DEMO_IMAGE.width,
      height: DEMO_IMAGE.height,
      samples: DEMO_IMAGE.samples,
    })
    await writeFile(
      join(dir, 'reference.png'),
      Buffer.from((await import('@tessera/gpu')).encodePng(reference, { exposure: PNG_EXPOSURE })),
    )
    const psnrDb = psnr8(decode(png).data as Uint8Array, toRgba8(reference, { exposure: PNG_EXPOSURE }))

    const settlement = final.settlement
    const slashedWorkers = new Set((final.slashed ?? []).map((s) => s.worker))
    const summaryWorkers: DemoWorker[] = WORKERS.map((w, i) => {
      const peerId = ids[i] as string
      const stats = final.workers?.[peerId] ?? { accepted: 0, rejected: 0 }
      const slash = (final.slashed ?? []).find((s) => s.worker === peerId)
      const payee = statuses[i]?.payee ?? slash?.payee ?? ''
      return {
        name: w.name,
        peerId,
        payee,
        role: w.role,
        accepted: stats.accepted,
        reassignedAway: final.reassignedFrom?.[peerId] ?? 0,
        rejected: stats.rejected,
        paid: BigInt(settlement?.paid[payee] ?? '0'),
        slashed: slashedWorkers.has(peerId),
      }
    })
    const caught = summaryWorkers.filter((w) => w.role === 'cheater' && w.rejected > 0).length
    return {
      image: { path: imagePath, psnrDb: Number(psnrDb.toFixed(2)) },
      tiles: final.tasks,
      tilesReassigned: final.reassigned,
      tilesPaid: settlement?.receipts ?? 0,
      cheatersCaught: caught,
      cheatersSlashed: summaryWorkers.filter((w) => w.role === 'cheater' && w.slashed).length,
      paid: Object.fromEntries(summaryWorkers.map((w) => [w.name, w.paid.toString()])),
      feePaid: settlement?.fee ?? '0',
      refunded: settlement?.refunded ?? '0',
      anchorTransactions: settlement?.anchor !== undefined ? 1 : 0,
      seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
      workers: summaryWorkers,
      transactions: {
        anchor: settlement?.anchor ?? '',
        payouts: settlement?.payouts ?? [],
        slashes: (final.slashed ?? []).map((s) => s.signature),
      },
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop().catch(() => p.kill())))
    // Each peer's JSON log, for whoever wants to see how it went.
    await Promise.all(peers.map((p) => writeFile(join(dir, `${p.name}.log`), p.output())))
  }
}
