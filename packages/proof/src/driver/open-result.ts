import { domainOf, isTesseraError, MAX_DIRECT_ENVELOPE_BYTES, openQuotedEnvelope, type Result } from '@tessera/core'
import { ProofError } from '../errors.js'

/**
 * The real node's {@link ResultOpener}: opens a worker's signed Result envelope as sent on a direct task stream.
 * A fraud proof is checked long after the envelope expired, so it is opened as a quote (core's
 * `openQuotedEnvelope`): signature, domain, schema and author are all checked, and only freshness is not. Lives under `driver/` because it links
 * core's envelope code (and through it libp2p's key types), which the sans-IO machines do not.
 */
export function openResultEnvelope(envelope: Uint8Array): Result {
  try {
    const opened = openQuotedEnvelope(envelope, {
      domain: domainOf('direct'),
      maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
      type: 'result',
    })
    return opened.message.body as Result
  } catch (e) {
    throw new ProofError(
      'PROOF__INVALID_COMMITMENT',
      'commitment is not a signed Result envelope',
      { code: isTesseraError(e) ? e.code : undefined },
      { cause: e },
    )
  }
}
