import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LedgerError } from './errors.js'

/** The lock's folder inside a ledger data directory: an empty LevelDB, held for its `LOCK`. */
export const LOCK_DIR = 'lock'

/** A data directory held by {@link lockDataDir}, until released. */
export interface DataDirLock {
  /** Lets the directory go; the next {@link lockDataDir} of it succeeds. */
  release(): Promise<void>
}

/**
 * Holds `dataDir` for this ledger alone. Two ledgers on one directory would each write their own chain snapshot and
 * journal over the other's, forking the chain (a funded vault vanishes). The hold is LevelDB's lock, as the node's
 * datastore holds its own: an advisory lock on `lock/LOCK` that the kernel drops with the process, so a crash leaves
 * no stale lock to clear by hand, and that a second open in the same process is refused too. Rejects with
 * `LEDGER__DATA_DIR_IN_USE` when the directory is held, `LEDGER__DATA_DIR_UNREADABLE` when it cannot be locked.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_DIR)
  const db = new ClassicLevel(path)
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    await db.open()
  } catch (cause) {
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause ?? cause
    if ((inner as { code?: unknown }).code === 'LEVEL_LOCKED') {
      throw new LedgerError(
        'LEDGER__DATA_DIR_IN_USE',
        `the ledger in ${dataDir} is open already (in this process or another); close it, or stop the node using it, first`,
        { dataDir },
        { cause },
      )
    }
    throw new LedgerError(
      'LEDGER__DATA_DIR_UNREADABLE',
      `cannot lock the ledger in ${dataDir}: ${String((inner as { message?: unknown }).message ?? inner)}; check it and its permissions`,
      { dataDir, path },
      { cause },
    )
  }
  return { release: () => db.close() }
}
