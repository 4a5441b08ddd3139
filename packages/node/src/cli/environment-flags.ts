import type { Command } from 'commander'
import { parseFiniteNumber, parsePositiveNumber } from './parse.js'

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

/** The lighting the flags ask for, as `withEnvironment` and render orders take it. */
export function lightingOf(flags: EnvironmentFlags): { intensity: number; rotation: number; visible?: boolean } {
  return {
    intensity: flags.environmentIntensity,
    rotation: (flags.environmentRotation * Math.PI) / 180,
    ...(flags.environmentHidden === true ? { visible: false } : {}),
  }
}

/** Adds the `--environment*` flags to `command`. */
export function environmentOptions(command: Command): Command {
  return command
    .option('--environment <panorama>', 'light the scene with an equirectangular .hdr or .exr panorama (a render)')
    .option('--environment-intensity <x>', "multiplies the panorama's radiance", parsePositiveNumber, 1)
    .option('--environment-rotation <degrees>', 'turns the panorama about +y (+x towards -z)', parseFiniteNumber, 0)
    .option('--environment-hidden', 'the panorama lights the scene, but the camera sees black behind it')
}
