import { join } from 'node:path'
import type { Order, Result } from '@tessera/core'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { acceptedResultWrite, JobRecords } from '../src/peer/job-records.js'
import { tempDir } from './helpers.js'

const split = { kind: 'render', firstFrame: 0, frames: 1, width: 32, height: 32, tileWidth: 16, tileHeight: 16 }
const order = (jobId: string, issuedAt: number) => ({ jobId, kind: 'render', split, issuedAt }) as unknown as Order
/** A result as a worker signs it, for task `taskId` of job `jobId`. */
const resultOf = (jobId: string, taskId: string): Result => ({
  jobId,
  taskId,
  worker: 'worker',
  root: new Uint8Array(32).fill(1),
  chunks: 1,
  output: `output-of-${taskId}`,
  tolerance: 'psnr:rgba32f',
  computeMs: 5,
  issuedAt: 1_000,
})

describe('JobRecords', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let datastore: Datastore
  const logged: Record<string, unknown>[] = []
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) })

  beforeEach(async () => {
    dir = await tempDir('tessera-jobs-')
    datastore = await Datastore.open(join(dir.path, 'datastore'))
  })

  afterEach(async () => {
    await datastore.close()
    await dir.cleanup()
  })

  it("should know no job by an id that would reach another record's keys", async () => {
    const jobs = new JobRecords(datastore, logger)
    await jobs.put('a', { request: '{}', order: order('a', 1_000) })
    // `summary/a` is the key of a's summary: read or deleted as a job, it would lose a from the list.
    expect(await jobs.get('summary/a')).toBeUndefined()
    await expect(jobs.delete('summary/a')).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
    await expect(jobs.put('../a', { request: '{}' })).rejects.toMatchObject({ code: 'NODE__JOB_NOT_FOUND' })
    expect(await jobs.summaries()).toEqual(new Map([['a', { orderedAt: 1_000, tasks: 4 }]]))
  })

  it('should keep a summary beside each record, with how the job ended once it has', async () => {
    const jobs = new JobRecords(datastore, logger)
    await jobs.put('a', { request: '{}', order: order('a', 1_000) })
    await jobs.put('b', { request: '{}', order: order('b', 2_000), end: { state: 'cancelled', tasks: 4, accepted: 1 } })
    expect(await jobs.summaries()).toEqual(
      new Map([
        ['a', { orderedAt: 1_000, tasks: 4 }],
        ['b', { orderedAt: 2_000, tasks: 4, end: { state: 'cancelled', tasks: 4, accepted: 1 } }],
      ]),
    )
    expect((await jobs.get('b'))?.end?.state).toBe('cancelled')
    // A record that says it ended some unknown way is damaged, not a job to report.
    await datastore.put('jobs', 'c', { order: order('c', 3_000), end: { state: 'vanished', tasks: 4, accepted: 0 } })
    await expect(jobs.get('c')).rejects.toMatchObject({ code: 'NODE__DATASTORE_CORRUPT' })
  })

  it("should summarise an older version's records once, and skip a summary it cannot read", async () => {
    // Written as an older version did: records alone, a completed job holding its results.
    await datastore.put('jobs', 'old-done', { order: order('old-done', 5), results: [{}, {}, {}, {}] as Result[] })
    await datastore.put('jobs', 'old-cut', { order: order('old-cut', 6) })
    await datastore.put('jobs', 'no-order', { request: '{}' })
    const jobs = new JobRecords(datastore, logger)
    const summaries = await jobs.summaries()
    expect(summaries.get('old-done')).toEqual({
      orderedAt: 5,
      tasks: 4,
      end: { state: 'completed', tasks: 4, accepted: 4 },
    })
    expect(summaries.get('old-cut')).toEqual({ orderedAt: 6, tasks: 4 })
    expect(summaries.has('no-order')).toBe(false)
    expect(await datastore.get('meta', 'jobs-summarised')).toBe(1)

    await datastore.put('jobs', 'summary/broken', { orderedAt: 'yesterday' })
    expect([...(await jobs.summaries()).keys()].sort()).toEqual(['old-cut', 'old-done'])
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'record:skipped', key: 'summary/broken' }))
  })

  it('should keep results accepted one by one across a re-open until the record holds them, and delete them with it', async () => {
    const jobs = new JobRecords(datastore, logger)
    await jobs.put('a', { request: '{}', order: order('a', 1_000) })
    await jobs.put('b', { request: '{}', order: order('b', 2_000) })
    // As the accept journal writes them: a result of a and one of b.
    await datastore.batch([acceptedResultWrite('a', 'a/t1', resultOf('a', 'a/t1'))])
    await datastore.batch([acceptedResultWrite('a', 'a/t0', resultOf('a', 'a/t0'))])
    await datastore.batch([acceptedResultWrite('b', 'b/t0', resultOf('b', 'b/t0'))])
    // A crash: the datastore is opened again.
    await datastore.close()
    datastore = await Datastore.open(join(dir.path, 'datastore'))
    const reopened = new JobRecords(datastore, logger)
    expect((await reopened.acceptedResults('a')).map((r) => r.taskId)).toEqual(['a/t0', 'a/t1'])
    expect(await reopened.acceptedResults('a')).toContainEqual(resultOf('a', 'a/t1'))
    // Not a job, not another job's results, nor a summary.
    expect([...(await reopened.summaries()).keys()].sort()).toEqual(['a', 'b'])
    // Once the record holds what a job accepted, its results kept one by one go.
    const end = { state: 'failed', tasks: 4, accepted: 2 } as const
    await reopened.put('a', { order: order('a', 1_000), end, accepted: [resultOf('a', 'a/t0'), resultOf('a', 'a/t1')] })
    expect(await reopened.acceptedResults('a')).toEqual([])
    expect((await reopened.get('a'))?.accepted).toHaveLength(2)
    expect(await reopened.acceptedResults('b')).toHaveLength(1)
    await reopened.delete('b')
    expect(await reopened.acceptedResults('b')).toEqual([])
    expect(await reopened.get('b')).toBeUndefined()
  })
})
