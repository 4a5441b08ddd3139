import { Command, CommanderError } from 'commander'
import { EXIT_USAGE, reportError } from './errors.js'
import type { CliIo } from './io.js'
import { registerInit } from './commands/init.js'
import { registerBench } from './commands/bench.js'
import { registerJob } from './commands/job.js'
import { registerNodeStart } from './commands/node-start.js'
import { registerNodeStatus } from './commands/node-status.js'
import { registerRender } from './commands/render.js'
import { registerSim } from './commands/sim.js'
import { registerWallet } from './commands/wallet.js'

/** Builds the `tessera` command tree; each command lives in its own file under commands/. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('tessera')
    .description('A peer-to-peer GPU compute market: render frames and run models on other peers, verified and paid')
    .option('-d, --data-dir <dir>', 'data directory (default: $TESSERA_DATA_DIR or ~/.tessera)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
  registerInit(program, io)
  const node = program.command('node').description('run a peer')
  registerNodeStart(node, program, io)
  registerNodeStatus(node, program, io)
  registerJob(program, io)
  registerWallet(program, io)
  registerBench(program, io)
  registerRender(program, io)
  registerSim(program, io)
  return program
}

/** Runs the CLI and resolves to its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? 0 : EXIT_USAGE
    }
    const silent = (e as { silentExit?: number }).silentExit
    if (silent !== undefined) return silent
    return reportError(e, io)
  }
}
