import { spawn } from 'node:child_process'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { bytesToFloat32, compareOutputs, loadOnnxModel, runModelCpu, TOLERANCE } from '@tessera/gpu'
import { decodeTensorBundle } from '@tessera/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Every example in examples/ runs as its users would run it (a child process of the project's Node 22, sources
 * through tsx), small, and its output is checked: exit code 0 and the lines that say it did its job. The examples
 * that start peers run real `tessera node start` processes, so these tests take tens of seconds each.
 */
const root = resolve(import.meta.dirname, '..')
const node = join(root, 'node_modules', '.bin', 'node')
const EXAMPLE_TIMEOUT_MS = 170_000

interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs `examples/<name>.ts` with `args`, resolving with its exit code and output (never rejecting on exit code).
 * The example runs in its own process group, so a timeout also ends the peer processes it started.
 */
function runExample(name: string, args: string[] = []): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(
      node,
      ['--conditions=tessera-src', '--import', 'tsx', join('examples', `${name}.ts`), ...args],
      {
        cwd: root,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${EXAMPLE_TIMEOUT_MS} ms)`
      process.kill(-child.pid!, 'SIGKILL')
    }, EXAMPLE_TIMEOUT_MS)
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code: code ?? 1, stdout, stderr })
    })
  })
}

/** Fails with the example's own output, so a broken example says why. */
function expectSuccess(run: Run): void {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-4000)}`).toBe(0)
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

let scratch: string
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tessera-examples-'))
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

describe('examples', () => {
  it(
    'should embed a node: capacity seen, a bid received and a blob fetched through the DHT',
    { timeout: 180_000 },
    async () => {
      const run = await runExample('embed-node')
      expectSuccess(run)
      expect(run.stdout).toMatch(/capacity: the peer sees \w+ offering render\/wgsl at 100 per benchmark-hour/)
      expect(run.stdout).toMatch(/bus: the peer received a bid for job-1 at 100 from \w+ on \/tessera\/1\/bids/)
      expect(run.stdout).toMatch(/blob: put bafkrei\w+ \(47 bytes\) on the app node; the peer fetched and verified it/)
      expect(run.stdout).toContain('stopped both nodes')
    },
  )

  it(
    'should run a headless node, read its status and metrics, and stop it with SIGTERM',
    { timeout: 180_000 },
    async () => {
      const dir = join(scratch, 'operator')
      const run = await runExample('headless-operator', ['--dir', dir])
      expectSuccess(run)
      const peerId = /^peer id: (12D3KooW\w+)$/m.exec(run.stdout)?.[1]
      expect(peerId).toBeDefined()
      const payee = new RegExp(`status: peer id ${peerId}, \\d+ peers, worker true, paid at (\\w+)`).exec(
        run.stdout,
      )?.[1]
      expect(payee).toBeDefined()
      // `tessera wallet`, a second CLI process, found the running node through api.json and shows the same wallet.
      expect(run.stdout).toContain(`$ tessera wallet\naddress: ${payee}\n`)
      const metrics = /metrics: (\d+) samples, (\d+) from libp2p, (\d+) from Tessera/.exec(run.stdout)
      expect(Number(metrics?.[2])).toBeGreaterThan(0)
      expect(Number(metrics?.[3])).toBeGreaterThan(0)
      expect(run.stdout).toMatch(/^ {2}tessera_jobs_submitted_total 0$/m)
      expect(run.stdout).toContain('node stopped on SIGTERM with exit code 0')
      // `init` left a data directory behind; the graceful stop removed the running node's API address.
      expect(await exists(join(dir, 'config.json'))).toBe(true)
      expect(await exists(join(dir, 'api.json'))).toBe(false)
    },
  )

  it('should render a frame across two workers, write a PNG and pay the workers', { timeout: 180_000 }, async () => {
    const out = join(scratch, 'render-out')
    const run = await runExample('render-job', [
      '--width',
      '64',
      '--height',
      '64',
      '--tile',
      '32',
      '--samples',
      '4',
      '--out',
      out,
      '--dir',
      join(scratch, 'render'),
    ])
    expectSuccess(run)
    const png = await readFile(join(out, 'frame-0000.png'))
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    // IHDR: width and height, big-endian, right after the chunk's length and type.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([64, 64])
    expect(run.stdout).toContain(`wrote ${join(out, 'frame-0000.png')} (image/png)`)
    expect(run.stdout).toMatch(/settlement: 4\/4 receipts co-signed, anchored in \w+/)
    const paid = /paid (\d+) token units to workers and (\d+) in fees for 4 tiles at 100 each/.exec(run.stdout)
    expect(paid).not.toBeNull()
    // Every tile pays its price once: what the workers got plus the fee is price x tiles.
    expect(Number(paid?.[1]) + Number(paid?.[2])).toBe(400)
  })

  it('should run an ONNX model across two workers and match the CPU reference', { timeout: 180_000 }, async () => {
    const out = join(scratch, 'inference-out')
    const run = await runExample('inference-job', [
      '--items',
      '8',
      '--items-per-task',
      '2',
      '--out',
      out,
      '--dir',
      join(scratch, 'inference'),
    ])
    expectSuccess(run)
    expect(run.stdout).toMatch(/cpu reference: match/)
    // Check the fetched output independently: the saved model and inputs, run here on the CPU reference kernels.
    const model = loadOnnxModel(await readFile(join(out, 'model.onnx')))
    const inputs = decodeTensorBundle(await readFile(join(out, 'inputs.cbor')))
    const reference = (await runModelCpu(model, inputs)).y
    const output = bytesToFloat32(await readFile(join(out, 'output.f32')))
    expect(reference?.shape).toEqual([8, 4])
    expect(output.length).toBe(32)
    const comparison = compareOutputs(TOLERANCE.inference, output, reference!.data)
    expect(comparison.value).toBeLessThanOrEqual(1e-4)
    expect(run.stdout).toMatch(/worker-1: \d+ tasks accepted/)
  })

  it('should start a local network, print its peers and stop them all', { timeout: 180_000 }, async () => {
    const dir = join(scratch, 'network')
    const run = await runExample('local-network', ['--peers', '2', '--once', '--dir', dir])
    expectSuccess(run)
    const ids = [...run.stdout.matchAll(/^peer-\d {2}peer id (12D3KooW\w+)$/gm)].map((m) => m[1])
    expect(ids).toHaveLength(2)
    expect(new Set(ids).size).toBe(2)
    expect([...run.stdout.matchAll(/api {5}http:\/\/127\.0\.0\.1:\d+/g)]).toHaveLength(2)
    expect(run.stdout).toContain('network ready: 2 peers; peer-1 is connected to 1 and sees 1 capacity records')
    expect(run.stdout).toContain('stopped 2 peers')
    for (const peer of ['peer-1', 'peer-2']) expect(await exists(join(dir, peer, 'api.json'))).toBe(false)
  })

  it(
    'should refuse a bad flag with a usage message and exit code 2, starting nothing',
    { timeout: 60_000 },
    async () => {
      const run = await runExample('local-network', ['--peers', '0', '--once'])
      expect(run.code).toBe(2)
      expect(run.stderr).toContain('--peers must be a whole number from 1 to 16')
      expect(run.stdout).toBe('')
    },
  )

  it('should simulate a scenario and print its headline metrics', { timeout: 180_000 }, async () => {
    const out = join(scratch, 'sim')
    const run = await runExample('simulate', ['--seed', '3', '--out', out])
    expectSuccess(run)
    expect(run.stdout).toMatch(/^scenario cheaters, seed 3: [\d,]+ events over 6 virtual hours/m)
    const jobs = /jobs: (\d+)\/(\d+) completed/.exec(run.stdout)
    expect(Number(jobs?.[2])).toBe(400)
    expect(Number(jobs?.[1])).toBeGreaterThan(0)
    const caught = /verification: \d+ checks, \d+ bad tasks, (\d+) caught/.exec(run.stdout)
    expect(Number(caught?.[1])).toBeGreaterThan(0)
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { seed: number; scenario: string }
    expect(metrics).toMatchObject({ seed: 3, scenario: 'cheaters' })
  })
})
