import type { SansIoMachine } from '@tessera/core'
import type { Simulation } from '../engine/simulation.js'

/**
 * Drives one sans-IO machine under virtual time, as the real node's driver does under the wall clock: feeds it
 * inputs at `sim.now`, drains its outputs into `onOutput`, and keeps one timer event armed at its `pollTimeout()`.
 *
 * Timers are never cancelled in the queue: an event whose time is not the host's armed time has been superseded
 * and does nothing, which is cheaper than deleting from the heap.
 */
export class MachineHost<I, O> {
  readonly machine: SansIoMachine<I, O>
  readonly #sim: Simulation
  readonly #onOutput: (output: O) => void
  readonly #onReject: (error: unknown, input: I | undefined) => void
  /** Time of the earliest timer event in the queue for this host; Infinity when none. */
  #armedAt = Infinity
  /** False once the peer is gone: timers and inputs are ignored. */
  active = true

  constructor(
    sim: Simulation,
    machine: SansIoMachine<I, O>,
    onOutput: (output: O) => void,
    onReject: (error: unknown, input: I | undefined) => void,
  ) {
    this.#sim = sim
    this.machine = machine
    this.#onOutput = onOutput
    this.#onReject = onReject
  }

  /**
   * Hands the machine one input now. A machine refuses bad input by throwing a coded error and changing nothing;
   * the host reports it (the node logs it and may penalise the sender) and carries on.
   */
  feed(input: I): void {
    if (!this.active) return
    try {
      this.machine.handle(input, this.#sim.now)
    } catch (e) {
      this.#onReject(e, input)
    }
    this.#settle()
  }

  /** Drains outputs and re-arms the timer, e.g. after calling a method of the machine directly. */
  #settle(): void {
    for (let out = this.machine.pollOutput(); out !== undefined; out = this.machine.pollOutput()) {
      this.#onOutput(out)
      if (!this.active) return
    }
    const due = this.machine.pollTimeout()
    if (due === undefined) return
    // Whole milliseconds, never earlier than asked: a timer due at 100.4 fires at 101, when it is really due.
    const at = Math.ceil(Math.max(due, this.#sim.now))
    if (at < this.#armedAt) {
      this.#armedAt = at
      this.#sim.at<MachineHost<I, O>>(at, MachineHost.fire, this)
    }
  }

  /** Runs `call` against the machine (a method outside `handle`), then drains and re-arms. */
  invoke<R>(call: (machine: SansIoMachine<I, O>) => R): R {
    const result = call(this.machine)
    this.#settle()
    return result
  }

  /** @internal The timer event. */
  static fire<I, O>(host: MachineHost<I, O>, now: number): void {
    if (!host.active || host.#armedAt !== now) return
    host.#armedAt = Infinity
    try {
      host.machine.handleTimeout(now)
    } catch (e) {
      host.#onReject(e, undefined)
    }
    host.#settle()
  }
}
