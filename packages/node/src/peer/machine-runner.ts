import { AbortError, type SansIoMachine } from '@tessera/core'

/** setTimeout's longest delay; longer timers are re-armed when they fire. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Drives one sans-IO machine in real time: feeds inputs at the clock's `now`, drains outputs into `onOutput`, and
 * fires its timers with setTimeout. The same machine runs under virtual time in the simulator.
 */
export class MachineRunner<Input, Output> {
  /** The machine driven. */
  readonly machine: SansIoMachine<Input, Output>
  readonly #now: () => number
  readonly #onOutput: (output: Output) => void
  readonly #onError: (error: unknown, input: Input) => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #running = true

  constructor(
    machine: SansIoMachine<Input, Output>,
    now: () => number,
    onOutput: (output: Output) => void,
    onError: (error: unknown, input: Input) => void,
  ) {
    this.machine = machine
    this.#now = now
    this.#onOutput = onOutput
    this.#onError = onError
  }

  /**
   * Feeds an input; a coded rejection goes to `onError` and changes nothing. False when the machine refused it (or
   * is stopped), for a caller waiting on what the input would have started.
   */
  feed(input: Input): boolean {
    if (!this.#running) return false
    let taken = true
    try {
      this.machine.handle(input, this.#now())
    } catch (e) {
      taken = false
      this.#onError(e, input)
    }
    this.#drain()
    return taken
  }

  /**
   * Feeds an input whose caller must know why it was refused: the machine's coded rejection is thrown (not passed to
   * `onError`), as is an {@link AbortError} (`CORE__ABORTED`) once the runner is stopped. The machine changes nothing
   * on a rejection, so nothing is drained then.
   */
  submit(input: Input): void {
    if (!this.#running) throw new AbortError('the machine is stopped')
    this.machine.handle(input, this.#now())
    this.#drain()
  }

  /** Stops feeding the machine and firing its timers. */
  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
  }

  #drain(): void {
    for (let out = this.machine.pollOutput(); out !== undefined; out = this.machine.pollOutput()) this.#onOutput(out)
    this.#arm()
  }

  #arm(): void {
    clearTimeout(this.#timer)
    const due = this.machine.pollTimeout()
    if (due === undefined || !this.#running) return
    this.#timer = setTimeout(
      () => {
        this.machine.handleTimeout(this.#now())
        this.#drain()
      },
      Math.min(Math.max(0, due - this.#now()), MAX_TIMER_MS),
    )
    this.#timer.unref?.()
  }
}
