import { open, readFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MAX_JOURNAL_LINE_BYTES } from '../src/constants.js'
import { DurableLog } from '../src/durable-file.js'
import { isLedgerError } from '../src/errors.js'
import { SettlementJournal, type IntentRecord } from '../src/journal.js'
import { tempDir } from './support/fixtures.js'

type Row = { n: number; text: string }

const options = { corruptCode: 'LEDGER__JOURNAL_CORRUPT', maxLineBytes: MAX_JOURNAL_LINE_BYTES } as const

/** The prototype every `FileHandle` shares: the file system as `DurableLog` sees it. */
async function fileHandlePrototype(path: string): Promise<FileHandle> {
  const handle = await open(path, 'a')
  await handle.close()
  return Object.getPrototypeOf(handle) as FileHandle
}

const diskFull = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })

describe('DurableLog', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let path: string
  let handles: FileHandle

  beforeEach(async () => {
    dir = await tempDir()
    path = join(dir.path, 'log')
    handles = await fileHandlePrototype(path)
  })

  afterEach(async () => {
    vi.restoreAllMocks()
    await dir.remove()
  })

  /** The next append writes the first `bytes` of its line, then fails as a full disk does. */
  function shortWriteOnce(bytes: number): void {
    const real = handles.appendFile
    vi.spyOn(handles, 'appendFile').mockImplementationOnce(async function (this: FileHandle, data) {
      await real.call(this, String(data).slice(0, bytes), 'utf8')
      throw diskFull()
    })
  }

  it('should cut off what a failed append wrote, so the lines after it and the next open stay whole', async () => {
    const { log } = await DurableLog.open<Row>(path, options)
    await log.append({ n: 1, text: 'first' })
    shortWriteOnce(12)
    const error = await log.append({ n: 2, text: 'torn' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ENOSPC' })
    expect((await readFile(path, 'utf8')).endsWith('\n')).toBe(true)
    await log.append({ n: 3, text: 'third' })
    await log.close()
    const reopened = await DurableLog.open<Row>(path, options)
    expect(reopened.records).toEqual([
      { n: 1, text: 'first' },
      { n: 3, text: 'third' },
    ])
    await reopened.log.close()
  })

  it('should leave a settlement journal that opens, with every record acknowledged after a failed append', async () => {
    const intent = (key: string): IntentRecord => ({
      t: 'intent',
      key,
      attempt: 1,
      digest: 'd',
      signature: `s-${key}`,
      nonceAccount: 'n',
      nonce: 'v',
      wire: 'AA==',
      meta: {},
    })
    const journal = await SettlementJournal.open(path)
    await journal.append(intent('k/1'))
    shortWriteOnce(40)
    await expect(journal.append(intent('k/2'))).rejects.toMatchObject({ code: 'ENOSPC' })
    // The node carries on: the next action's intent is journaled (its transaction sent), then confirmed.
    await journal.append(intent('k/3'))
    await journal.append({ t: 'confirmed', key: 'k/3', attempt: 1, signature: 's-k/3' })
    await journal.close()
    const reopened = await SettlementJournal.open(path)
    expect(reopened.get('k/1')?.t).toBe('intent')
    expect(reopened.get('k/2')).toBeUndefined()
    expect(reopened.get('k/3')?.t).toBe('confirmed')
    await reopened.close()
  })

  it('should cut off a whole line whose sync failed: its append was refused', async () => {
    const { log } = await DurableLog.open<Row>(path, options)
    await log.append({ n: 1, text: 'first' })
    vi.spyOn(handles, 'datasync').mockRejectedValueOnce(new Error('EIO: i/o error, fsync'))
    await expect(log.append({ n: 2, text: 'unsynced' })).rejects.toThrow('EIO')
    await log.append({ n: 3, text: 'third' })
    await log.close()
    const reopened = await DurableLog.open<Row>(path, options)
    expect(reopened.records.map((r) => r.n)).toEqual([1, 3])
    await reopened.log.close()
  })

  it('should refuse appends once a failed one cannot be cut off, and open dropping its torn line', async () => {
    const { log } = await DurableLog.open<Row>(path, options)
    await log.append({ n: 1, text: 'first' })
    shortWriteOnce(12)
    vi.spyOn(handles, 'truncate').mockRejectedValueOnce(diskFull())
    // Both called before the first has failed: the second waits its turn and must not land after the fragment.
    const torn = log.append({ n: 2, text: 'torn' }).catch((e: unknown) => e)
    const queued = log.append({ n: 3, text: 'queued' }).catch((e: unknown) => e)
    expect(await torn).toMatchObject({ code: 'ENOSPC' })
    const refused = await queued
    expect(isLedgerError(refused, 'LEDGER__LOG_WRITE_FAILED')).toBe(true)
    expect((refused as Error).cause).toMatchObject({ code: 'ENOSPC' })
    const later = await log.append({ n: 4, text: 'later' }).catch((e: unknown) => e)
    expect(isLedgerError(later, 'LEDGER__LOG_WRITE_FAILED')).toBe(true)
    await expect(log.replace([{ n: 1, text: 'first' }])).rejects.toMatchObject({ code: 'LEDGER__LOG_WRITE_FAILED' })
    await log.close()
    expect((await readFile(path, 'utf8')).endsWith('\n')).toBe(false)

    const reopened = await DurableLog.open<Row>(path, options)
    expect(reopened.records).toEqual([{ n: 1, text: 'first' }])
    await reopened.log.append({ n: 5, text: 'after restart' })
    await reopened.log.close()
    const again = await DurableLog.open<Row>(path, options)
    expect(again.records.map((r) => r.n)).toEqual([1, 5])
    await again.log.close()
  })

  it('should cut a failed append back to the end of a file it was rewritten to', async () => {
    const { log } = await DurableLog.open<Row>(path, options)
    await log.append({ n: 1, text: 'first' })
    await log.append({ n: 2, text: 'second' })
    await log.replace([{ n: 2, text: 'second' }])
    shortWriteOnce(12)
    await expect(log.append({ n: 3, text: 'torn' })).rejects.toMatchObject({ code: 'ENOSPC' })
    await log.append({ n: 4, text: 'fourth' })
    await log.close()
    const reopened = await DurableLog.open<Row>(path, options)
    expect(reopened.records.map((r) => r.n)).toEqual([2, 4])
    await reopened.log.close()
  })
})
