import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { WebIO } from '@gltf-transform/core'
import { BENCHMARK_WORKLOAD, decodeEnvironmentImage, generateScene, writeScene } from '@tessera/gpu'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PeerProcess, runTessera, spawnPeer } from '../src/local/spawn-peer.js'
import { cameraPan } from './fixtures.js'
import { cli, tempDir } from './helpers.js'

/**
 * Every `tessera` command against a real two-peer network (a creator and a worker as `node start` processes). The
 * CLI runs in-process (`cli`) for speed; `node start` runs as the child processes it is.
 */
describe('tessera commands', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let creator: PeerProcess
  let worker: PeerProcess
  let creatorDir: string

  beforeAll(async () => {
    dir = await tempDir('tessera-cli-')
    creatorDir = join(dir.path, 'creator')
    await runTessera(['--data-dir', creatorDir, 'init'])
    await runTessera(['--data-dir', join(dir.path, 'worker'), 'init'])
    creator = await spawnPeer({ name: 'creator', dataDir: creatorDir, args: ['--no-worker'] })
    const boot = (await creator.client.status()).addrs.find((a) => !a.includes('/ws')) as string
    worker = await spawnPeer({ name: 'worker', dataDir: join(dir.path, 'worker'), args: ['--bootstrap', boot] })
    const deadline = Date.now() + 60_000
    while ((await creator.client.status()).capacityRecords < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200))
    writeFileSync(join(dir.path, 'scene.glb'), await generateScene({ subdivisions: 2 }))
  }, 120_000)

  afterAll(async () => {
    await worker?.stop()
    await creator?.stop()
    await dir?.cleanup()
  })

  it('node start should stop gracefully on SIGTERM with exit code 0', async () => {
    const other = join(dir.path, 'other')
    await runTessera(['--data-dir', other, 'init', '--no-worker'])
    const peer = await spawnPeer({ name: 'other', dataDir: other })
    expect((await peer.client.status()).worker).toBe(false)
    expect(await peer.stop()).toBe(0)
    expect(peer.output()).toMatch(/"msg":"peer:stopped"/)
  }, 60_000)

  it('node start should stop and exit with a coded error when its API port is taken', async () => {
    const other = join(dir.path, 'taken')
    await runTessera(['--data-dir', other, 'init', '--no-worker'])
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as AddressInfo
    try {
      // Before, the peer went on running after the error and the command never exited.
      const start = runTessera(
        ['--data-dir', other, 'node', 'start', '--api-port', String(port)],
        {},
        {
          signal: AbortSignal.timeout(45_000),
        },
      )
      await expect(start).rejects.toMatchObject({
        code: 'NODE__COMMAND_FAILED',
        context: { exitCode: 1, stderr: expect.stringMatching(/port is taken.*NODE__API_LISTEN_FAILED/s) },
      })
    } finally {
      taken.close()
    }
  }, 60_000)

  it("node status should show the running node's identity and view of the network", async () => {
    const status = await cli('--data-dir', creatorDir, 'node', 'status')
    expect(status.code).toBe(0)
    const peerId = (await creator.client.status()).peerId
    expect(status.stdout).toMatch(new RegExp(`^peer: ${peerId}$`, 'm'))
    expect(status.stdout).toMatch(/^address: \/ip4\/127\.0\.0\.1\/tcp\/\d+/m)
    expect(status.stdout).toMatch(/^capacity records: [1-9]\d*$/m)
    expect(status.stdout).toMatch(/^worker: off$/m)
    const json = JSON.parse((await cli('--data-dir', creatorDir, 'node', 'status', '--json')).stdout)
    expect(json).toMatchObject({ peerId, worker: false })
    // A worker also shows its tasks and what it was receipted for.
    const working = await cli('--data-dir', join(dir.path, 'worker'), 'node', 'status')
    expect(working.stdout).toMatch(/^worker: on$/m)
    expect(working.stdout).toMatch(/^tasks: \d+ running, \d+ queued, 1 slots$/m)
    expect(working.stdout).toMatch(/^receipted: \d+ tasks, \d+ token units before fees$/m)
  })

  it('wallet and wallet airdrop should show the ledger balance', async () => {
    const airdrop = await cli('--data-dir', creatorDir, 'wallet', 'airdrop', '500000')
    expect(airdrop.code).toBe(0)
    expect(airdrop.stdout).toMatch(/tokens: \d+/)
    const wallet = await cli('--data-dir', creatorDir, 'wallet')
    expect(Number(/tokens: (\d+)/.exec(wallet.stdout)?.[1])).toBeGreaterThanOrEqual(500_000)
  }, 60_000)

  it('job submit, status and fetch should render a scene to PNG', async () => {
    const submit = await cli(
      '--data-dir',
      creatorDir,
      'job',
      'submit',
      join(dir.path, 'scene.glb'),
      '--width',
      '32',
      '--height',
      '32',
      '--tile',
      '16',
      '--samples',
      '2',
    )
    expect(submit.stderr).toBe('')
    expect(submit.code).toBe(0)
    const jobId = /job (\w+)/.exec(submit.stdout)?.[1] as string
    expect(submit.stdout).toMatch(/completed: 4\/4 verified/)
    const status = await cli('--data-dir', creatorDir, 'job', 'status', jobId, '--json')
    expect(JSON.parse(status.stdout)).toMatchObject({ jobId, state: 'completed', tasks: 4, verified: 4, slashed: [] })
    // For people: who did the work and how it settled, under the headline.
    const workerId = (await worker.client.status()).peerId
    const deadline = Date.now() + 30_000
    while ((await creator.client.jobStatus(jobId)).settlement?.anchor === undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200))
    const report = await cli('--data-dir', creatorDir, 'job', 'status', jobId)
    // The verification plans it was checked by, then who did the work.
    expect(report.stdout).toMatch(
      new RegExp(
        `^${jobId} completed: 4/4 verified, 4 done, 0 re-auctions\n` +
          'verification: a cheater wrong on 10% of its tasks is caught with 99\\.9%\n' +
          '( {2}tasks of \\d+ rows: .*\n)+' +
          `workers:\n {2}${workerId}: 4 leased, 4 accepted, 0 rejected\n`,
      ),
    )
    expect(report.stdout).toMatch(/^settlement: epoch \d+, 4\/4 receipts, anchored in \w+$/m)
    expect(report.stdout).toMatch(/^ {2}paid \w+: \d+$/m)
    const out = join(dir.path, 'out')
    const fetched = await cli('--data-dir', creatorDir, 'job', 'fetch', jobId, '--out', out)
    expect(fetched.code).toBe(0)
    const png = readFileSync(join(out, 'frame-0000.png'))
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    // Beside it the frame's linear radiance, as OpenEXR.
    const exr = decodeEnvironmentImage(readFileSync(join(out, 'frame-0000.exr')))
    expect(exr.radiance.some((v) => v > 0)).toBe(true)
    // Tone-mapped otherwise on request: another PNG, the same EXR.
    const graded = join(dir.path, 'graded')
    const regraded = await cli(
      ...['--data-dir', creatorDir, 'job', 'fetch', jobId, '--out', graded, '--exposure', '8', '--tone-curve', 'aces'],
    )
    expect(regraded.code).toBe(0)
    expect(readFileSync(join(graded, 'frame-0000.png')).equals(png)).toBe(false)
    expect(readFileSync(join(graded, 'frame-0000.exr')).equals(readFileSync(join(out, 'frame-0000.exr')))).toBe(true)
    const refused = await cli('--data-dir', creatorDir, 'job', 'fetch', jobId, '--out', graded, '--tone-curve', 'sepia')
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/sepia/)
  }, 120_000)

  it('job submit should send a .gltf with the buffer beside it as one scene its worker renders', async () => {
    // Exported "separate": the mesh data is in separate.bin, which the worker never sees as a file.
    const scene = join(dir.path, 'separate.gltf')
    await writeScene(scene, { subdivisions: 1 })
    const submit = await cli(
      ...['--data-dir', creatorDir, 'job', 'submit', scene],
      ...['--width', '16', '--height', '16', '--tile', '16', '--samples', '1'],
    )
    expect(submit.stderr).toBe('')
    expect(submit.code).toBe(0)
    expect(submit.stdout).toMatch(/completed: 1\/1 verified/)
  }, 120_000)

  it("job submit should play a scene's animations, each frame as render shows it at that time", async () => {
    // The camera slides sideways over the first second.
    const doc = cameraPan()
    const scene = join(dir.path, 'animated.glb')
    writeFileSync(scene, await new WebIO().writeBinary(doc))
    const size = ['--width', '16', '--height', '16', '--samples', '1']
    const submit = await cli(
      ...['--data-dir', creatorDir, 'job', 'submit', scene, ...size, '--tile', '16', '--frames', '2', '--fps', '1'],
    )
    expect(submit.stderr).toBe('')
    expect(submit.stdout).toMatch(/completed: 2\/2 verified/)
    const jobId = /job (\w+)/.exec(submit.stdout)?.[1] as string
    const out = join(dir.path, 'animated-frames')
    expect((await cli('--data-dir', creatorDir, 'job', 'fetch', jobId, '--out', out)).code).toBe(0)
    const preview = async (...flags: string[]) => {
      const file = join(dir.path, `preview-${flags.join('')}.png`)
      expect(
        (await cli('render', scene, ...size, '--exposure', '2', '--frame', '1', '--out', file, ...flags)).code,
      ).toBe(0)
      return readFileSync(file)
    }
    // Frame 1 is the scene one second in, as a local preview of it shows, bit for bit on this driver; not the scene
    // as stored.
    const second = readFileSync(join(out, 'frame-0001.png'))
    expect(second.equals(await preview('--fps', '1'))).toBe(true)
    expect(second.equals(await preview())).toBe(false)
    // Without --fps an animated scene plays at 24, said on stderr: stdout's first line stays the job id.
    const plain = await cli('--data-dir', creatorDir, 'job', 'submit', scene, ...size, '--tile', '16', '--no-wait')
    expect(plain.stderr).toBe('the scene is animated: playing it at 24 fps\n')
    expect(plain.stdout).toMatch(/^job \w+\n/)
    // An animation the scene does not have is refused before anything is ordered, naming those it has.
    const missing = await cli(...['--data-dir', creatorDir, 'job', 'submit', scene, ...size, '--animation', 'walk'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no animation named "walk" \(it has "pan"\).*GPU__INVALID_INPUT/)
    // A frame rate that would put a frame's time past any float is refused before anything is ordered.
    const slow = await cli('--data-dir', creatorDir, 'job', 'submit', scene, ...size, '--fps', '1e-310')
    expect(slow.code).toBe(2)
  }, 180_000)

  it('job status should say why an order nobody can serve has no bids', async () => {
    // The worker asks 100 per benchmark-hour; an order at most 1 gets no bid.
    const submit = await cli(
      ...['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb')],
      ...['--width', '16', '--height', '16', '--tile', '16', '--samples', '1', '--max-price', '1', '--no-wait'],
    )
    expect(submit.code).toBe(0)
    const jobId = /job (\w+)/.exec(submit.stdout)?.[1] as string
    const status = JSON.parse((await cli('--data-dir', creatorDir, 'job', 'status', jobId, '--json')).stdout)
    expect(status).toMatchObject({ state: 'bidding', diagnostic: { seen: 1, eligible: 0, bids: 0, price: 1 } })
    const report = await cli('--data-dir', creatorDir, 'job', 'status', jobId)
    expect(report.stdout).toMatch(/^bids: 0 of \d+ needed; 0 of 1 capacity records eligible; excluded by price 1$/m)
    // The daemon's log says the same when the window closes unmatched.
    const deadline = Date.now() + 30_000
    const logged = new RegExp(`"jobId":"${jobId}".*"eligible":0.*"price":1.*"msg":"order:unmatched"`)
    while (!logged.test(creator.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect(creator.output()).toMatch(logged)
  }, 60_000)

  it('job cancel should end a job nobody bid on and refund its budget, and job list show it first', async () => {
    const submit = await cli(
      ...['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb')],
      ...['--width', '16', '--height', '16', '--tile', '16', '--samples', '1', '--max-price', '1', '--no-wait'],
    )
    const jobId = /job (\w+)/.exec(submit.stdout)?.[1] as string
    const early = await cli('--data-dir', creatorDir, 'job', 'delete', jobId)
    expect(early.code).not.toBe(0)
    expect(early.stderr).toMatch(/NODE__JOB_NOT_ENDED/)
    const cancelled = await cli('--data-dir', creatorDir, 'job', 'cancel', jobId)
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toMatch(new RegExp(`^${jobId} cancelled: 0/1 verified`))
    // Settled over no accepted task: the whole budget goes back.
    const deadline = Date.now() + 60_000
    let status = JSON.parse((await cli('--data-dir', creatorDir, 'job', 'status', jobId, '--json')).stdout)
    while (status.settlement?.refunded === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      status = JSON.parse((await cli('--data-dir', creatorDir, 'job', 'status', jobId, '--json')).stdout)
    }
    expect(status).toMatchObject({ state: 'cancelled', settlement: { receipts: 0, refunded: expect.any(String) } })
    expect(BigInt(status.settlement.refunded)).toBeGreaterThan(0n)
    // Cancelling again changes nothing.
    expect((await cli('--data-dir', creatorDir, 'job', 'cancel', jobId)).stdout).toMatch(/ cancelled: /)

    const listed = JSON.parse((await cli('--data-dir', creatorDir, 'job', 'list', '--json')).stdout)
    expect(listed[0]).toMatchObject({ jobId, state: 'cancelled', tasks: 1, verified: 0 })
    expect(listed.map((j: { orderedAt: number }) => j.orderedAt)).toEqual(
      [...listed.map((j: { orderedAt: number }) => j.orderedAt)].sort((a, b) => b - a),
    )
    const table = (await cli('--data-dir', creatorDir, 'job', 'list', '--limit', '1')).stdout.split('\n')
    expect(table[0]).toMatch(/^JOB +STATE +VERIFIED +ORDERED$/)
    expect(table[1]).toMatch(new RegExp(`^${jobId} +cancelled +0/1 +\\d{4}-\\d\\d-\\d\\dT`))
    expect(table).toHaveLength(3)
    const tooMany = await cli('--data-dir', creatorDir, 'job', 'list', '--limit', '10001')
    expect(tooMany.code).not.toBe(0)
    expect((await cli('--data-dir', creatorDir, 'job', 'cancel', 'no-such-job')).stderr).toMatch(
      /NODE__JOB_NOT_FOUND|no job/,
    )
    // Ended and settled, it can go; its scene stays, held by the other jobs that render it.
    const deleted = await cli('--data-dir', creatorDir, 'job', 'delete', jobId)
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted job ${jobId} and 0 blobs\n` })
    expect(JSON.parse((await cli('--data-dir', creatorDir, 'job', 'list', '--json')).stdout)[0]?.jobId).not.toBe(jobId)
  }, 120_000)

  it('/metrics should serve Prometheus text with libp2p and job metrics', async () => {
    const { host, port } = JSON.parse(readFileSync(join(creatorDir, 'api.json'), 'utf8'))
    const text = await (await fetch(`http://${host}:${port}/metrics`)).text()
    expect(text).toMatch(/^# TYPE libp2p_/m)
    expect(text).toMatch(/^tessera_jobs_submitted_total \d+/m)
    expect(text).toMatch(/^tessera_capacity_records/m)
  })

  it('bench should print a capacity score', async () => {
    const res = await cli('bench', '--runs', '1', '--json')
    expect(res.code).toBe(0)
    const out = JSON.parse(res.stdout) as Record<string, unknown>
    expect(out.score).toBeGreaterThan(0)
    expect(out).toMatchObject({ runs: 1, workloadVersion: BENCHMARK_WORKLOAD.version })
    expect(BENCHMARK_WORKLOAD.tileSides).toContain(out.tileSide)
    expect(BENCHMARK_WORKLOAD.matmulSizes).toContain(out.matmulN)
  }, 120_000)

  it('sim run should write metrics and charts', async () => {
    const out = join(dir.path, 'sim')
    const res = await cli(
      'sim',
      'run',
      join(import.meta.dirname, '../../../examples/scenarios/baseline.yaml'),
      '--seed',
      '3',
      '--out',
      out,
      '--quiet',
    )
    expect(res.code).toBe(0)
    expect(existsSync(join(out, 'metrics.json'))).toBe(true)
  }, 120_000)

  it('should refuse bad input with a clear message, a non-zero exit and no stack trace', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'missing.glb')], 1, /cannot read .*missing\.glb/],
      [
        ['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'api.json')],
        1,
        /expected a \.glb or \.gltf scene or an \.onnx model/,
      ],
      [
        ['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb'), '--samples', 'lots'],
        2,
        /expected a positive integer/,
      ],
      [
        // A panorama no worker could read is refused before anything is ordered.
        [
          '--data-dir',
          creatorDir,
          'job',
          'submit',
          join(dir.path, 'scene.glb'),
          '--environment',
          join(dir.path, 'scene.glb'),
        ],
        1,
        /GPU__MALFORMED_ENVIRONMENT/,
      ],
      [
        ['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb'), '--environment-rotation', 'left'],
        2,
        /expected a number/,
      ],
      [['--data-dir', creatorDir, 'job', 'status', 'nope'], 1, /no job nope/],
      [['--data-dir', join(dir.path, 'nobody'), 'job', 'status', 'x'], 1, /no running node found/],
      [['--data-dir', join(dir.path, 'nobody'), 'node', 'start'], 1, /run `tessera init/],
      [['--data-dir', creatorDir, 'node', 'start', '--price', 'free'], 2, /expected a whole number/],
      [
        ['--data-dir', creatorDir, 'node', 'start', '--verifier', '12D3KooWtypo'],
        2,
        /verification\.verifiers\.0: not a peer id/,
      ],
      [['--data-dir', creatorDir, 'wallet', 'airdrop', 'lots'], 2, /expected a whole number/],
      [['--data-dir', creatorDir, 'wallet', 'airdrop', '0'], 2, /expected at least 1 token unit/],
      [['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb'), '--tier', '4'], 2, /--tier.*1, 2, 3/],
      [
        ['--data-dir', creatorDir, 'job', 'submit', join(dir.path, 'scene.glb'), '--deadline', '99999999'],
        2,
        /expected at most 2592000 seconds/,
      ],
      [['sim', 'run', join(dir.path, 'missing.yaml')], 1, /SIM__SCENARIO_NOT_FOUND/],
    ]
    for (const [argv, code, message] of cases) {
      const res = await cli(...argv)
      expect({ argv, code: res.code }).toEqual({ argv, code })
      expect(res.stderr).toMatch(message)
      expect(res.stderr).not.toMatch(/\n\s+at .*\(/)
    }
  }, 60_000)
})
