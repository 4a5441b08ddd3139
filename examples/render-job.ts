/**
 * Render a glTF scene across a small local network and pay the workers who rendered it.
 *
 * One creator and two workers run as separate `tessera node start` processes on loopback. The creator funds its
 * wallet (a local airdrop on its embedded LiteSVM ledger), stores the procedural scene from `@tessera/gpu` as a
 * content-addressed blob, and orders one frame split into tiles. The workers bid, render their tiles on the
 * WebGPU engine (Mesa lavapipe where there is no GPU), commit to each tile's rows with a Merkle root; the creator
 * checks a sample of tiles by recomputing challenged rows, assembles the PNG, and settles: receipts co-signed by
 * both sides, anchored in one memo transaction, paid per accepted tile less the protocol fee.
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node --conditions=tessera-src --import tsx examples/render-job.ts \
 *     [--width 64] [--height 64] [--tile 32] [--samples 8] [--out <dir>]
 *
 *   --width, --height   image size in pixels (default 64 x 64)
 *   --tile              tile side in pixels; each tile is one task (default 32: four tiles; at most 2896, whose
 *                       2^23 pixels of output every worker's device holds: core's MAX_TILE_PIXELS)
 *   --samples           samples per pixel (default 8)
 *   --out DIR           where frame-0000.png goes (default: a new temporary directory)
 *   --dir DIR           parent of the peers' data directories, kept afterwards (default: temporary, removed)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { JobStatus } from '@tessera/node'
import { MAX_TILE_PIXELS } from '@tessera/core'
import { generateScene } from '@tessera/gpu'
import { startMarket } from './lib/local-network.js'
import { followJob } from './lib/follow-job.js'
import { wholeNumberFlag } from './lib/flags.js'

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '64' },
    height: { type: 'string', default: '64' },
    tile: { type: 'string', default: '32' },
    samples: { type: 'string', default: '8' },
    out: { type: 'string' },
    dir: { type: 'string' },
  },
})
const width = wholeNumberFlag('width', values.width, 1, 4096)
const height = wholeNumberFlag('height', values.height, 1, 4096)
// The node refuses a job whose tiles are larger (SCHEDULER__TILE_SIZE_EXCEEDED), so that every worker can take it.
const tile = wholeNumberFlag('tile', values.tile, 1, Math.floor(Math.sqrt(MAX_TILE_PIXELS)))
const samples = wholeNumberFlag('samples', values.samples, 1, 4096)
/** Every worker asks this per benchmark-hour; a tile is estimated at one benchmark-hour, so a tile pays this. */
const PRICE = 100n
const WORKERS = ['worker-1', 'worker-2']

const dir = values.dir !== undefined ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'tessera-render-'))
const out = values.out !== undefined ? resolve(values.out) : await mkdtemp(join(tmpdir(), 'tessera-render-out-'))

console.log(`starting a creator and ${WORKERS.length} workers (separate processes, loopback TCP) in ${dir}`)
const { network, creator, workers, workerStatus } = await startMarket({ dir, workers: WORKERS, price: PRICE })
try {
  // Tokens to pay with: the creator's job budget goes into an escrow vault before anything is awarded.
  const wallet = await creator.client.airdrop(1_000_000n)
  console.log(`creator wallet ${wallet.address}: ${wallet.tokens} tokens`)

  // The scene travels as a blob: the creator keeps it, awarded workers fetch it by CID and check its hash.
  const scene = await generateScene({ subdivisions: 3 })
  const sceneCid = await creator.client.putBlob(scene)
  console.log(`scene: ${scene.byteLength} bytes of glTF (GLB), ${sceneCid}`)

  const { jobId } = await creator.client.submitJob({
    kind: 'render',
    inputs: [sceneCid],
    render: { frames: 1, width, height, tileWidth: tile, tileHeight: tile, samples },
    maxPrice: (PRICE * 2n).toString(),
    // Close the bid window once both workers have bid, instead of waiting it out.
    minBids: WORKERS.length,
  })
  console.log(`ordered job ${jobId}: ${width}x${height}, tiles of ${tile}x${tile}, ${samples} samples per pixel`)

  const final: JobStatus = await followJob(creator.client, jobId, (line) => console.log(line))

  // The creator assembles the accepted tiles into frames: tone-mapped 8-bit PNGs, and the linear radiance as OpenEXR.
  const output = await creator.client.jobOutput(jobId)
  await mkdir(out, { recursive: true })
  for (const file of output.files) {
    const path = join(out, file.name)
    await writeFile(path, Buffer.from(file.base64, 'base64'))
    console.log(`wrote ${path} (${file.contentType})`)
  }

  // Who rendered what and what it was paid: status.workers is keyed by peer id, settlement.paid by payee address.
  const settlement = final.settlement
  console.table(
    workers.map((w, i) => {
      const { peerId, payee } = workerStatus[i]!
      const stats = final.workers?.[peerId] ?? { accepted: 0, rejected: 0 }
      return {
        worker: w.name,
        peer: `…${peerId.slice(-8)}`,
        'tiles leased': final.leases?.[peerId] ?? 0,
        'tiles accepted': stats.accepted,
        'tiles rejected': stats.rejected,
        'paid (token units)': settlement?.paid[payee] ?? '0',
      }
    }),
  )
  const paid = workerStatus.reduce((sum, s) => sum + BigInt(settlement?.paid[s.payee] ?? '0'), 0n)
  console.log(
    `settlement: ${settlement?.receipts ?? 0}/${settlement?.expected ?? 0} receipts co-signed, anchored in ${settlement?.anchor ?? 'none'}, ${settlement?.payouts.length ?? 0} payout transaction(s)`,
  )
  console.log(
    `paid ${paid} token units to workers and ${settlement?.fee ?? '0'} in fees for ${final.verified} tiles at ${PRICE} each`,
  )
} finally {
  await network.stop()
  if (values.dir === undefined) await rm(dir, { recursive: true, force: true })
}
