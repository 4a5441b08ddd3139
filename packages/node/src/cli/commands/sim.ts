import { simCommand } from '@tessera/sim'
import type { Command } from 'commander'
import { EXIT_FAILURE } from '../errors.js'
import type { CliIo } from '../io.js'

/** `tessera sim run <scenario> [--seed N] [--out DIR]` and `tessera sim sweep ...`: `@tessera/sim`'s command, mounted here. */
export function registerSim(program: Command, io: CliIo): void {
  program
    .command('sim')
    .description('run a network simulation scenario, or sweep one over parameter values (see `tessera sim --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const write = (sink: (t: string) => void) =>
        ({
          write: (chunk: string | Uint8Array) => (
            sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()),
            true
          ),
        }) as unknown as NodeJS.WritableStream
      const code = await simCommand(args, { stdout: write(io.stdout), stderr: write(io.stderr) })
      if (code !== 0) {
        // simCommand printed why; exit with its code without a second message.
        throw Object.assign(new Error(''), { silentExit: code === 2 ? 2 : EXIT_FAILURE })
      }
    })
}
