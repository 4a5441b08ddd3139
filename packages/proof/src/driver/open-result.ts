import {
  decodeCanonical,
  domainOf,
  isTesseraError,
  MAX_DIRECT_ENVELOPE_BYTES,
  openEnvelope,
  type Result,
} from '@tessera/core'
import { ProofError } from '../errors.js'

/**
 * The real node's {@link ResultOpener}: opens a worker's signed Result envelope as sent on a direct task stream.
 * A fraud proof is checked long after the envelope expired, so it is opened at its own expiry instant: signature,
 * domain, schema and author are all checked, and only freshness is not. Lives under `driver/` because it links
 * core's envelope code (and through it libp2p's key types), which the sans-IO machines do not.
 */
export function openResultEnvelope(envelope: Uint8Array): Result {
  try {
    const raw = decodeCanonical(envelope, 'commitment') as { expiresAt?: unknown } | null
    const expiresAt = typeof raw?.expiresAt === 'number' ? raw.expiresAt : 0
    const opened = openEnvelope(envelope, {
      domain: domainOf('direct'),
      maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
      now: expiresAt,
    })
    if (opened.message.type !== 'result') {
      throw new ProofError(
        'PROOF__INVALID_COMMITMENT',
        `commitment is a ${opened.message.type} message, not a result`,
        {
          type: opened.message.type,
        },
      )
    }
    return opened.message.body
  } catch (e) {
    if (e instanceof ProofError) throw e
    throw new ProofError(
      'PROOF__INVALID_COMMITMENT',
      'commitment is not a signed Result envelope',
      { code: isTesseraError(e) ? e.code : undefined },
      { cause: e },
    )
  }
}
