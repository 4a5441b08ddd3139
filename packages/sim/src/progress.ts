import type { ProgressEvent } from 'progress-events'

/** Where a run stands, reported every {@link EVENTS_PER_SLICE} events. */
export interface SimProgress {
  /** Virtual time covered so far and in all, ms. */
  virtualMs: number
  durationMs: number
  /** Events fired so far. */
  events: number
  /** `virtualMs / durationMs`. */
  fraction: number
}

/**
 * Progress events of {@link runScenario}: `sim:progress` while the engine runs, `sim:report` once it writes the
 * output files (with the number written so far).
 */
export type SimProgressEvents =
  ProgressEvent<'sim:progress', SimProgress> | ProgressEvent<'sim:report', { file: string }>
