import { describe, expect, it } from 'vitest'
import { SlashLog } from '../src/peer/slash-log.js'
import type { SlashRecord } from '../src/peer/verification.js'

/** A slash whose fraud proof is `bytes` long. */
const slash = (worker: string, bytes: number): SlashRecord => ({
  worker,
  jobId: 'job',
  taskId: 'job/0',
  creator: 'creator',
  fraudProofHash: new Uint8Array(32),
  fraudProof: new Uint8Array(bytes),
  arbitrated: false,
})

describe('SlashLog', () => {
  it('should keep the latest slashes up to its count', () => {
    const log = new SlashLog({ count: 2, bytes: 1_000 })
    for (const w of ['a', 'b', 'c']) log.add(slash(w, 10))
    expect(log.records.map((s) => s.worker)).toEqual(['b', 'c'])
  })

  it('should let go of the oldest once their proofs pass its bytes, always keeping the newest', () => {
    const log = new SlashLog({ count: 10, bytes: 100 })
    log.add(slash('a', 40))
    log.add(slash('b', 40))
    expect(log.records.map((s) => s.worker)).toEqual(['a', 'b'])
    log.add(slash('c', 40))
    expect(log.records.map((s) => s.worker)).toEqual(['b', 'c'])
    // A proof larger than the whole budget is still kept, alone.
    log.add(slash('d', 500))
    expect(log.records.map((s) => s.worker)).toEqual(['d'])
    log.add(slash('e', 10))
    expect(log.records.map((s) => s.worker)).toEqual(['e'])
  })
})
