import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/node`. Codes are stable: never reused or renamed. */
export type NodeErrorCode = 'NODE__INVALID_INPUT'

/** An error raised by `@tessera/node`. */
export class NodeError extends TesseraError<NodeErrorCode> {
  static override name = 'NodeError'
}

/** Narrows `e` to a {@link NodeError}, optionally with the given code. */
export function isNodeError<C extends NodeErrorCode>(e: unknown, code?: C): e is NodeError & { code: C } {
  return e instanceof NodeError && (code === undefined || e.code === code)
}
