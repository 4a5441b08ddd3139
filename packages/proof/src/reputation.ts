import { dedupeKey, type Verdict } from '@tessera/core'
import {
  DEFAULT_ARBITRATED_WEIGHT,
  DEFAULT_FAILURE_WEIGHT,
  DEFAULT_PRIOR_FAILED,
  DEFAULT_PRIOR_VALID,
  DEFAULT_STAKE_HALF_WEIGHT,
  DEFAULT_MAX_ISSUER_WEIGHT,
  DEFAULT_MAX_SEEN_PER_ISSUER,
  DEFAULT_MAX_SEEN_VERDICTS,
  MAX_TRACKED_PEERS,
} from './constants.js'
import { ProofError } from './errors.js'

/** Evidence slots allocated up front; the store doubles as peers are met. */
const INITIAL_SLOTS = 16

/** The stake (token units) a peer has bonded, as the ledger knows it; undefined or 0 for none. */
export type StakeLookup = (peerId: string) => bigint | number | undefined

/** Options of a {@link Reputation}. */
export interface ReputationOptions {
  /**
   * Stake of a verdict's issuer; gossiped verdicts are weighted by it.
   * @default () => 0 (gossip counts for nothing)
   */
  stakeOf?: StakeLookup
  /**
   * Prior pseudo-count of valid results.
   * @default 1
   */
  priorValid?: number
  /**
   * Prior pseudo-count of failed results: with the defaults a new identity scores 1/(1+4) = 0.2.
   * @default 4
   */
  priorFailed?: number
  /**
   * One failure weighs as much as this many valid results.
   * @default 5
   */
  failureWeight?: number
  /**
   * Issuer stake at which a gossiped verdict weighs half as much as one of our own.
   * @default 1000000n
   */
  stakeHalfWeight?: bigint | number
  /**
   * Extra weight of a gossiped failure confirmed by arbitration (round 1 or later).
   * @default 2
   */
  arbitratedWeight?: number
  /**
   * Peers remembered at most; the least recently updated are forgotten (and score as new again).
   * @default 100000
   */
  maxTracked?: number
  /**
   * Unsolicited gossiped verdicts remembered, to count each once; once full, such gossip counts no more.
   * @default 10000
   */
  maxSeen?: number
  /**
   * Of `maxSeen`, what one issuer's verdicts may fill; its later unsolicited verdicts count no more.
   * @default 1000
   */
  maxSeenPerIssuer?: number
  /**
   * The most one issuer's unsolicited gossip adds to one peer's valid count, and to its failed count.
   * @default 2
   */
  maxIssuerWeight?: number
  /**
   * Called with a peer's evidence each time it changes (not when the peer is forgotten), e.g. to keep it on disk
   * across restarts (see {@link Reputation.restore}).
   */
  onUpdate?: (peerId: string, evidence: Evidence) => void
}

/** Evidence about one peer: weighted counts of valid and failed results. */
export interface Evidence {
  valid: number
  failed: number
}

/** How {@link Reputation.observe} takes a verdict. */
export interface ObserveOptions {
  /**
   * The verdict answers a check of ours: our delegate's verdict on a result we asked it to check, or an arbiter's
   * ruling on an accusation we made or watch. Those come one per check and round, so they are neither capped per
   * issuer nor limited by `maxSeen`; and an unproven failure counts as a proven one does, since we asked for it.
   * @default false
   */
  solicited?: boolean
  /**
   * The verdict is our own delegate's, on a check we handed it (implies `solicited`): it counts as a check of our own
   * would, whatever the issuer's stake, since we chose the delegate by its score and pay it for the check. Without
   * this, a node with no stake lookup counted its delegated checks for nothing.
   * @default false
   */
  delegated?: boolean
}

/** What one issuer's unsolicited gossip has been given: the verdicts counted, and the weight given per subject. */
interface IssuerTally {
  readonly seen: Set<string>
  readonly given: Map<string, Evidence>
}

/**
 * Reputation from verdicts, as a beta-style score in [0, 1]:
 *
 *   score = (a + V) / (a + b + V + k·F)
 *
 * with priors `a`, `b`, valid weight `V`, failure weight `F` and `k` the failure weight. Our own verdicts count 1
 * each. A gossiped verdict counts `s / (s + s½)` where `s` is its issuer's stake, so:
 *
 * - whitewashing does not pay: a fresh identity scores `a/(a+b)` (0.2 by default), below any worker with a record;
 * - smearing does not pay: an accuser without stake barely moves a score, and moving it far takes stake that a
 *   proven false accusation can slash;
 * - a failure confirmed by arbitration weighs `arbitratedWeight` times more, an unproven one (no fraud proof) half;
 * - one issuer's unsolicited gossip moves a peer at most `maxIssuerWeight` each way: a staked issuer can sign verdicts
 *   about tasks that never were, but cannot raise a Sybil or sink a worker alone. A verdict answering a check of
 *   ours counts whole ({@link ObserveOptions}).
 *
 * The scheduler's tier-2 gate reads {@link Reputation.score}.
 */
export class Reputation {
  /**
   * Each tracked peer's slot, least recently updated first. A slot's evidence is two doubles in `#counts` (valid,
   * failed): an `Evidence` object per peer cost three heap objects (it and its two boxed doubles), and a simulated
   * network holds millions of (creator, worker) pairs that the collector walks again and again.
   */
  readonly #slots = new Map<string, number>()
  #counts = new Float64Array(2 * INITIAL_SLOTS)
  readonly #freeSlots: number[] = []
  #usedSlots = 0
  /** Per issuer, never evicted: a verdict or a weight forgotten could be counted again. */
  readonly #issuers = new Map<string, IssuerTally>()
  #seenCount = 0
  /**
   * The list last passed to {@link scoresOf}, with each peer's slot (-1 while it has none) kept current as slots are
   * assigned and evicted: a verifier machine scores its hundred or so verifiers on every check it delegates, and a
   * map lookup per verifier per check was 3% of the simulator's CPU at 100,000 peers.
   */
  #listed: readonly string[] = []
  #listedIndex = new Map<string, number>()
  #listedSlots = new Int32Array(0)
  readonly #stakeOf: StakeLookup
  readonly #a: number
  readonly #b: number
  readonly #k: number
  readonly #half: number
  readonly #arbitrated: number
  readonly #maxTracked: number
  readonly #maxSeen: number
  readonly #maxSeenPerIssuer: number
  readonly #maxIssuerWeight: number
  readonly #onUpdate: ((peerId: string, evidence: Evidence) => void) | undefined

  constructor(options: ReputationOptions = {}) {
    this.#stakeOf = options.stakeOf ?? (() => 0)
    this.#a = options.priorValid ?? DEFAULT_PRIOR_VALID
    this.#b = options.priorFailed ?? DEFAULT_PRIOR_FAILED
    this.#k = options.failureWeight ?? DEFAULT_FAILURE_WEIGHT
    this.#half = Number(options.stakeHalfWeight ?? DEFAULT_STAKE_HALF_WEIGHT)
    this.#arbitrated = options.arbitratedWeight ?? DEFAULT_ARBITRATED_WEIGHT
    this.#maxTracked = options.maxTracked ?? MAX_TRACKED_PEERS
    this.#maxSeen = options.maxSeen ?? DEFAULT_MAX_SEEN_VERDICTS
    this.#maxSeenPerIssuer = options.maxSeenPerIssuer ?? DEFAULT_MAX_SEEN_PER_ISSUER
    this.#maxIssuerWeight = options.maxIssuerWeight ?? DEFAULT_MAX_ISSUER_WEIGHT
    this.#onUpdate = options.onUpdate
    if (!(this.#maxIssuerWeight >= 0)) {
      throw new ProofError('PROOF__INVALID_INPUT', 'reputation needs maxIssuerWeight >= 0', {
        maxIssuerWeight: this.#maxIssuerWeight,
      })
    }
    if (!(this.#a > 0 && this.#b >= 0 && this.#k > 0 && this.#half > 0 && this.#arbitrated > 0)) {
      throw new ProofError(
        'PROOF__INVALID_INPUT',
        'reputation needs priorValid > 0, priorFailed >= 0 and positive weights',
        {
          priorValid: this.#a,
          priorFailed: this.#b,
          failureWeight: this.#k,
        },
      )
    }
  }

  /** The peer's score in [0, 1]; a peer never seen scores `a/(a+b)`. */
  score(peerId: string): number {
    return this.#scoreAt(this.#slots.get(peerId) ?? -1)
  }

  /**
   * Writes the {@link score} of each of `peers` to `out`, from `offset` on. Meant for a list asked about again and
   * again (a machine's verifiers): while the same array is passed, the scores are read without a lookup per peer.
   * The array must not change in place; pass a new one instead.
   */
  scoresOf(peers: readonly string[], out: Float64Array, offset = 0): void {
    if (peers !== this.#listed) this.#list(peers)
    for (let i = 0; i < peers.length; i++) out[offset + i] = this.#scoreAt(this.#listedSlots[i] as number)
  }

  /** The score of the evidence in `slot`, or of no evidence when `slot` is -1. */
  #scoreAt(slot: number): number {
    const v = slot < 0 ? 0 : (this.#counts[2 * slot] as number)
    const f = slot < 0 ? 0 : (this.#counts[2 * slot + 1] as number)
    return (this.#a + v) / (this.#a + this.#b + v + this.#k * f)
  }

  #list(peers: readonly string[]): void {
    this.#listed = peers
    this.#listedIndex = new Map()
    this.#listedSlots = new Int32Array(peers.length)
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i] as string
      if (!this.#listedIndex.has(peer)) this.#listedIndex.set(peer, i)
      this.#listedSlots[i] = this.#slots.get(peer) ?? -1
    }
  }

  /** Keeps the listed peers' slots current when `peerId` gains or loses one. */
  #relist(peerId: string, slot: number): void {
    const i = this.#listedIndex.get(peerId)
    if (i === undefined) return
    // A peer listed twice keeps its first index in the map; refresh every copy.
    for (let j = i; j < this.#listed.length; j++) if (this.#listed[j] === peerId) this.#listedSlots[j] = slot
  }

  /** The weighted evidence held about a peer. */
  evidence(peerId: string): Evidence {
    const slot = this.#slots.get(peerId)
    if (slot === undefined) return { valid: 0, failed: 0 }
    return { valid: this.#counts[2 * slot] as number, failed: this.#counts[2 * slot + 1] as number }
  }

  /**
   * Sets a peer's evidence as kept from an earlier run (most recently updated last, so call it oldest first); does
   * not call `onUpdate`. Counts that are not finite and non-negative are refused (`PROOF__INVALID_INPUT`).
   */
  restore(peerId: string, evidence: Evidence): void {
    const { valid, failed } = evidence
    if (!(Number.isFinite(valid) && valid >= 0 && Number.isFinite(failed) && failed >= 0)) {
      throw new ProofError('PROOF__INVALID_INPUT', 'evidence counts must be finite and non-negative', {
        peerId,
        valid,
        failed,
      })
    }
    const slot = this.#slots.get(peerId)
    if (slot !== undefined) {
      this.#counts[2 * slot] = 0
      this.#counts[2 * slot + 1] = 0
    }
    this.#add(peerId, valid, failed, false)
  }

  /** Records the outcome of a check this node made itself. */
  recordLocal(peerId: string, outcome: Verdict['outcome']): void {
    this.#add(peerId, outcome === 'pass' ? 1 : 0, outcome === 'pass' ? 0 : 1)
  }

  /**
   * Weighs a verdict gossiped by `issuer` (the envelope's signer, which core checks is `verdict.verifier`) and
   * returns the weight it was given. A peer judging itself, a verdict not issued by its signer, an issuer without
   * stake, and a second verdict by an issuer about a (job, task, worker) it already judged weigh 0, whatever their
   * round. The worker is part of it: a task re-awarded after a failed check is judged again, about its next worker.
   *
   * An issuer's first verdict on a Result is its word on it; a later one is ignored, not swapped in. An honest
   * issuer judges a Result once (an accuser repeats its round-0 failure to each arbiter it asks, an arbiter judges
   * one round, and no peer arbitrates its own accusation), so a second verdict is a repeat or a bid to be counted
   * again: when each round counted, one signed Result and rounds 1 to 16 gave an issuer's word sixteen times its
   * weight. Replacing would keep each verdict's weight rather than a digest, and let an issuer re-weigh its word,
   * say its round-0 failure re-sent as round 1 to weigh `arbitratedWeight` times as much.
   *
   * Unsolicited gossip names tasks nobody here can check exist, so a staked issuer could sign any number about tasks
   * that never were: what one issuer's unsolicited verdicts add to a peer's valid count, and to its failed count, is
   * capped at `maxIssuerWeight`, and the verdicts counted are remembered per issuer and never forgotten (a verdict
   * forgotten could count again), so once `maxSeen` of them are held, or `maxSeenPerIssuer` of one issuer's, further
   * unsolicited gossip (from it) counts for nothing. A verdict answering a check of ours ({@link ObserveOptions})
   * counts whole.
   */
  observe(verdict: Verdict, issuer: string, options: ObserveOptions = {}): number {
    if (issuer !== verdict.verifier || issuer === verdict.worker) return 0
    const stake = options.delegated === true ? 1 : this.stakeWeight(issuer)
    // Looked at before anything is remembered: an issuer without stake fills no memory.
    if (stake === 0) return 0
    // Remembered as a short digest: the joined key is some 200 characters, and a simulated network's creators
    // remember a million of them.
    const key = dedupeKey([issuer, verdict.jobId, verdict.taskId, verdict.worker].join('\u0000'))
    const tally = this.#issuers.get(issuer)
    if (tally?.seen.has(key) === true) return 0
    const solicited = options.solicited === true || options.delegated === true
    const pass = verdict.outcome === 'pass'
    let weight = stake
    if (!pass) {
      if (verdict.fraudProof === undefined) weight *= solicited ? 1 : 0.5
      else if (verdict.round >= 1) weight *= this.#arbitrated
    }
    const remembered = this.#remember(issuer, tally, key)
    if (solicited) {
      this.#add(verdict.worker, pass ? weight : 0, pass ? 0 : weight)
      return weight
    }
    if (remembered === undefined) return 0
    let given = remembered.given.get(verdict.worker)
    if (given === undefined) {
      given = { valid: 0, failed: 0 }
      remembered.given.set(verdict.worker, given)
    }
    const counted = Math.min(weight, this.#maxIssuerWeight - (pass ? given.valid : given.failed))
    if (!(counted > 0)) return 0
    if (pass) given.valid += counted
    else given.failed += counted
    this.#add(verdict.worker, pass ? counted : 0, pass ? 0 : counted)
    return counted
  }

  /** Remembers `key` among `issuer`'s verdicts and returns its tally, or undefined when there is no room left. */
  #remember(issuer: string, tally: IssuerTally | undefined, key: string): IssuerTally | undefined {
    if (this.#seenCount >= this.#maxSeen || (tally !== undefined && tally.seen.size >= this.#maxSeenPerIssuer)) {
      return undefined
    }
    let kept = tally
    if (kept === undefined) {
      kept = { seen: new Set(), given: new Map() }
      this.#issuers.set(issuer, kept)
    }
    kept.seen.add(key)
    this.#seenCount++
    return kept
  }

  /** `s / (s + s½)`: how much a verdict by this issuer counts next to one of our own. */
  stakeWeight(issuer: string): number {
    const raw = this.#stakeOf(issuer)
    const s = raw === undefined ? 0 : Number(raw)
    return s > 0 && Number.isFinite(s) ? s / (s + this.#half) : 0
  }

  /** Peers with evidence (for metrics). */
  get tracked(): number {
    return this.#slots.size
  }

  #add(peerId: string, valid: number, failed: number, notify = true): void {
    let slot = this.#slots.get(peerId)
    if (slot === undefined) {
      if (this.#slots.size >= this.#maxTracked) {
        // Forget the least recently updated peer; its slot is reused.
        const oldest = this.#slots.entries().next()
        if (oldest.done !== true) {
          this.#slots.delete(oldest.value[0])
          this.#freeSlots.push(oldest.value[1])
          this.#relist(oldest.value[0], -1)
        }
      }
      slot = this.#freeSlots.pop() ?? this.#newSlot()
      this.#counts[2 * slot] = 0
      this.#counts[2 * slot + 1] = 0
      this.#relist(peerId, slot)
    } else {
      // Re-inserted below, so the map's order stays least recently updated first.
      this.#slots.delete(peerId)
    }
    this.#counts[2 * slot] = (this.#counts[2 * slot] as number) + valid
    this.#counts[2 * slot + 1] = (this.#counts[2 * slot + 1] as number) + failed
    this.#slots.set(peerId, slot)
    if (notify && this.#onUpdate !== undefined) {
      this.#onUpdate(peerId, { valid: this.#counts[2 * slot] as number, failed: this.#counts[2 * slot + 1] as number })
    }
  }

  #newSlot(): number {
    if (2 * (this.#usedSlots + 1) > this.#counts.length) {
      const grown = new Float64Array(this.#counts.length * 2)
      grown.set(this.#counts)
      this.#counts = grown
    }
    return this.#usedSlots++
  }
}
