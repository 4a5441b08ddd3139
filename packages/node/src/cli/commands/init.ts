import type { AbortOptions } from '@tessera/core'
import type { Command } from 'commander'
import { type NodeConfig, parseConfig } from '../../config.js'
import { initDataDir } from '../../data-dir.js'
import { dataDirOf } from '../data-dir-flag.js'
import { checkFlags } from '../errors.js'
import type { CliIo } from '../io.js'

interface InitFlags {
  listen?: string[]
  bootstrap?: string[]
  worker: boolean
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/** The flags that ask for something other than what the config of a directory initialised already says. */
function flagsNotApplied(flags: InitFlags, config: NodeConfig): string[] {
  return [
    flags.listen !== undefined && !sameList(flags.listen, config.listen) ? '--listen' : undefined,
    flags.bootstrap !== undefined && !sameList(flags.bootstrap, config.bootstrap) ? '--bootstrap' : undefined,
    !flags.worker && config.worker.enabled ? '--no-worker' : undefined,
  ].filter((flag) => flag !== undefined)
}

/**
 * `tessera init`: keys, config file and data directory. On a directory initialised already it changes nothing, and
 * warns of flags that asked otherwise: it succeeds still, so a script that runs it each time keeps working.
 */
export function registerInit(program: Command, io: CliIo, options: AbortOptions = {}): void {
  program
    .command('init')
    .description('create the data directory: peer identity (0600), config file and API token; keeps what exists')
    .option('--listen <multiaddr...>', 'libp2p listen addresses')
    .option('--bootstrap <multiaddr...>', 'peers to join through')
    .option('--no-worker', 'do not offer this machine as a worker')
    .action(async (flags: InitFlags) => {
      const dir = dataDirOf(program)
      // Checked before anything is made: flags the config refuses are a usage error that leaves no directory behind.
      const config = checkFlags(() =>
        parseConfig(
          {
            ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
            ...(flags.bootstrap !== undefined ? { bootstrap: flags.bootstrap } : {}),
            ...(flags.worker ? {} : { worker: { enabled: false } }),
          },
          'flags',
        ),
      )
      const result = await initDataDir(dir, config, options)
      io.stdout(
        `${result.created ? 'initialised' : 'already initialised'} ${dir.root}\npeer id: ${result.identity.peerId.toString()}\nconfig: ${dir.config}\n`,
      )
      const ignored = result.created ? [] : flagsNotApplied(flags, result.config)
      if (ignored.length > 0) {
        io.stderr(
          `warning: ${ignored.join(', ')} not applied: ${dir.root} was initialised already, and init keeps its config; edit ${dir.config}, or pass ${ignored.length === 1 ? 'it' : 'them'} to \`tessera node start\`\n`,
        )
      }
    })
}
