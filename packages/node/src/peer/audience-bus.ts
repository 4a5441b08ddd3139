import type { AbortOptions, MessageBus, Order, WireMessage } from '@tessera/core'
import { arbitratedOrder } from './delegation.js'
import { type BlobAudience, RELAY_RETENTION_MS, relayHolder } from './blob-audience.js'
import { jobHolder, taskHolder } from './blob-holds.js'

/** What {@link audienceBus} needs beyond the bus it wraps. */
export interface AudienceBusComponents {
  audience: BlobAudience
  clock: { now(): number }
  /** How long a worker keeps a task's output for its creator to fetch (its hold's retention). */
  outputRetentionMs: number
  /**
   * Makes sure this peer holds another creator's order's inputs, kept for {@link RELAY_RETENTION_MS}, before it
   * asks an arbiter that the creator does not know to recompute from them.
   */
  relayInputs(order: Order, expiresAt: number, options: AbortOptions): Promise<void>
}

/**
 * `bus`, whose `send` first admits the recipient to the blobs a message prompts it to fetch (see
 * {@link BlobAudience}): an award, an assignment or an arbitration from a creator admits the worker, delegate or
 * arbiter to the job's inputs (`job:<id>`); a worker's Result admits the creator to the task's output
 * (`task:<id>`). The admission is on disk before the message leaves, so the fetch it prompts is never refused. An
 * arbitration a delegate sends names another creator's job: the delegate first takes the inputs in (the creator
 * would refuse its arbiter) and serves them to that arbiter for a while (`relay:<id>`).
 */
export function audienceBus(bus: MessageBus, c: AudienceBusComponents): MessageBus {
  const admit = async (to: string, message: WireMessage, options: AbortOptions): Promise<void> => {
    switch (message.type) {
      case 'award':
      case 'assign':
        return c.audience.admit(jobHolder(message.body.jobId), to, undefined, options)
      case 'result':
        return c.audience.admit(taskHolder(message.body.taskId), to, c.clock.now() + c.outputRetentionMs, options)
      case 'arbitrate': {
        const { body } = message
        if (body.creator === bus.self) return c.audience.admit(jobHolder(body.jobId), to, undefined, options)
        const expiresAt = c.clock.now() + RELAY_RETENTION_MS
        await c.relayInputs(arbitratedOrder(body), expiresAt, options)
        return c.audience.admit(relayHolder(body.jobId), to, expiresAt, options)
      }
      default:
        return
    }
  }
  return {
    get self() {
      return bus.self
    },
    publish: (topic, message, options) => bus.publish(topic, message, options),
    send: async (to, message, options = {}) => {
      await admit(to, message, options)
      return bus.send(to, message, options)
    },
    subscribe: (topic) => bus.subscribe(topic),
    unsubscribe: (topic) => bus.unsubscribe(topic),
    onMessage: (handler) => bus.onMessage(handler),
  }
}
