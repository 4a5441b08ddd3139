import { defaultLogger } from '@libp2p/logger'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  domainOf,
  generateIdentity,
  Libp2pMessageBus,
  ManualClock,
  ReplayGuard,
  sealEnvelope,
  TOPICS,
  type Identity,
  type RejectedMessage,
} from '../src/index.js'
import { PeerPenalties } from '../src/node/peer-penalties.js'
import { TopicValidatorResult, type GossipSub, type TopicValidatorFn } from '../src/node/gossip.js'
import { bid, reencode } from './helpers.js'

const now = 1_700_000_000_000

/**
 * The gossip validator's verdicts, driven without a network: which refusals Reject (and cost the relay score) and
 * which only Ignore. The network path is covered by validation.spec.ts.
 */
describe('bus validator', () => {
  let alice: Identity
  let relay: Identity

  beforeAll(async () => {
    alice = await generateIdentity()
    relay = await generateIdentity()
  })

  /** A started bus on a stand-in gossipsub that only records the validators installed. */
  async function busWith(replay: ReplayGuard, penalties = new PeerPenalties(new ManualClock(now))) {
    const validators = new Map<string, TopicValidatorFn>()
    const rejected: RejectedMessage[] = []
    const pubsub = { topicValidators: validators, addEventListener() {} } as unknown as GossipSub
    const bus = new Libp2pMessageBus(
      {
        signer: alice,
        peerId: alice.peerId,
        clock: new ManualClock(now),
        pubsub,
        libp2p: { handle: async () => {}, unhandle: async () => {}, dialProtocol: async () => undefined as never },
        logger: defaultLogger(),
      },
      { replay, penalties, observer: { rejected: (r) => rejected.push(r) } },
    )
    await bus.start()
    const validateBytes = (data: Uint8Array, from = relay) =>
      validators.get(TOPICS.bids)!(from.peerId, { type: 'unsigned', topic: TOPICS.bids, data })
    const validate = (seq: bigint) => validateBytes(seal(seq))
    return { validate, validateBytes, rejected }
  }

  const seal = (seq: bigint, jobId?: string) =>
    sealEnvelope(alice, bid(alice.peerId.toString(), jobId), {
      domain: domainOf(TOPICS.bids),
      seq,
      expiresAt: now + 60_000,
    })

  it('should ignore, not reject, an envelope the full replay guard cannot remember', async () => {
    const { validate, rejected } = await busWith(new ReplayGuard(1, 1))
    expect(await validate(1n)).toBe(TopicValidatorResult.Accept)
    expect(await validate(2n)).toBe(TopicValidatorResult.Ignore)
    expect(rejected).toMatchObject([{ code: 'CORE__REPLAY_GUARD_FULL', penalised: false }])
  })

  it('should ignore a replay, charging nothing to the relay that could not know it was one', async () => {
    const penalties = new PeerPenalties(new ManualClock(now))
    const { validateBytes, rejected } = await busWith(new ReplayGuard(), penalties)
    const newcomer = await generateIdentity()
    const captured = seal(1n)
    expect(await validateBytes(captured, relay)).toBe(TopicValidatorResult.Accept)
    // Replayed to a newcomer, which had not seen it and handed it on: it is dropped, and the newcomer not punished.
    expect(await validateBytes(captured, newcomer)).toBe(TopicValidatorResult.Ignore)
    expect(rejected).toMatchObject([
      { from: newcomer.peerId.toString(), code: 'CORE__MESSAGE_REPLAYED', penalised: false },
    ])
    expect(penalties.score(newcomer.peerId.toString())).toBe(0)
  })

  it('should charge an equivocation to its signer, not to the honest peers that relay its two envelopes', async () => {
    const penalties = new PeerPenalties(new ManualClock(now))
    const { validateBytes, rejected } = await busWith(new ReplayGuard(), penalties)
    const other = await generateIdentity()
    // Alice signs two bids under one seq and hands one to each side; honest relays pass each on to us.
    expect(await validateBytes(seal(1n, 'job-a'), relay)).toBe(TopicValidatorResult.Accept)
    expect(await validateBytes(seal(1n, 'job-b'), other)).toBe(TopicValidatorResult.Ignore)
    expect(rejected).toMatchObject([
      { from: other.peerId.toString(), code: 'CORE__MESSAGE_EQUIVOCATED', penalised: false },
    ])
    expect(penalties.score(other.peerId.toString())).toBe(0)
    expect(penalties.score(relay.peerId.toString())).toBe(0)
    expect(penalties.score(alice.peerId.toString())).toBeLessThan(0)
    // Alice is distrusted: her next envelope is dropped, and costs the relay that did not know nothing.
    expect(await validateBytes(seal(2n), relay)).toBe(TopicValidatorResult.Ignore)
    expect(rejected[1]).toMatchObject({ code: 'CORE__SIGNER_DISTRUSTED', penalised: false })
    // Handing on her own equivocation, the signer is the relay, and pays as one too.
    expect(await validateBytes(seal(1n, 'job-c'), alice)).toBe(TopicValidatorResult.Reject)
  })

  it('should reject a re-encoded copy of an envelope from its relay, and accept the original after it', async () => {
    const { validateBytes, rejected } = await busWith(new ReplayGuard())
    const mallory = await generateIdentity()
    const honest = seal(1n)
    // Another message id (ids hash the bytes) for the same signed fields: it must not win the race to the guard.
    expect(await validateBytes(reencode(honest, 'float'), mallory)).toBe(TopicValidatorResult.Reject)
    expect(rejected).toMatchObject([
      { from: mallory.peerId.toString(), code: 'CORE__MALFORMED_MESSAGE', penalised: true },
    ])
    expect(await validateBytes(honest)).toBe(TopicValidatorResult.Accept)
    expect(rejected).toHaveLength(1)
  })
})
