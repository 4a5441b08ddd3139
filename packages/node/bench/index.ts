/**
 * Idle cost of a running peer (issue 7, acceptance 4): a `tessera node start` worker with its WebGPU device open,
 * measured from /proc over one minute after it settles. Prints a table and writes bench/results.json.
 *
 *   npm run bench -w @tessera/node
 */
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runTessera, spawnPeer } from '../src/local/spawn-peer.js'
import { tempDir } from '../test/helpers.js'

const SETTLE_MS = 15_000
const MEASURE_MS = 60_000
const CLOCK_TICKS = 100 // USER_HZ on Linux

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return Number(fields[11]) + Number(fields[12]) // utime + stime
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1]) / 1024
}

const dir = await tempDir('tessera-idle-')
try {
  await runTessera(['--data-dir', join(dir.path, 'peer'), 'init'])
  // The first start measures the capacity score; a node restarts with it cached, as it runs from then on.
  await (await spawnPeer({ name: 'first', dataDir: join(dir.path, 'peer') })).stop()
  const peer = await spawnPeer({ name: 'idle', dataDir: join(dir.path, 'peer') })
  const pid = peer.child.pid as number
  await new Promise((r) => setTimeout(r, SETTLE_MS))
  const ticks0 = cpuTicks(pid)
  const samples: number[] = []
  const started = Date.now()
  while (Date.now() - started < MEASURE_MS) {
    samples.push(rssMb(pid))
    await new Promise((r) => setTimeout(r, 1_000))
  }
  const seconds = (Date.now() - started) / 1000
  const cpuPercent = ((cpuTicks(pid) - ticks0) / CLOCK_TICKS / seconds) * 100
  await peer.stop()
  const results = {
    idle: {
      seconds: Number(seconds.toFixed(1)),
      rssMbMax: Number(Math.max(...samples).toFixed(1)),
      rssMbMean: Number((samples.reduce((a, b) => a + b, 0) / samples.length).toFixed(1)),
      cpuPercent: Number(cpuPercent.toFixed(2)),
      webgpuDevice: true,
      targets: { rssMb: 200, cpuPercent: 2 },
    },
  }
  console.table({
    'idle RSS, max (MB)': { value: results.idle.rssMbMax, target: '≤ 200' },
    'idle RSS, mean (MB)': { value: results.idle.rssMbMean, target: '' },
    'idle CPU (% of one core)': { value: results.idle.cpuPercent, target: '≤ 2' },
    'measured over (s)': { value: results.idle.seconds, target: '60' },
  })
  await writeFile(join(import.meta.dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
} finally {
  await dir.cleanup()
}
