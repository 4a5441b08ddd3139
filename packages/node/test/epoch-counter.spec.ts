import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { EpochCounter } from '../src/peer/epoch-counter.js'
import { tempDir } from './helpers.js'

describe('EpochCounter', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore

  beforeEach(async () => {
    tmp = await tempDir()
    datastore = await Datastore.open(join(tmp.path, 'datastore'))
  })

  afterEach(async () => {
    await datastore.close()
    await tmp.cleanup()
  })

  it('should hand out each epoch once across restarts, from 1 on a fresh datastore', async () => {
    const first = await EpochCounter.open(datastore)
    expect([first.take(), first.take()]).toEqual([1, 2])
    await first.save()
    expect((await EpochCounter.open(datastore)).take()).toBe(3)
  })

  // Read as 0 before: the next job was handed epoch 1 again, and its funding failed as LEDGER__ACTION_RETIRED.
  it.each([
    ['a bigint past 2^53', 2n ** 60n],
    ['a string', '7'],
    ['a negative number', -1],
    ['a fraction', 1.5],
  ])('should refuse a counter record holding %s as NODE__DATASTORE_CORRUPT, not count from 0', async (_, value) => {
    await datastore.put('settlement', 'epoch', value)
    await expect(EpochCounter.open(datastore)).rejects.toMatchObject({
      code: 'NODE__DATASTORE_CORRUPT',
      message: expect.stringContaining('settlement epoch counter'),
      context: { ns: 'settlement', key: 'epoch' },
    })
  })
})
