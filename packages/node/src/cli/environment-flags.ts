/** The `--environment-intensity` and `--environment-rotation` flags of `render` and `job submit`. */
export interface EnvironmentFlags {
  environmentIntensity: number
  /** Degrees, as people turn panoramas; orders and the engine take radians. */
  environmentRotation: number
}

/** The lighting the flags ask for, as `withEnvironment` and render orders take it. */
export function lightingOf(flags: EnvironmentFlags): { intensity: number; rotation: number } {
  return { intensity: flags.environmentIntensity, rotation: (flags.environmentRotation * Math.PI) / 180 }
}
