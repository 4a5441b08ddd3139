import type { Topic } from './topics.js'
import type { WireMessage } from './wire/messages.js'

/**
 * The shape of every sans-IO state machine (scheduler, proof, settlement), as in quinn-proto: it never reads a
 * clock, sleeps or does I/O. A driver feeds it inputs with the current time, drains its outputs, and calls
 * `handleTimeout` once `pollTimeout()` has passed. The real node and the simulator are two such drivers.
 */
export interface SansIoMachine<Input, Output> {
  /** Feeds one input (a message arrived, a task finished, a settlement confirmed) at time `now` (ms). */
  handle(input: Input, now: number): void
  /** Fires timers that are due at `now`. */
  handleTimeout(now: number): void
  /** The next output to carry out, or undefined when there is none. */
  pollOutput(): Output | undefined
  /** When `handleTimeout` should next be called (ms), or undefined when no timer is armed. */
  pollTimeout(): number | undefined
}

/** Outputs that every machine may produce to talk to peers; drivers turn them into MessageBus calls. */
export type NetworkOutput =
  { kind: 'publish'; topic: Topic; message: WireMessage } | { kind: 'send'; to: string; message: WireMessage }
