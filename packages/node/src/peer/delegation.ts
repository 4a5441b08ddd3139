import {
  type Arbitrate,
  type Assign,
  DIRECT_DOMAIN,
  isTesseraError,
  MAX_QUOTED_ENVELOPE_BYTES,
  openQuotedEnvelope,
  type Order,
  type Result,
} from '@tessera/core'
import { decodeFraudProof, openResultEnvelope } from '@tessera/proof'
import { NodeError } from '../errors.js'

/**
 * Checks on the two messages that carry verification to third peers, beyond what their schemas check. A delegate
 * or an arbiter spends GPU time on what these say, and recomputes from the order they vouch for, so each must hold
 * together: the quoted Result must be the named task's and signed by its worker, and the order must come from the
 * job's creator. Every failure is a `NODE__INVALID_DELEGATION` error naming what did not match.
 */

function invalid(message: string, context: Record<string, unknown>, cause?: unknown): NodeError {
  return new NodeError('NODE__INVALID_DELEGATION', message, context, cause === undefined ? undefined : { cause })
}

/** The worker's Result a creator's `assign` quotes, checked against the task it names. */
export function assignedResult(assign: Assign): Result {
  let result: Result
  try {
    result = openResultEnvelope(assign.result)
  } catch (e) {
    throw invalid('the assignment does not quote a Result signed by its worker', { taskId: assign.taskId }, e)
  }
  if (result.jobId !== assign.jobId || result.taskId !== assign.taskId) {
    throw invalid(`the assignment names task ${assign.taskId} but quotes the Result of ${result.taskId}`, {
      jobId: assign.jobId,
      taskId: assign.taskId,
      quoted: result.taskId,
    })
  }
  return result
}

/**
 * The order an arbiter recomputes from: the creator's own (signed with its accusation), or the one in the
 * creator's signed assignment that a delegate forwards. The fraud proof must concern the task the message names.
 */
export function arbitratedOrder(arbitrate: Arbitrate): Order {
  const context = { jobId: arbitrate.jobId, taskId: arbitrate.taskId, accuser: arbitrate.accuser }
  let quoted: Result
  try {
    quoted = openResultEnvelope(decodeFraudProof(arbitrate.fraudProof).commitment)
  } catch (e) {
    throw invalid('the fraud proof does not quote a signed Result', context, e)
  }
  if (quoted.jobId !== arbitrate.jobId || quoted.taskId !== arbitrate.taskId) {
    throw invalid(`the accusation names task ${arbitrate.taskId} but its fraud proof concerns ${quoted.taskId}`, {
      ...context,
      quoted: quoted.taskId,
    })
  }
  // The schema admits exactly one of the two: the order when the accuser is the creator, else the assignment.
  if (arbitrate.order !== undefined) return arbitrate.order
  let opened
  try {
    opened = openQuotedEnvelope(arbitrate.assignment as Uint8Array, {
      domain: DIRECT_DOMAIN,
      maxBytes: MAX_QUOTED_ENVELOPE_BYTES,
      type: 'assign',
    })
  } catch (e) {
    throw invalid(
      'the accusation does not quote an assignment signed by the creator',
      { ...context, code: isTesseraError(e) ? e.code : undefined },
      e,
    )
  }
  const assign = opened.message.body as Assign
  if (opened.from !== arbitrate.creator || assign.jobId !== arbitrate.jobId || assign.taskId !== arbitrate.taskId) {
    throw invalid("the quoted assignment is not the creator's for this task", {
      ...context,
      signer: opened.from,
      assigned: assign.taskId,
    })
  }
  return assign.order
}
