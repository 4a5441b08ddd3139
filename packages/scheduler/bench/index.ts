import { writeFileSync } from 'node:fs'
import { runMachineBench } from './machine.js'

/**
 * `npm run bench -w @tessera/scheduler`: the creator machine's decision rate in memory. Prints a table and writes
 * bench/results.json.
 */
const machine = runMachineBench()
console.table({ machine })
const results = { machine }
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
