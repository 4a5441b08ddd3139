import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { EXIT_USAGE, reportError } from './errors.js'
import type { CliIo } from './io.js'
import { registerInit } from './commands/init.js'

/** Parses a positive integer flag, with a message commander prints on failure. */
export function parsePositiveInt(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer')
  return n
}

/** Parses a token amount flag (decimal integer, u64). */
export function parseAmount(value: string): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > 0xffff_ffff_ffff_ffffn) {
    throw new InvalidArgumentError('expected a whole number of token units')
  }
  return BigInt(value)
}

/** Builds the `tessera` command tree; each command lives in its own file under commands/. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('tessera')
    .description('A peer-to-peer GPU compute market: render frames and run models on other peers, verified and paid')
    .option('-d, --data-dir <dir>', 'data directory (default: $TESSERA_DATA_DIR or ~/.tessera)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
  registerInit(program, io)
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
    return reportError(e, io)
  }
}
