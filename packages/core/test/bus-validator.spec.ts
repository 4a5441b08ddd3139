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
import { bid } from './helpers.js'

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
    const validate = (seq: bigint) =>
      validators.get(TOPICS.bids)!(relay.peerId, {
        type: 'unsigned',
        topic: TOPICS.bids,
        data: sealEnvelope(alice, bid(alice.peerId.toString()), {
          domain: domainOf(TOPICS.bids),
          seq,
          expiresAt: now + 60_000,
        }),
      })
    return { validate, rejected }
  }

  it('should ignore, not reject, an envelope the full replay guard cannot remember', async () => {
    const { validate, rejected } = await busWith(new ReplayGuard(1, 1))
    expect(await validate(1n)).toBe(TopicValidatorResult.Accept)
    expect(await validate(2n)).toBe(TopicValidatorResult.Ignore)
    expect(rejected).toMatchObject([{ code: 'CORE__REPLAY_GUARD_FULL', penalised: false }])
    // A replay is still the relay's doing.
    expect(await validate(1n)).toBe(TopicValidatorResult.Reject)
    expect(rejected[1]).toMatchObject({ code: 'CORE__MESSAGE_REPLAYED', penalised: true })
  })
})
