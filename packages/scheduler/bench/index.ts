import { writeFileSync } from 'node:fs'
import { runAwardBench } from './award.js'
import { runMachineBench } from './machine.js'
import { runMemoryBench } from './memory.js'

/**
 * `npm run bench -w @tessera/scheduler`: award latency over 20 real libp2p peers on loopback (targets: p50 at most
 * 250 ms, p99 at most 1 s), the creator machine's decision rate in memory, and the machines' heap cost. Prints
 * tables and writes bench/results.json.
 */
const award = await runAwardBench(20, 50)
const machine = runMachineBench()
const memory = runMemoryBench()
console.table({
  award: {
    peers: award.peers,
    orders: award.orders,
    p50Ms: award.p50Ms,
    p99Ms: award.p99Ms,
    meanMs: award.meanMs,
    maxMs: award.maxMs,
  },
  machine: {
    capacityRecords: machine.capacityRecords,
    orders: machine.orders,
    decisions: machine.decisions,
    decisionsPerSec: machine.decisionsPerSec,
  },
})
console.table({ memory })
const results = {
  award: { ...award, targets: { p50Ms: 250, p99Ms: 1_000 } },
  machine,
  memory,
}
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
process.exit(0)
