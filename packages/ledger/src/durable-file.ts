import { constants } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { removeTemporaries, replaceFile, sha256, syncDirectory } from '@tessera/core'
import { bytesToHex } from '@noble/hashes/utils.js'
import { LedgerError, type LedgerErrorCode } from './errors.js'

/**
 * Crash-safe logs: checksummed lines synced before the append resolves, rewritten whole with core's `replaceFile`
 * (a reader sees the old file or the new one, never half of one).
 */

const DIR_MODE = 0o700

const CHECKSUM_CHARS = 16

function checksumOf(json: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(json))).slice(0, CHECKSUM_CHARS)
}

export interface DurableLogOptions {
  /** The code thrown when a line in the middle of the file does not check out. */
  corruptCode: LedgerErrorCode
  maxLineBytes: number
}

/** The largest log opened: what Node reads into one buffer (`readFile` refuses more, uncoded). */
const MAX_LOG_BYTES = 2 ** 31 - 1

/**
 * How a log is opened: created if absent, appended to, and without blocking, so that a named pipe in its place is
 * opened (and then refused) rather than waited on.
 */
const LOG_OPEN_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | (constants.O_NONBLOCK ?? 0)

/**
 * An append-only log of JSON records, one per line as `<json>\t<checksum>`. Each append is synced before it
 * resolves. A torn last line (the process died mid-append, before the append resolved) is cut off on open;
 * a damaged line anywhere else is corruption and is refused with a coded error rather than skipped. An append that
 * fails part-way is cut off at once, so the lines after it stay whole (see {@link append}).
 */
export class DurableLog<T> {
  readonly path: string
  readonly #options: DurableLogOptions
  #handle: FileHandle
  /** Bytes of the whole lines in the file: where a failed append is cut back to. */
  #size: number
  #tail: Promise<void> = Promise.resolve()
  #closed = false
  /** Why no append may land: one failed and could not be cut back (see {@link append}). */
  #failure: { cause: unknown; cutBack: unknown } | undefined

  private constructor(path: string, handle: FileHandle, size: number, options: DurableLogOptions) {
    this.path = path
    this.#handle = handle
    this.#size = size
    this.#options = options
  }

  /**
   * Opens (creating) the log at `path` and returns it with the records already in it. Anything but a regular file
   * there (a link to /dev/zero, a named pipe) is refused unread with `options.corruptCode`.
   */
  static async open<T>(path: string, options: DurableLogOptions): Promise<{ log: DurableLog<T>; records: T[] }> {
    await mkdir(dirname(path), { recursive: true, mode: DIR_MODE })
    // A rewrite (`replace`) a crash cut short left its temporary file behind.
    await removeTemporaries(path)
    const handle = await open(path, LOG_OPEN_FLAGS, 0o600)
    try {
      // Kept as bytes and decoded a line at a time: one string of the whole file would cap a log at V8's largest
      // string (about 512 MiB), past which the node could not start. Past what one read takes, a coded refusal.
      const info = await handle.stat()
      // A link to /dev/zero has size 0 and never ends; a pipe blocks the read for good.
      if (!info.isFile()) {
        throw new LedgerError(options.corruptCode, `${path} is not a regular file; restore it from a backup`, { path })
      }
      const { size } = info
      if (size > MAX_LOG_BYTES) {
        throw new LedgerError(
          options.corruptCode,
          `${path} holds ${size} bytes, more than a log is read whole (${MAX_LOG_BYTES}); retire settled actions or archive it`,
          { path, size, max: MAX_LOG_BYTES },
        )
      }
      const bytes = await readPrefix(handle, size)
      const { records, validBytes } = parseLog<T>(bytes, path, options)
      if (validBytes < bytes.byteLength) await handle.truncate(validBytes)
      await handle.sync()
      await syncDirectory(dirname(path))
      return { log: new DurableLog<T>(path, handle, validBytes, options), records }
    } catch (e) {
      await handle.close()
      throw e
    }
  }

  /**
   * Appends one record and syncs it to disk. Appends run one at a time, in call order. One that fails (a full disk
   * can write part of a line, then refuse the rest) is cut back off the file before it rejects: a fragment left
   * there would glue the next line to it, and the next open would refuse the whole file as damaged in the middle.
   * If even that fails, every later append and replace is refused (`LEDGER__LOG_WRITE_FAILED`), so the fragment
   * stays the torn last line that the next open drops.
   */
  append(record: T): Promise<void> {
    let line: string
    try {
      line = this.#lineOf(record)
    } catch (e) {
      return Promise.reject(e as Error)
    }
    return this.#serial(async () => {
      try {
        await this.#handle.appendFile(line, 'utf8')
        await this.#handle.datasync()
      } catch (e) {
        await this.#cutBack(e)
        throw e
      }
      this.#size += Buffer.byteLength(line, 'utf8')
    })
  }

  /**
   * Cuts the file back to its whole lines after the append that failed with `cause`, and syncs the cut: a line
   * whose sync failed is cut too, since its append was refused. A cut that fails marks the log failed.
   */
  async #cutBack(cause: unknown): Promise<void> {
    try {
      await this.#handle.truncate(this.#size)
      await this.#handle.datasync()
    } catch (cutBack) {
      this.#failure = { cause, cutBack }
    }
  }

  /**
   * Replaces every record in the log with `records`, atomically: a crash leaves the old file or the new one, never
   * a mix. Runs after the appends already called; appends called later go to the new file.
   */
  replace(records: readonly T[]): Promise<void> {
    let bytes: Uint8Array
    try {
      bytes = new TextEncoder().encode(records.map((r) => this.#lineOf(r)).join(''))
    } catch (e) {
      return Promise.reject(e as Error)
    }
    return this.#serial(async () => {
      const failure = await replaceFile(this.path, bytes).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      // Reopen by path whether or not the rename happened, so appends land in the file a restart reads. A log that
      // cannot reopen is closed: its appends fail rather than go nowhere.
      await this.#handle.close()
      try {
        this.#handle = await open(this.path, 'a', 0o600)
        // The old file or the new one, whichever the rename left.
        this.#size = (await this.#handle.stat()).size
      } catch (e) {
        this.#closed = true
        throw e
      }
      if (failure !== undefined) throw failure
    })
  }

  /** A record's line; refused when it is longer than a reader accepts, which would read back as damage. */
  #lineOf(record: T): string {
    const line = lineOf(record)
    const bytes = Buffer.byteLength(line, 'utf8') - 1
    if (bytes > this.#options.maxLineBytes) {
      throw new LedgerError('LEDGER__INVALID_INPUT', `a record of ${bytes} bytes does not fit ${this.path}`, {
        path: this.path,
        bytes,
        limit: this.#options.maxLineBytes,
      })
    }
    return line
  }

  #serial(work: () => Promise<void>): Promise<void> {
    if (this.#closed) return Promise.reject(new LedgerError('LEDGER__INVALID_INPUT', `log ${this.path} is closed`))
    // Checked when its turn comes: an append queued behind the one that failed must not land after its fragment.
    const run = this.#tail.then(async () => {
      if (this.#failure !== undefined) throw this.#failedError(this.#failure)
      await work()
    })
    this.#tail = run.catch(() => {})
    return run
  }

  #failedError(failure: { cause: unknown; cutBack: unknown }): LedgerError {
    return new LedgerError(
      'LEDGER__LOG_WRITE_FAILED',
      `an append to ${this.path} failed and could not be cut back off; reopen the log (restart) to drop it`,
      { path: this.path, cutBack: String(failure.cutBack) },
      { cause: failure.cause },
    )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#tail
    await this.#handle.close()
  }
}

/** The first `size` bytes of the file (fewer if it is shorter): no more, however long it has grown since. */
async function readPrefix(handle: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size)
  let filled = 0
  while (filled < size) {
    const { bytesRead } = await handle.read(bytes, filled, size - filled, filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return bytes.subarray(0, filled)
}

function lineOf(record: unknown): string {
  const json = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  return `${json}\t${checksumOf(json)}\n`
}

const NEWLINE = 0x0a

function parseLog<T>(bytes: Buffer, path: string, options: DurableLogOptions): { records: T[]; validBytes: number } {
  const records: T[] = []
  let offset = 0
  let lineNumber = 0
  while (offset < bytes.byteLength) {
    const end = bytes.indexOf(NEWLINE, offset)
    lineNumber++
    // Only an unterminated final line is torn: a record is acknowledged once its newline is synced, so dropping
    // that loses nothing. A terminated line that fails its checksum may be an intent already sent: refuse it.
    if (end === -1) break
    const record = end - offset > options.maxLineBytes ? undefined : parseLine<T>(bytes.toString('utf8', offset, end))
    if (record === undefined) {
      throw new LedgerError(options.corruptCode, `${path} line ${lineNumber} is damaged; restore it from a backup`, {
        path,
        line: lineNumber,
      })
    }
    records.push(record)
    offset = end + 1
  }
  return { records, validBytes: offset }
}

function parseLine<T>(line: string): T | undefined {
  const tab = line.lastIndexOf('\t')
  if (tab < 0) return undefined
  const json = line.slice(0, tab)
  if (checksumOf(json) !== line.slice(tab + 1)) return undefined
  try {
    return JSON.parse(json) as T
  } catch {
    return undefined
  }
}
