import { MAX_EXPOSURE, TONE_CURVES, type ToneCurve } from '@tessera/gpu'
import { InvalidArgumentError, Option, type Command } from 'commander'
import { parsePositiveNumber } from './parse.js'

/** The `--exposure` and `--tone-curve` flags of `render` and `job fetch`: how radiance becomes an 8-bit PNG. */
export interface ToneFlags {
  exposure: number
  toneCurve: ToneCurve
}

/** Adds the tone flags to `command`; `exposure` is its default exposure. */
export function toneOptions(command: Command, exposure: number): Command {
  return command
    .option('--exposure <x>', 'multiplies radiance before the tone curve (8-bit PNG only)', parseExposure, exposure)
    .addOption(
      new Option('--tone-curve <curve>', 'how radiance above 1 fits the 8-bit PNG')
        .choices(TONE_CURVES)
        .default('clamp'),
    )
}

/** Parses `--exposure`: a decimal number above 0, at most {@link MAX_EXPOSURE}, as tone-mapping takes it. */
export function parseExposure(value: string): number {
  let n = Number.NaN
  try {
    n = parsePositiveNumber(value)
  } catch {
    // Refused below with the range an exposure takes, not the bare "positive number".
  }
  if (!(n <= MAX_EXPOSURE)) throw new InvalidArgumentError(`expected a number above 0, at most ${MAX_EXPOSURE}`)
  return n
}
