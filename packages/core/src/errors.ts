/**
 * Coded errors shared by every Tessera package.
 *
 * Each package declares its own subclass with a closed union of string codes (`CORE__…`, `SCHEDULER__…`) and a
 * guard that narrows by code, in the manner of `@solana/kit`. Codes are stable: never reused or renamed.
 */
export class TesseraError<Code extends string = string> extends Error {
  static override name = 'TesseraError'
  /** Stable machine-readable code, e.g. `CORE__MESSAGE_EXPIRED`. */
  readonly code: Code
  /** What was wrong, for logs and programs; never holds secrets. */
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: Code, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.context = Object.freeze({ ...context })
  }
}

/** True when `e` is a Tessera error, optionally with the given code. */
export function isTesseraError<Code extends string>(e: unknown, code?: Code): e is TesseraError<Code> {
  return e instanceof TesseraError && (code === undefined || e.code === code)
}

/** Codes raised by `@tessera/core`. */
export type CoreErrorCode =
  | 'CORE__MALFORMED_MESSAGE'
  | 'CORE__MESSAGE_TOO_LARGE'
  | 'CORE__UNSUPPORTED_VERSION'
  | 'CORE__UNKNOWN_MESSAGE_TYPE'
  | 'CORE__INVALID_SIGNATURE'
  | 'CORE__DOMAIN_MISMATCH'
  | 'CORE__MESSAGE_EXPIRED'
  | 'CORE__EXPIRY_TOO_FAR'
  | 'CORE__MESSAGE_REPLAYED'
  | 'CORE__REPLAY_GUARD_FULL'
  | 'CORE__PEER_BUSY'
  | 'CORE__PROVIDER_QUOTA'
  | 'CORE__FETCH_BUDGET_FULL'
  | 'CORE__SIGNER_MISMATCH'
  | 'CORE__UNEXPECTED_TYPE'
  | 'CORE__WRONG_CHANNEL'
  | 'CORE__INVALID_KEY_FILE'
  | 'CORE__KEY_FILE_PERMISSIONS'
  | 'CORE__INVALID_CONFIG'
  | 'CORE__INVALID_INPUT'
  | 'CORE__NOT_STARTED'
  | 'CORE__ABORTED'
  | 'CORE__BLOB_NOT_FOUND'
  | 'CORE__BLOB_TOO_LARGE'
  | 'CORE__BLOB_HASH_MISMATCH'
  | 'CORE__BLOB_ACCESS_DENIED'
  | 'CORE__BLOB_PROVIDERS_EXHAUSTED'
  | 'CORE__INVALID_CID'
  | 'CORE__PEER_UNREACHABLE'
  | 'CORE__MESSAGE_REJECTED'
  | 'CORE__MALFORMED_BLOB_FRAME'
  | 'CORE__BLOB_DEADLINE_EXCEEDED'
  | 'CORE__DHT_RECORD_REFUSED'
  | 'CORE__MESSAGE_EQUIVOCATED'
  | 'CORE__SIGNER_DISTRUSTED'

/** An error raised by `@tessera/core`. */
export class CoreError extends TesseraError<CoreErrorCode> {
  static override name = 'CoreError'
}

/** Narrows `e` to a {@link CoreError}, optionally with the given code. */
export function isCoreError<C extends CoreErrorCode>(e: unknown, code?: C): e is CoreError & { code: C } {
  return e instanceof CoreError && (code === undefined || e.code === code)
}

/** Rejection for aborted async calls, as libp2p names it. */
export class AbortError extends CoreError {
  static override name = 'AbortError'
  constructor(message = 'The operation was aborted', context: Record<string, unknown> = {}) {
    super('CORE__ABORTED', message, context)
    this.name = 'AbortError'
  }
}
