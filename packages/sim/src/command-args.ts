import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { AbortOptions } from '@tessera/core'

/** Where the command writes and which directory relative paths start from. */
export interface SimCommandIo extends AbortOptions {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  /** @default process.cwd() */
  cwd?: string
}

/** A command's flags and its one positional argument, the file it reads. */
export interface CommandArgs {
  values: Record<string, string | boolean | string[] | undefined>
  file: string
}

/**
 * The `sim` commands' shared argument handling: parses `argv` against `options` (`--help` and `-h` are added),
 * prints `usage` for `--help` (exit 0) or with the reason for a bad flag or a missing or extra file (exit 2).
 * Returns the parsed arguments, or the exit code when the command should stop.
 */
export function parseCommandArgs(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  usage: string,
  io: SimCommandIo,
): CommandArgs | number {
  let values: CommandArgs['values']
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
    }))
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n${usage}`)
    return 2
  }
  if (values.help === true) {
    io.stdout.write(usage)
    return 0
  }
  const [file] = positionals
  if (file === undefined || positionals.length > 1) {
    io.stderr.write(usage)
    return 2
  }
  return { values, file }
}

/**
 * An integer flag in [min, max]: the number, undefined when the flag is absent, or the message to print when it is
 * not such an integer.
 */
export function integerFlag(name: string, text: unknown, min: number, max: number): number | string | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  return typeof text === 'string' && /^[0-9]+$/.test(text) && n >= min && n <= max
    ? n
    : `--${name} must be an integer in [${min}, ${max}], not ${String(text)}`
}
