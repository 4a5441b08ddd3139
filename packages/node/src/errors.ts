import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/node`. Codes are stable: never reused or renamed. */
export type NodeErrorCode =
  | 'NODE__INVALID_CONFIG'
  | 'NODE__CONFIG_NOT_FOUND'
  | 'NODE__MALFORMED_CONFIG'
  | 'NODE__DATA_DIR_NOT_INITIALISED'
  | 'NODE__DATASTORE_CORRUPT'
  | 'NODE__FILE_UNREADABLE'
  | 'NODE__UNSUPPORTED_INPUT'
  | 'NODE__API_UNREACHABLE'
  | 'NODE__API_UNAUTHORISED'
  | 'NODE__API_MALFORMED_REQUEST'
  | 'NODE__API_MALFORMED_REPLY'
  | 'NODE__JOB_NOT_FOUND'
  | 'NODE__JOB_NOT_COMPLETE'
  | 'NODE__PEER_UNREACHABLE'
  | 'NODE__INVALID_DELEGATION'

/** An error raised by `@tessera/node`. Its message is what the CLI prints: say what was wrong and what to do. */
export class NodeError extends TesseraError<NodeErrorCode> {
  static override name = 'NodeError'
}

/** Narrows `e` to a {@link NodeError}, optionally with the given code. */
export function isNodeError<C extends NodeErrorCode>(e: unknown, code?: C): e is NodeError & { code: C } {
  return e instanceof NodeError && (code === undefined || e.code === code)
}
