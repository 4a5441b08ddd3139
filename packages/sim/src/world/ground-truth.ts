import { INVOLVED_RETAIN_MS } from '../constants.js'
import { COL, type MetricsRecorder, type Role } from '../metrics/recorder.js'

/** A flat key (`join`, not a template): a template builds a rope that every Map lookup flattens again. */
function committedKey(worker: string, taskId: string): string {
  return [worker, taskId].join('\u0000')
}

interface Committed {
  role: Role
  bad: boolean
}

/** A committed output whose check failed, kept while arbitration may clear its worker. */
interface Failed extends Committed {
  /** When the creator rejected it. */
  at: number
  /** The metrics row it was counted in, which an overturn takes it back from. */
  row: number
}

/**
 * What the simulator knows and the machines do not: whether each committed output was bad. When a creator accepts
 * or rejects a task, the truth turns its decision into a detection, an escape or a false positive. Entries live
 * only until the decision (or until the task is given up); a failed check's, until arbitration may no longer overturn
 * it and turn the rejection into an acceptance.
 */
export class GroundTruth {
  readonly #metrics: MetricsRecorder
  readonly #committed = new Map<string, Committed>()
  /** Outputs rejected for a failed check, oldest first, for {@link INVOLVED_RETAIN_MS} (arbitration ends within it). */
  readonly #failed = new Map<string, Failed>()
  #accepted = 0
  #honestChecks = 0

  constructor(metrics: MetricsRecorder) {
    this.#metrics = metrics
  }

  /** A worker committed to a task's output; `bad` when any chunk is out of tolerance of the honest result. */
  commit(worker: string, taskId: string, role: Role, bad: boolean): void {
    this.#committed.set(committedKey(worker, taskId), { role, bad })
    const stats = this.#metrics.roles[role]
    stats.tasksCompleted++
    if (bad) stats.tasksBad++
  }

  /**
   * A verifier challenged the worker's output of a task. A challenge of output still unjudged and not bad is a check
   * of honest output, whichever role produced it: the population a false positive is drawn from.
   */
  checked(worker: string, taskId: string, role: Role): void {
    this.#metrics.roles[role].checked++
    this.#metrics.add(COL.checks)
    if (this.#committed.get(committedKey(worker, taskId))?.bad === false) this.#honestChecks++
  }

  /** The creator accepted the task (and pays for it). */
  accepted(worker: string, taskId: string): void {
    const c = this.#take(worker, taskId)
    if (c !== undefined) this.#accept(c)
  }

  #accept(c: Committed): void {
    this.#accepted++
    if (c.bad) {
      this.#metrics.roles[c.role].escaped++
      this.#metrics.add(COL.escaped)
    }
  }

  /**
   * The creator rejected the task: its check failed (`fail`) or the worker never answered the challenge
   * (`refused`: it crashed, left, or the challenge or reveal was lost). Honest output rejected for a failed check
   * is a false positive; honest output rejected unanswered is counted apart, since no check judged it wrong.
   */
  rejected(worker: string, taskId: string, outcome: 'fail' | 'refused', at: number): void {
    const key = committedKey(worker, taskId)
    const c = this.#take(worker, taskId)
    if (c === undefined) return
    this.#metrics.roles[c.role].failedChecks++
    if (c.bad) {
      this.#metrics.roles[c.role].detected++
      this.#metrics.add(COL.detected)
    } else {
      this.#metrics.add(outcome === 'fail' ? COL.falsePositives : COL.unanswered)
    }
    if (outcome === 'fail') this.#keepFailed(key, { ...c, at, row: this.#metrics.openRow })
  }

  /**
   * Arbitration cleared the worker of a failed check and the creator accepted its output after all: the rejection
   * becomes an acceptance, an escape when the output was bad (colluding arbiters clearing a fellow colluder). The
   * rejection is taken back from the metrics row that counted it, so no row's count goes negative; the acceptance
   * counts in the row where it happens.
   */
  overturned(worker: string, taskId: string): void {
    const key = committedKey(worker, taskId)
    const f = this.#failed.get(key)
    if (f === undefined) return
    this.#failed.delete(key)
    const stats = this.#metrics.roles[f.role]
    stats.failedChecks--
    if (f.bad) {
      stats.detected--
      this.#metrics.addToRow(f.row, COL.detected, -1)
    } else {
      this.#metrics.addToRow(f.row, COL.falsePositives, -1)
    }
    this.#accept(f)
  }

  #keepFailed(key: string, failed: Failed): void {
    for (const [old, f] of this.#failed) {
      if (f.at > failed.at - INVOLVED_RETAIN_MS) break
      this.#failed.delete(old)
    }
    this.#failed.set(key, failed)
  }

  /** Committed outputs the creator accepted. */
  get acceptedCount(): number {
    return this.#accepted
  }

  /** Challenges of honest output (of any role's worker): the denominator of the false-positive rate. */
  get honestChecks(): number {
    return this.#honestChecks
  }

  /** Outputs committed and not yet judged. */
  get pending(): number {
    return this.#committed.size
  }

  #take(worker: string, taskId: string): Committed | undefined {
    const key = committedKey(worker, taskId)
    const c = this.#committed.get(key)
    this.#committed.delete(key)
    return c
  }
}
