import { TesseraError } from '@tessera/core'

/** Codes raised by `@tessera/node`. Codes are stable: never reused or renamed. */
export const NODE_ERROR_CODES = [
  'NODE__INVALID_CONFIG',
  'NODE__CONFIG_NOT_FOUND',
  'NODE__MALFORMED_CONFIG',
  'NODE__DATA_DIR_NOT_INITIALISED',
  'NODE__DATASTORE_CORRUPT',
  'NODE__FILE_UNREADABLE',
  'NODE__UNSUPPORTED_INPUT',
  'NODE__INPUT_NOT_FOUND',
  'NODE__API_UNREACHABLE',
  'NODE__API_UNAUTHORISED',
  'NODE__API_MALFORMED_REQUEST',
  'NODE__API_MALFORMED_REPLY',
  'NODE__API_NOT_FOUND',
  // The node answered with a code this client does not know (another package's, or a newer node's).
  'NODE__API_REMOTE_ERROR',
  // Something other than a coded Tessera error failed inside the node.
  'NODE__INTERNAL',
  'NODE__JOB_NOT_FOUND',
  'NODE__JOB_NOT_COMPLETE',
  'NODE__JOB_NOT_ENDED',
  // A job's verification budget no sampling plan meets for its tasks (too small for the overhead cap, say).
  'NODE__VERIFICATION_INFEASIBLE',
  'NODE__PEER_UNREACHABLE',
  'NODE__INVALID_DELEGATION',
  'NODE__COMMAND_FAILED',
  // The control API could not bind its address (taken, or not this machine's).
  'NODE__API_LISTEN_FAILED',
  // A request body past the API's bound (HTTP 413).
  'NODE__API_BODY_TOO_LARGE',
  // An output file (a render, a job's frames) cannot be written where it was asked.
  'NODE__FILE_UNWRITABLE',
  // An output file (a render, a job's frames) would replace a file already there, which only `--force` allows.
  'NODE__FILE_EXISTS',
  // A job's output is more than one API reply carries: fetch it a frame, or a file, at a time.
  'NODE__OUTPUT_TOO_LARGE',
  // A job's output has no file of the name asked for.
  'NODE__OUTPUT_FILE_NOT_FOUND',
  // Another process (a node already running) holds the data directory's datastore lock.
  'NODE__DATA_DIR_IN_USE',
  // A task ran far past the time its order pays for at this worker's speed, and was given back to its creator.
  'NODE__TASK_OVERRAN',
  // An accepted task's worker named no payee in its Result and no capacity record of it is in view: its receipt
  // cannot be signed yet (it stays journaled and is tried again).
  'NODE__PAYEE_NOT_FOUND',
  // A job's inputs were refused by the thread that parses them, which ran out of time or could not start (or died):
  // another try, here or on a quieter worker, may pass. Inputs that fail alike at every parse are refused with
  // `NODE__INPUT_UNPARSEABLE`.
  'NODE__INPUT_PARSE_FAILED',
  // A job's inputs fail alike at every parse: a parser failed on them with an error of no code of its own, or they
  // need more memory than a parse thread may take (its context's `reason`: `parser-failed`, `out-of-memory`). Every
  // task of their order would fail so, and a worker leaves the order.
  'NODE__INPUT_UNPARSEABLE',
  // libp2p could not listen on a configured listen address (a port taken, an address not this machine's); its context
  // names them (`addresses`) and why (`reasons`).
  'NODE__LISTEN_FAILED',
  // A control API path was asked with a method it does not take (HTTP 405; its `allow` lists those it takes).
  'NODE__API_METHOD_NOT_ALLOWED',
  // A control API request body was not sent as the media type its route reads (HTTP 415).
  'NODE__API_UNSUPPORTED_MEDIA_TYPE',
  // A control API request named a Host that is not the node's (a DNS-rebinding page's name; HTTP 403).
  'NODE__API_HOST_REFUSED',
  // A control API request carried an Origin: a web page's, which the API never answers (HTTP 403).
  'NODE__API_ORIGIN_REFUSED',
  // A control API request (its headers, or its body) did not arrive within its deadline (HTTP 408).
  'NODE__API_REQUEST_TIMEOUT',
  // A data directory's API address file names a node whose process is gone (killed before it could remove the
  // file); its context names the `file` and `pid`. The API token is not sent to what answers there.
  'NODE__API_STALE',
  // What answers at a node's API address could not prove it holds the API token (another process on the port of a
  // node that stopped, or a token not the node's); the token is not sent to it.
  'NODE__API_PROOF_MISMATCH',
  // A control API request expected what the API does not do (an `Expect` other than `100-continue`; HTTP 417).
  'NODE__API_EXPECTATION_FAILED',
  // A command line `tessera` cannot parse: an unknown command or flag, a flag's value out of its range, an argument
  // missing (exit 2).
  'NODE__INVALID_ARGUMENT',
  // A job ordered at a maximum price that gives it no budget (0): the ledger funds no empty vault.
  'NODE__INVALID_JOB_BUDGET',
  // A settlement funded again once its record says it is settled (its vault refunded and closed).
  'NODE__SETTLEMENT_SETTLED',
] as const

/** A code raised by `@tessera/node`. */
export type NodeErrorCode = (typeof NODE_ERROR_CODES)[number]

const nodeErrorCodes: ReadonlySet<string> = new Set(NODE_ERROR_CODES)

/** True when `code` (from the wire, say) is one of {@link NODE_ERROR_CODES}. */
export function isNodeErrorCode(code: string): code is NodeErrorCode {
  return nodeErrorCodes.has(code)
}

/** An error raised by `@tessera/node`. Its message is what the CLI prints: say what was wrong and what to do. */
export class NodeError extends TesseraError<NodeErrorCode> {
  static override name = 'NodeError'
}

/** Narrows `e` to a {@link NodeError}, optionally with the given code. */
export function isNodeError<C extends NodeErrorCode>(e: unknown, code?: C): e is NodeError & { code: C } {
  return e instanceof NodeError && (code === undefined || e.code === code)
}

/** True when `e` is a file system error saying the path does not exist, as opposed to one that cannot be read. */
export function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
