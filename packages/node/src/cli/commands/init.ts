import type { Command } from 'commander'
import { initDataDir, resolveDataDir } from '../../data-dir.js'
import type { CliIo } from '../io.js'

/** `tessera init`: keys, config file and data directory. */
export function registerInit(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('create the data directory: peer identity (0600), config file and API token; keeps what exists')
    .option('--listen <multiaddr...>', 'libp2p listen addresses')
    .option('--bootstrap <multiaddr...>', 'peers to join through')
    .option('--no-worker', 'do not offer this machine as a worker')
    .action(async (opts: { listen?: string[]; bootstrap?: string[]; worker: boolean }) => {
      const dir = resolveDataDir(program.opts<{ dataDir?: string }>().dataDir)
      const result = await initDataDir(dir, {
        ...(opts.listen !== undefined ? { listen: opts.listen } : {}),
        ...(opts.bootstrap !== undefined ? { bootstrap: opts.bootstrap } : {}),
        ...(opts.worker ? {} : { worker: { enabled: false } }),
      })
      io.stdout(
        `${result.created ? 'initialised' : 'already initialised'} ${dir.root}\npeer id: ${result.identity.peerId.toString()}\nconfig: ${dir.config}\n`,
      )
    })
}
