import type { Clock, Rng } from '@tessera/core'
import { SIM_EPOCH_MS } from '../constants.js'
import { SimError } from '../errors.js'
import { EventQueue, type EventHandler } from './event-queue.js'
import { rngStream } from './streams.js'

/** Options of a {@link Simulation}. */
export interface SimulationOptions {
  /** The run's seed (an unsigned 32-bit integer); every random stream derives from it. */
  seed: number
  /** Virtual time at the start, ms. @default SIM_EPOCH_MS */
  start?: number
}

/**
 * The discrete-event engine: a virtual clock and a (time, seq)-ordered event list. Time only moves when an event
 * fires, and it is always a whole millisecond, as the wire's `issuedAt` fields require of the machines' clocks.
 */
export class Simulation {
  readonly seed: number
  readonly start: number
  /** The machines' clock: reads the virtual time. */
  readonly clock: Clock
  #now: number
  #fired = 0
  readonly #queue = new EventQueue(1 << 16)

  constructor(options: SimulationOptions) {
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
      throw new SimError('SIM__INVALID_ARGUMENT', `seed must be an integer in [0, 2^32), got ${options.seed}`, {
        seed: options.seed,
      })
    }
    this.seed = options.seed
    this.start = options.start ?? SIM_EPOCH_MS
    this.#now = this.start
    this.clock = { now: () => this.#now }
  }

  /** Current virtual time, ms. */
  get now(): number {
    return this.#now
  }

  /** Events fired so far. */
  get fired(): number {
    return this.#fired
  }

  /** Events waiting. */
  get pending(): number {
    return this.#queue.size
  }

  /** Time of the next event, or Infinity. */
  get nextTime(): number {
    return this.#queue.peekTime()
  }

  /** A random stream for one named component (see {@link rngStream}). */
  rng(label: string): Rng {
    return rngStream(this.seed, label)
  }

  /** Schedules `handler(arg, now)` at virtual time `time` (rounded to a whole millisecond). */
  at<A>(time: number, handler: EventHandler<A>, arg: A): void {
    const t = Math.round(time)
    if (!(t >= this.#now)) {
      throw new SimError('SIM__EVENT_IN_PAST', `cannot schedule an event at ${t}, before now (${this.#now})`, {
        time: t,
        now: this.#now,
      })
    }
    this.#queue.push(t, handler, arg)
  }

  /** Schedules `handler(arg, now)` after `delay` ms. */
  after<A>(delay: number, handler: EventHandler<A>, arg: A): void {
    this.at(this.#now + (delay > 0 ? delay : 0), handler, arg)
  }

  /**
   * Fires events in (time, seq) order while their time is at most `until` and fewer than `maxEvents` have fired in
   * this call. Returns the number fired. Virtual time ends at the last event's time (or `until` once the list
   * holds nothing earlier).
   */
  run(until: number, maxEvents = Infinity): number {
    const queue = this.#queue
    let n = 0
    while (n < maxEvents && queue.size > 0 && queue.peekTime() <= until) {
      queue.pop()
      this.#now = queue.poppedTime
      const handler = queue.poppedHandler as EventHandler
      const arg = queue.poppedArg
      n++
      handler(arg, this.#now)
    }
    this.#fired += n
    if (n < maxEvents && until !== Infinity && until > this.#now) this.#now = Math.floor(until)
    return n
  }
}
