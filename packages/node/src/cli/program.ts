import { type AbortOptions, throwIfAborted } from '@tessera/core'
import { Command, CommanderError } from 'commander'
import { NodeError } from '../errors.js'
import { EXIT_USAGE, reportError, UsageError } from './errors.js'
import type { CliIo } from './io.js'
import { registerInit } from './commands/init.js'
import { registerBench } from './commands/bench.js'
import { registerJob } from './commands/job.js'
import { registerNodeStart } from './commands/node-start.js'
import { registerNodeStatus } from './commands/node-status.js'
import { registerRender } from './commands/render.js'
import { registerSim } from './commands/sim.js'
import { registerWallet } from './commands/wallet.js'

/**
 * Builds the `tessera` command tree; each command lives in its own file under commands/. Its commands stop when
 * `options.signal` aborts (see {@link runCli}).
 */
export function buildProgram(io: CliIo, options: AbortOptions = {}): Command {
  const program = new Command('tessera')
    .description('A peer-to-peer GPU compute market: render frames and run models on other peers, verified and paid')
    .option('-d, --data-dir <dir>', 'data directory (default: $TESSERA_DATA_DIR or ~/.tessera)')
    // Commander's own errors are printed by `runCli`, on one line with a code as every other.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .exitOverride()
  registerInit(program, io, options)
  const node = program.command('node').description('run a peer')
  registerNodeStart(node, program, io, options)
  registerNodeStatus(node, program, io, options)
  registerJob(program, io, options)
  registerWallet(program, io, options)
  registerBench(program, io, options)
  registerRender(program, io, options)
  registerSim(program, io)
  return program
}

/**
 * Runs the CLI and resolves to its exit code; never throws. `options.signal` stops the command as a process signal
 * would stop the process: `node start` stops its peer as on SIGTERM and exits 0, while a command that has not done
 * its work fails with `AbortError` (exit 1). An embedder stops a node it runs this way, without signalling its own
 * process.
 */
export async function runCli(argv: readonly string[], io: CliIo, options: AbortOptions = {}): Promise<number> {
  const program = buildProgram(io, options)
  try {
    throwIfAborted(options.signal)
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; help a command without its subcommand printed on stderr, exit 2.
      if (e.exitCode === 0) return 0
      if (e.code === 'commander.help') return EXIT_USAGE
      return reportError(new UsageError(commanderUsageError(e)), io)
    }
    const silent = (e as { silentExit?: number }).silentExit
    if (silent !== undefined) return silent
    return reportError(e, io)
  }
}

/**
 * A usage error of commander's own (an unknown command or flag, a value a flag's parser refused, an argument missing)
 * as a coded error on one line: commander puts its suggestion (`(Did you mean node?)`) on a line of its own.
 */
function commanderUsageError(e: CommanderError): NodeError {
  const message = e.message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
    .replace(/\.$/, '')
  return new NodeError('NODE__INVALID_ARGUMENT', `${message}; run with --help for usage`, { commanderCode: e.code })
}
