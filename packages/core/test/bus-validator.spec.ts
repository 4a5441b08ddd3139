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
  async function busWith(replay: ReplayGuard) {
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
      { replay, observer: { rejected: (r) => rejected.push(r) } },
    )
    await bus.start()
    const validateBytes = (data: Uint8Array, from = relay) =>
      validators.get(TOPICS.bids)!(from.peerId, { type: 'unsigned', topic: TOPICS.bids, data })
    const validate = (seq: bigint) => validateBytes(seal(seq))
    return { validate, validateBytes, rejected }
  }

  const seal = (seq: bigint) =>
    sealEnvelope(alice, bid(alice.peerId.toString()), { domain: domainOf(TOPICS.bids), seq, expiresAt: now + 60_000 })

  it('should ignore, not reject, an envelope the full replay guard cannot remember', async () => {
    const { validate, rejected } = await busWith(new ReplayGuard(1, 1))
    expect(await validate(1n)).toBe(TopicValidatorResult.Accept)
    expect(await validate(2n)).toBe(TopicValidatorResult.Ignore)
    expect(rejected).toMatchObject([{ code: 'CORE__REPLAY_GUARD_FULL', penalised: false }])
    // A replay is still the relay's doing.
    expect(await validate(1n)).toBe(TopicValidatorResult.Reject)
    expect(rejected[1]).toMatchObject({ code: 'CORE__MESSAGE_REPLAYED', penalised: true })
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
