import type { Command } from 'commander'
import { NodeError } from '../errors.js'
import { parseEnvironmentIntensity, parseEnvironmentRotation } from './parse.js'

/** The `--environment*` flags of `render` and `job submit`. */
export interface EnvironmentFlags {
  /** `--environment <panorama>`: the .hdr or .exr file. */
  environment?: string
  environmentIntensity: number
  /** Degrees, as people turn panoramas; orders and the engine take radians. */
  environmentRotation: number
  /** `--environment-hidden`: the panorama lights the scene but the camera does not see it. */
  environmentHidden?: boolean
}

/** The flags that say how the `--environment` panorama lights the scene (attribute names). */
const LIGHTING_FLAGS: readonly string[] = ['environmentIntensity', 'environmentRotation', 'environmentHidden']

/** The lighting the flags ask for, as `withEnvironment` and render orders take it. */
export function lightingOf(flags: EnvironmentFlags): { intensity: number; rotation: number; visible?: boolean } {
  return {
    intensity: flags.environmentIntensity,
    rotation: (flags.environmentRotation * Math.PI) / 180,
    ...(flags.environmentHidden === true ? { visible: false } : {}),
  }
}

/**
 * Refuses (`NODE__UNSUPPORTED_INPUT`) a lighting flag given on `command`'s line without `--environment`: there is
 * no panorama for it to light the scene with, and dropped, the command would render or order something else than
 * was asked for and succeed.
 */
export function checkEnvironmentFlags(command: Command, flags: EnvironmentFlags): void {
  if (flags.environment !== undefined) return
  const given = command.options.find(
    (o) => LIGHTING_FLAGS.includes(o.attributeName()) && command.getOptionValueSource(o.attributeName()) === 'cli',
  )
  if (given === undefined) return
  const flag = given.long ?? given.flags
  throw new NodeError(
    'NODE__UNSUPPORTED_INPUT',
    `${flag} is for the panorama --environment <panorama> names, and none was given: give both`,
    { flag },
  )
}

/** Adds the `--environment*` flags to `command`. */
export function environmentOptions(command: Command): Command {
  return command
    .option('--environment <panorama>', 'light the scene with an equirectangular .hdr or .exr panorama (a render)')
    .option(
      '--environment-intensity <x>',
      "with --environment, multiplies the panorama's radiance",
      parseEnvironmentIntensity,
      1,
    )
    .option(
      '--environment-rotation <degrees>',
      'with --environment, turns the panorama about +y (+x towards -z)',
      parseEnvironmentRotation,
      0,
    )
    .option('--environment-hidden', 'with --environment, the panorama lights the scene, but the camera sees black')
}
