import { DEFAULT_MIN_STAKE, DEFAULT_PRIORITY_REPUTATION } from './constants.js'
import type { Tier } from './job.js'

/**
 * Who may work on an order of each tier, as in Render Network:
 *
 * - tier 1, trusted partners: only peers on the creator's allowlist;
 * - tier 2, priority: trusted partners, and staked peers whose reputation is at least `priorityReputation`;
 * - tier 3, economy: trusted partners, and any peer whose stake is at least `minStake`.
 *
 * A higher tier admits a subset of a lower one, so a trusted partner may take economy work.
 */
export interface TierPolicyInit {
  /** Peer ids of tier-1 trusted partners. @default [] */
  trustedPartners?: Iterable<string>
  /** A peer's reputation; `@tessera/proof`'s reputation plugs in here. @default () => 0 */
  reputation?: (peerId: string) => number
  /** Tier 2 admits reputation at least this. @default DEFAULT_PRIORITY_REPUTATION */
  priorityReputation?: number
  /** Tiers 2 and 3 admit stake at least this, token units. @default DEFAULT_MIN_STAKE */
  minStake?: bigint
}

/** Why a peer is not admitted to a tier. */
export type TierRefusal = 'allowlist' | 'reputation' | 'stake'

/** A resolved tier policy. */
export class TierPolicy {
  readonly #trusted: ReadonlySet<string>
  readonly reputation: (peerId: string) => number
  readonly priorityReputation: number
  readonly minStake: bigint

  constructor(init: TierPolicyInit = {}) {
    this.#trusted = new Set(init.trustedPartners ?? [])
    this.reputation = init.reputation ?? (() => 0)
    this.priorityReputation = init.priorityReputation ?? DEFAULT_PRIORITY_REPUTATION
    this.minStake = init.minStake ?? DEFAULT_MIN_STAKE
  }

  /** Whether `peerId` is on the tier-1 allowlist. */
  isTrusted(peerId: string): boolean {
    return this.#trusted.has(peerId)
  }

  /**
   * Why `peerId`, with `stake` (undefined when unknown), may not work on an order of `tier`; undefined when it may.
   * An unknown stake counts as zero.
   */
  refusal(tier: Tier, peerId: string, stake: bigint | undefined): TierRefusal | undefined {
    if (this.#trusted.has(peerId)) return undefined
    if (tier === 1) return 'allowlist'
    if ((stake ?? 0n) < this.minStake) return 'stake'
    if (tier === 2 && !(this.reputation(peerId) >= this.priorityReputation)) return 'reputation'
    return undefined
  }
}
