import type { AbortOptions } from '@tessera/core'
import type { Command } from 'commander'
import { ApiClient } from '../../api/client.js'
import type { NodeStatus } from '../../api/contract.js'
import { dataDirOf } from '../data-dir-flag.js'
import type { CliIo } from '../io.js'

/** A node's status as people read it: one `key: value` line each, addresses one per line. */
function show(status: NodeStatus): string {
  return [
    `peer: ${status.peerId}`,
    ...status.addrs.map((addr) => `address: ${addr}`),
    `peers: ${status.peers}`,
    `capacity records: ${status.capacityRecords}`,
    `worker: ${status.worker ? 'on' : 'off'}`,
    `payee: ${status.payee}`,
    ...(status.work === undefined
      ? []
      : [
          `tasks: ${status.work.running} running, ${status.work.queued} queued, ${status.work.slots} slots`,
          `receipted: ${status.work.receipted} tasks, ${status.work.earned} token units before fees`,
        ]),
  ]
    .map((line) => `${line}\n`)
    .join('')
}

/** `tessera node status`: the running node's identity, addresses and view of the network. */
export function registerNodeStatus(node: Command, program: Command, io: CliIo, options: AbortOptions = {}): void {
  node
    .command('status')
    .description(
      "the running node's peer id, addresses, connected peers, capacity records and payee; a worker's tasks and receipts",
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const client = await ApiClient.forDataDir(dataDirOf(program), options)
      const status = await client.status(options)
      io.stdout(flags.json === true ? `${JSON.stringify(status)}\n` : show(status))
    })
}
