import type { WireMessage } from '@tessera/core'
import { MESSAGE_BYTES, TASK_ID_BYTES } from '../constants.js'

const HASH_BYTES = 32

/**
 * Estimated size of a message's signed envelope, bytes. The simulator does not encode messages (that is the real
 * node's cost, not the network's); the estimate feeds the bandwidth model.
 */
export function messageBytes(message: WireMessage): number {
  const base = MESSAGE_BYTES[message.type]
  switch (message.type) {
    case 'award':
    case 'heartbeat':
      return base + TASK_ID_BYTES * message.body.taskIds.length
    case 'reveal': {
      let bytes = base
      for (const chunk of message.body.chunks) bytes += chunk.byteLength
      for (const proof of message.body.proofs) bytes += HASH_BYTES * proof.length
      return bytes
    }
    case 'assign':
      return base + message.body.result.byteLength
    case 'arbitrate':
      return base + message.body.fraudProof.byteLength + (message.body.assignment?.byteLength ?? 0)
    default:
      return base
  }
}
