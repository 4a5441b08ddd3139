import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/sim`. Codes are stable: never reused or renamed. */
export type SimErrorCode =
  /** A scenario file is not valid JSON or YAML. */
  | 'SIM__MALFORMED_SCENARIO'
  /** A scenario parsed but broke the schema or a cross-field rule; `context.path` names the failing field. */
  | 'SIM__INVALID_SCENARIO'
  /** A scenario file could not be read. */
  | 'SIM__SCENARIO_NOT_FOUND'
  /** An event was scheduled before the current virtual time. */
  | 'SIM__EVENT_IN_PAST'
  /** A run hit its event budget before its end time. */
  | 'SIM__EVENT_LIMIT_EXCEEDED'
  /** A run was aborted through its signal. */
  | 'SIM__ABORTED'
  /** A run failed; `context.seed` replays it. */
  | 'SIM__RUN_FAILED'
  /** A peer id, region or topic the simulator does not know. */
  | 'SIM__PEER_NOT_FOUND'
  | 'SIM__REGION_NOT_FOUND'
  /** A command-line argument is missing or malformed. */
  | 'SIM__INVALID_ARGUMENT'
  /** A chart could not be rendered. */
  | 'SIM__CHART_FAILED'
  /** A sweep's parameters, replications or seeds are malformed or out of bounds; `context` names the culprit. */
  | 'SIM__INVALID_SWEEP'
  /** An output directory cannot be created or written to; `context.dir` and `context.reason` say which and why. */
  | 'SIM__INVALID_OUT_DIR'

/** An error raised by `@tessera/sim`. */
export class SimError extends TesseraError<SimErrorCode> {
  static override name = 'SimError'
}

/** Narrows `e` to a {@link SimError}, optionally with the given code. */
export function isSimError<C extends SimErrorCode>(e: unknown, code?: C): e is SimError & { code: C } {
  return e instanceof SimError && (code === undefined || e.code === code)
}
