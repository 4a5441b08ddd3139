/**
 * Time and randomness are injected, never read ambiently, so the simulator can run the same state machines under
 * virtual time and a seeded generator (DESIGN.md, "The sans-IO core").
 */

import { CoreError } from './errors.js'

/** A source of time in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number
}

/** The wall clock, for real nodes. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() })

/** A clock that only moves when told to: for tests and the simulator. */
export class ManualClock implements Clock {
  #now: number

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): number {
    if (!(ms >= 0)) {
      throw new CoreError('CORE__INVALID_INPUT', `cannot advance a clock by ${ms} ms; pass a duration of 0 or more`, {
        ms,
      })
    }
    this.#now += ms
    return this.#now
  }

  /** Sets the time; it may not go backwards. */
  set(ms: number): void {
    if (ms < this.#now) {
      throw new CoreError('CORE__INVALID_INPUT', `clock cannot go back from ${this.#now} to ${ms}`, {
        now: this.#now,
        ms,
      })
    }
    this.#now = ms
  }
}
