import { randomBytes } from 'node:crypto'
import { link, open, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Makes a rename, link or new file in `dir` durable: without it, a power cut can undo one that fsynced its file. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * What a temporary file of {@link writeNewFile} or {@link replaceFile} for `name` is called:
 * `.<name>.<pid>.<random>.tmp`.
 */
function temporaryName(name: string): string {
  return `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
}

/** What follows `.<name>.` in a temporary file's name (see {@link temporaryName}); the pid captured. */
const TEMPORARY_TAIL = /^(\d+)\.[0-9a-f]{12}\.tmp$/

/** Whether a process with this pid runs (signal 0 only checks; EPERM means it runs under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Deletes the temporary files a write of `path` left when its process died before linking or renaming them (nothing
 * reads them, but each crash would leave one more). Those of a process still alive, which may be placing its own,
 * are left alone. Each write of `path` calls it; a reader that opens `path` without writing it may call it too.
 */
export async function removeTemporaries(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`
  await removeOrphans(dirname(path), (name) => {
    // Exactly `<pid>.<12 hex digits>.tmp` after the prefix: `.x.bak.<pid>…` is the temporary file of `x.bak`, whose
    // writer may be alive.
    const match = name.startsWith(prefix) ? TEMPORARY_TAIL.exec(name.slice(prefix.length)) : null
    if (match === null) return false
    const pid = Number(match[1])
    return !(Number.isSafeInteger(pid) && pid > 0 && processAlive(pid))
  })
}

/**
 * Deletes the files in `dir` that `orphaned` picks by name: temporary files their process left when it died (see
 * {@link processAlive}). A missing `dir` holds none.
 */
export async function removeOrphans(dir: string, orphaned: (name: string) => boolean): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw e
  }
  for (const name of names) if (orphaned(name)) await rm(join(dir, name), { force: true })
}

/**
 * Writes `bytes` to a new temporary file beside `path` (created with `mode`, synced), after deleting those a dead
 * process left, and runs `place` with its path; the temporary file is gone when it settles.
 */
async function viaTemporary<T>(
  path: string,
  bytes: Uint8Array | string,
  mode: number,
  place: (temporary: string) => Promise<T>,
): Promise<T> {
  await removeTemporaries(path)
  const temporary = join(dirname(path), temporaryName(basename(path)))
  const handle = await open(temporary, 'wx', mode)
  try {
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    return await place(temporary)
  } finally {
    await rm(temporary, { force: true })
  }
}

/**
 * Writes `bytes` to `path` when nothing is there, whole or not at all, and never over an existing file: to a
 * temporary file beside it (created with `mode`, synced), hard-linked into place (a link fails when the name
 * exists), then the directory synced. A crash at any point leaves no file at `path` or the whole one, never an empty
 * or half-written one that every later reader would refuse; the temporary file it may leave is deleted by the next
 * write of `path`. Resolves to false, writing nothing, when `path` exists (another process created it first).
 */
export async function writeNewFile(path: string, bytes: Uint8Array | string, mode = 0o600): Promise<boolean> {
  const linked = await viaTemporary(path, bytes, mode, async (temporary) => {
    try {
      await link(temporary, path)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw e
    }
  })
  if (linked) await syncDirectory(dirname(path))
  return linked
}

/**
 * Replaces the file at `path` (or creates it) with `bytes`, whole or not at all: a temporary file beside it (created
 * with `mode`, synced) renamed over it, then the directory synced. A reader sees the old file or the new one, never
 * half of one; the temporary file a crash may leave is deleted by the next write of `path`.
 */
export async function replaceFile(path: string, bytes: Uint8Array | string, mode = 0o600): Promise<void> {
  // Renamed, the temporary name is gone already: the cleanup after finds nothing to delete.
  await viaTemporary(path, bytes, mode, (temporary) => rename(temporary, path))
  await syncDirectory(dirname(path))
}
