/** The `--environment-*` flags of `render` and `job submit`. */
export interface EnvironmentFlags {
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
