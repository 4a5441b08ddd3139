import { chmod, type FileHandle, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../src/config.js'
import { initDataDir, openDataDir, readApiToken, resolveDataDir } from '../src/data-dir.js'
import { Datastore } from '../src/datastore.js'
import type { NodeError } from '../src/errors.js'
import { tempDir } from './helpers.js'

/** Permissions do not stop root, so a test that needs an unreadable file cannot run as root. */
const runsAsRoot = process.getuid?.() === 0

describe('data directory', () => {
  it('should create identity and token with mode 0600 and keep them on a second init', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      const first = await initDataDir(dir)
      expect(first.created).toBe(true)
      expect((await stat(dir.identity)).mode & 0o777).toBe(0o600)
      expect((await stat(dir.apiToken)).mode & 0o777).toBe(0o600)
      expect((await stat(dir.root)).mode & 0o777).toBe(0o700)
      const second = await initDataDir(dir)
      expect(second.created).toBe(false)
      expect(second.identity.peerId.toString()).toBe(first.identity.peerId.toString())
      const opened = await openDataDir(dir)
      expect(opened.identity.peerId.equals(first.identity.peerId)).toBe(true)
    } finally {
      await tmp.cleanup()
    }
  })

  it('should report one init as creating the directory when two run at once, and keep the config it wrote', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      const inits = await Promise.all(
        [1, 2].map((slots) => initDataDir(dir, { worker: { slots } }).then((r) => ({ slots, ...r }))),
      )
      const creators = inits.filter((r) => r.created)
      expect(creators).toHaveLength(1)
      expect((await loadConfig(dir.config)).worker.slots).toBe(creators[0]?.slots)
    } finally {
      await tmp.cleanup()
    }
  })

  it('should refuse a config it is given before it makes anything', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      await expect(initDataDir(dir, { listen: ['/ip4/1.2.3.4/tcp/x'] })).rejects.toMatchObject({
        code: 'NODE__INVALID_CONFIG',
        context: { source: 'init options', path: ['listen', '0'] },
      })
      expect(await readdir(tmp.path)).toEqual([])
    } finally {
      await tmp.cleanup()
    }
  })

  it('should refuse a data directory set empty, which would be the current directory', () => {
    expect(() => resolveDataDir('')).toThrow(expect.objectContaining({ code: 'NODE__INVALID_CONFIG' }))
    const before = process.env.TESSERA_DATA_DIR
    process.env.TESSERA_DATA_DIR = ' '
    try {
      expect(() => resolveDataDir()).toThrow(
        expect.objectContaining({ message: expect.stringMatching(/TESSERA_DATA_DIR/) }),
      )
      expect(resolveDataDir('/tmp/x').root).toBe('/tmp/x')
    } finally {
      if (before === undefined) delete process.env.TESSERA_DATA_DIR
      else process.env.TESSERA_DATA_DIR = before
    }
  })

  it('should keep a whole API token on init, and replace one a crash left empty', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      await initDataDir(dir)
      const token = await readApiToken(dir)
      expect(token).toMatch(/^[0-9a-f]{48}$/)
      await initDataDir(dir)
      expect(await readApiToken(dir)).toBe(token)
      await writeFile(dir.apiToken, '')
      await expect(readApiToken(dir)).rejects.toMatchObject({ code: 'NODE__DATA_DIR_NOT_INITIALISED' })
      await initDataDir(dir)
      const replaced = await readApiToken(dir)
      expect(replaced).toMatch(/^[0-9a-f]{48}$/)
      expect(replaced).not.toBe(token)
      expect((await stat(dir.apiToken)).mode & 0o777).toBe(0o600)
      // Written through a temporary file renamed into place: none is left behind.
      expect((await readdir(dir.root)).filter((f) => f.endsWith('.tmp'))).toEqual([])
    } finally {
      await tmp.cleanup()
    }
  })

  it('should init again, and start, after a crash at any point while init writes its files', async () => {
    const tmp = await tempDir()
    // Every file init writes is written through a file handle: the crash comes at the k-th such write, half of it on
    // disk, and nothing after it runs (the process died there).
    const probe = await open(join(tmp.path, 'probe'), 'w')
    const handles = Object.getPrototypeOf(probe) as FileHandle
    await probe.close()
    const write = handles.writeFile
    let crashes = 0
    try {
      for (let k = 1; ; k++) {
        const dir = resolveDataDir(`${tmp.path}/node-${k}`)
        let writes = 0
        let crashed = false
        const crash = vi.spyOn(handles, 'writeFile').mockImplementation(async function (
          this: FileHandle,
          data: Parameters<FileHandle['writeFile']>[0],
        ) {
          if (++writes !== k) return write.call(this, data)
          crashed = true
          const bytes = typeof data === 'string' ? Buffer.from(data) : (data as Uint8Array)
          await this.write(bytes.subarray(0, bytes.byteLength >> 1))
          return new Promise<void>(() => {})
        })
        let finished = false
        void initDataDir(dir).then(
          () => void (finished = true),
          () => void (finished = true),
        )
        await vi.waitFor(() => expect(crashed || finished).toBe(true))
        crash.mockRestore()
        if (!crashed) break
        crashes++
        // What the crash left does not stand in the way: init completes the directory, and a node starts on it.
        const { identity } = await initDataDir(dir)
        const opened = await openDataDir(dir)
        expect(opened.identity.peerId.equals(identity.peerId)).toBe(true)
        expect(await readApiToken(dir)).toMatch(/^[0-9a-f]{48}$/)
      }
      // The config, the API token and the key.
      expect(crashes).toBeGreaterThanOrEqual(3)
    } finally {
      await tmp.cleanup()
    }
  })

  it('should tell a missing API token from one that cannot be read, keeping the cause', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      await initDataDir(dir)
      await rm(dir.apiToken)
      await expect(readApiToken(dir)).rejects.toMatchObject({
        code: 'NODE__DATA_DIR_NOT_INITIALISED',
        cause: { code: 'ENOENT' },
      })
      // A directory in the token's place is unreadable even for root.
      await mkdir(dir.apiToken)
      await expect(readApiToken(dir)).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        context: { path: dir.apiToken },
        message: `cannot read ${dir.apiToken}: it is not a regular file`,
      })
      // A data directory path that runs through a file cannot be checked: not the same as one never initialised.
      const file = join(tmp.path, 'file')
      await writeFile(file, '')
      await expect(openDataDir(resolveDataDir(join(file, 'node')))).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        cause: { code: 'ENOTDIR' },
      })
    } finally {
      await tmp.cleanup()
    }
  })

  it.skipIf(runsAsRoot)('should report a token without read permission as unreadable', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      await initDataDir(dir)
      await chmod(dir.apiToken, 0)
      await expect(readApiToken(dir)).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        cause: { code: 'EACCES' },
      })
    } finally {
      await tmp.cleanup()
    }
  })

  it('should refuse to start without its key rather than make a new identity, which only init does', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      await initDataDir(dir)
      await rm(dir.identity)
      const before = await readdir(dir.root)
      // A new identity before: the node's reputation and the receipts pending under its old id were lost.
      await expect(openDataDir(dir)).rejects.toMatchObject({
        code: 'NODE__DATA_DIR_NOT_INITIALISED',
        context: { dir: dir.root, path: dir.identity },
        message: expect.stringMatching(
          /peer\.key is missing: restore it .* or run `tessera init --data-dir .*` to make a new one/,
        ),
        cause: { code: 'ENOENT' },
      })
      expect(await readdir(dir.root)).toEqual(before)
      // init still makes one, for an operator who means to start afresh.
      const created = await initDataDir(dir)
      expect((await openDataDir(dir)).identity.peerId.equals(created.identity.peerId)).toBe(true)
    } finally {
      await tmp.cleanup()
    }
  })

  it('should reject with AbortError on an aborted signal, and write nothing', async () => {
    const tmp = await tempDir()
    try {
      const dir = resolveDataDir(`${tmp.path}/node`)
      const aborted = { signal: AbortSignal.abort() }
      // Before, each ran to the end whatever the caller's signal said.
      await expect(initDataDir(dir, {}, aborted)).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
      expect(await readdir(tmp.path)).toEqual([])
      await initDataDir(dir)
      const before = await readdir(dir.root)
      await expect(initDataDir(dir, {}, aborted)).rejects.toMatchObject({ name: 'AbortError' })
      await expect(openDataDir(dir, aborted)).rejects.toMatchObject({ name: 'AbortError' })
      await expect(readApiToken(dir, aborted)).rejects.toMatchObject({ name: 'AbortError' })
      await expect(loadConfig(dir.config, aborted)).rejects.toMatchObject({ name: 'AbortError' })
      expect(await readdir(dir.root)).toEqual(before)
      // A signal that did not abort changes nothing.
      const live = { signal: new AbortController().signal }
      expect((await openDataDir(dir, live)).config).toEqual(await loadConfig(dir.config, live))
      expect(await readApiToken(dir, live)).toBe(await readApiToken(dir))
    } finally {
      await tmp.cleanup()
    }
  })

  it('should tell the operator to run init when the directory is empty', async () => {
    const tmp = await tempDir()
    try {
      await expect(openDataDir(resolveDataDir(tmp.path))).rejects.toMatchObject({
        code: 'NODE__DATA_DIR_NOT_INITIALISED',
      })
    } finally {
      await tmp.cleanup()
    }
  })
})

describe('datastore', () => {
  it('should say a datastore another node holds is in use, not corrupt, and open once it is closed', async () => {
    const tmp = await tempDir()
    try {
      const running = await Datastore.open(tmp.path)
      await running.put('receipts', 'a', { worker: 'w' })
      // Reported as corrupt before, an operator might have deleted the receipts of a node that was only running.
      await expect(Datastore.open(tmp.path)).rejects.toMatchObject({
        code: 'NODE__DATA_DIR_IN_USE',
        message: `another node is running on ${tmp.path} (it holds the datastore's lock); stop it first`,
        context: { dir: tmp.path },
        cause: { cause: { code: 'LEVEL_LOCKED' } },
      })
      await running.close()
      const reopened = await Datastore.open(tmp.path)
      expect(await reopened.get('receipts', 'a')).toEqual({ worker: 'w' })
      await reopened.close()
    } finally {
      await tmp.cleanup()
    }
  })

  it('should say a datastore LevelDB finds damaged is corrupt, and why', async () => {
    const tmp = await tempDir()
    try {
      const db = await Datastore.open(tmp.path)
      await db.put('receipts', 'a', { worker: 'w' })
      await db.close()
      await writeFile(join(tmp.path, 'CURRENT'), '')
      await expect(Datastore.open(tmp.path)).rejects.toMatchObject({
        code: 'NODE__DATASTORE_CORRUPT',
        message: expect.stringContaining('CURRENT file does not end with newline'),
        context: { dir: tmp.path },
        cause: { cause: { code: 'LEVEL_CORRUPTION' } },
      })
    } finally {
      await tmp.cleanup()
    }
  })

  // Reported as corrupt before ("Database failed to open", no reason), an operator might have deleted the receipts.
  it('should say a datastore that cannot be opened for another reason is unreadable, not corrupt, and why', async () => {
    const tmp = await tempDir()
    try {
      const path = join(tmp.path, 'datastore')
      await writeFile(path, 'a file where the datastore should be')
      await expect(Datastore.open(path)).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        message: expect.stringMatching(/^cannot open the datastore in .*: EEXIST: file already exists/),
        context: { path },
      })
    } finally {
      await tmp.cleanup()
    }
  })

  it.skipIf(runsAsRoot)('should say a datastore it has no permission for is unreadable, not corrupt', async () => {
    const tmp = await tempDir()
    try {
      const db = await Datastore.open(tmp.path)
      await db.close()
      await chmod(tmp.path, 0o000)
      await expect(Datastore.open(tmp.path)).rejects.toMatchObject({
        code: 'NODE__FILE_UNREADABLE',
        message: expect.stringContaining('ermission denied'),
        context: { path: tmp.path },
      })
    } finally {
      await chmod(tmp.path, 0o700)
      await tmp.cleanup()
    }
  })

  it('should persist values with bigints and bytes across reopen, per namespace', async () => {
    const tmp = await tempDir()
    try {
      let db = await Datastore.open(tmp.path)
      await db.put('receipts', 'a', { amount: 2n ** 63n, root: Uint8Array.of(1, 2, 3) })
      await db.put('receipts', 'b', { amount: 1n })
      await db.put('jobs', 'a', { state: 'running' })
      await db.close()
      db = await Datastore.open(tmp.path)
      expect(await db.get('receipts', 'a')).toEqual({ amount: 2n ** 63n, root: Uint8Array.of(1, 2, 3) })
      const receipts = []
      for await (const [key] of db.entries('receipts')) receipts.push(key)
      expect(receipts).toEqual(['a', 'b'])
      await db.delete('receipts', 'a')
      expect(await db.get('receipts', 'a')).toBeUndefined()
      expect(await db.get('jobs', 'a')).toEqual({ state: 'running' })
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })

  it('should report an undecodable record from entries as get does, or skip it when asked', async () => {
    const tmp = await tempDir()
    try {
      let db = await Datastore.open(tmp.path)
      await db.put('receipts', 'a', { amount: 1n })
      await db.put('receipts', 'c', { amount: 3n })
      await db.close()
      // 0xff is CBOR's "break" code, which cannot begin a value.
      const raw = new ClassicLevel<string, Uint8Array>(tmp.path, { valueEncoding: 'view' })
      await raw.put('receipts!b', Uint8Array.of(0xff))
      await raw.close()
      db = await Datastore.open(tmp.path)
      const corrupt = { code: 'NODE__DATASTORE_CORRUPT', context: { ns: 'receipts', key: 'b' } }
      await expect(db.get('receipts', 'b')).rejects.toMatchObject(corrupt)
      const read = async (options?: Parameters<Datastore['entries']>[1]) => {
        const keys: string[] = []
        for await (const [key] of db.entries('receipts', options)) keys.push(key)
        return keys
      }
      await expect(read()).rejects.toMatchObject(corrupt)
      const reported: [string, NodeError][] = []
      expect(await read({ onCorrupt: (key, error) => void reported.push([key, error]) })).toEqual(['a', 'c'])
      expect(reported).toEqual([['b', expect.objectContaining(corrupt)]])
      // Skipped, not repaired: the record is still there for an operator to look at.
      await expect(db.get('receipts', 'b')).rejects.toMatchObject(corrupt)
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })

  it('should read only the keys under a prefix, and the whole namespace without one', async () => {
    const tmp = await tempDir()
    try {
      const db = await Datastore.open(tmp.path)
      for (const key of ['job/a', 'job/a/1', 'job/ab', 'job/b', 'epoch']) await db.put('settlement', key, key)
      await db.put('receipts', 'job/a', 'another namespace')
      const keys = async (prefix?: string) => {
        const out: string[] = []
        for await (const [key, value] of db.entries('settlement', prefix === undefined ? {} : { prefix })) {
          expect(value).toBe(key)
          out.push(key)
        }
        return out
      }
      expect(await keys('job/a')).toEqual(['job/a', 'job/a/1', 'job/ab'])
      expect(await keys('job/')).toEqual(['job/a', 'job/a/1', 'job/ab', 'job/b'])
      expect(await keys()).toEqual(['epoch', 'job/a', 'job/a/1', 'job/ab', 'job/b'])
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })
})

describe('datastore, aborted', () => {
  const aborted = { signal: AbortSignal.abort() }

  it('should not open on an aborted signal, and release the lock when the signal aborts as it opens', async () => {
    const tmp = await tempDir()
    try {
      const store = join(tmp.path, 'store')
      // Before, it opened (and created the store) whatever the caller's signal said.
      await expect(Datastore.open(store, aborted)).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
      expect(await readdir(tmp.path)).toEqual([])
      const controller = new AbortController()
      const opening = Datastore.open(store, { signal: controller.signal })
      controller.abort()
      await expect(opening).rejects.toMatchObject({ name: 'AbortError' })
      const db = await Datastore.open(store, { signal: new AbortController().signal })
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })

  it('should neither read nor write on an aborted signal', async () => {
    const tmp = await tempDir()
    try {
      const db = await Datastore.open(tmp.path)
      await db.put('receipts', 'a', { n: 1 })
      await db.put('receipts', 'b', { n: 2 })
      const calls: [string, () => Promise<unknown>][] = [
        ['put', () => db.put('receipts', 'a', { n: 9 }, aborted)],
        ['batch', () => db.batch([{ type: 'put', ns: 'receipts', key: 'c', value: { n: 3 } }], aborted)],
        ['delete', () => db.delete('receipts', 'b', aborted)],
        ['get', () => db.get('receipts', 'a', undefined, aborted)],
        ['entries', () => db.entries('receipts', aborted).next()],
      ]
      for (const [call, run] of calls) {
        await expect(run(), call).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
      }
      const read: string[] = []
      for await (const [key] of db.entries('receipts')) read.push(key)
      expect(read).toEqual(['a', 'b'])
      expect(await db.get('receipts', 'a')).toEqual({ n: 1 })
      // An abort between records stops the iteration there.
      const controller = new AbortController()
      const entries = db.entries('receipts', { signal: controller.signal })
      expect((await entries.next()).value).toEqual(['a', { n: 1 }])
      controller.abort()
      await expect(entries.next()).rejects.toMatchObject({ name: 'AbortError' })
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })
})

describe('datastore records, checked and written together', () => {
  it('should give back a small bigint as a number unless a parser says what the record is, and count a record the parser refuses as corrupt', async () => {
    const tmp = await tempDir()
    try {
      const db = await Datastore.open(tmp.path)
      await db.put('leases', 'a', { amount: 5n })
      await db.put('leases', 'b', { amount: 'five' })
      // DAG-CBOR has one integer type: what fits a safe integer comes back a number.
      expect(await db.get('leases', 'a')).toEqual({ amount: 5 })
      const parse = (value: unknown) => {
        const { amount } = value as { amount: unknown }
        if (typeof amount !== 'number' && typeof amount !== 'bigint') throw new TypeError('amount is not an integer')
        return { amount: BigInt(amount) }
      }
      expect(await db.get('leases', 'a', parse)).toEqual({ amount: 5n })
      await expect(db.get('leases', 'b', parse)).rejects.toMatchObject({
        code: 'NODE__DATASTORE_CORRUPT',
        message: expect.stringMatching(/leases\/b is malformed: amount is not an integer/),
      })
      const skipped: string[] = []
      const read: [string, { amount: bigint }][] = []
      for await (const entry of db.entries('leases', { parse, onCorrupt: (key) => void skipped.push(key) })) {
        read.push(entry)
      }
      expect(read).toEqual([['a', { amount: 5n }]])
      expect(skipped).toEqual(['b'])
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })

  it('should apply a batch of puts and deletes across namespaces together', async () => {
    const tmp = await tempDir()
    try {
      let db = await Datastore.open(tmp.path)
      await db.put('leases', 'task', { root: 1 })
      await db.batch([
        { type: 'put', ns: 'receipts', key: 'task', value: { signed: true } },
        { type: 'del', ns: 'leases', key: 'task' },
      ])
      await db.close()
      db = await Datastore.open(tmp.path)
      expect(await db.get('receipts', 'task')).toEqual({ signed: true })
      expect(await db.get('leases', 'task')).toBeUndefined()
      // A batch that cannot be encoded writes nothing at all.
      await expect(
        db.batch([
          { type: 'put', ns: 'holds', key: 'x', value: {} },
          { type: 'put', ns: 'holds', key: 'y', value: { f: () => 1 } },
        ]),
      ).rejects.toThrow()
      expect(await db.get('holds', 'x')).toBeUndefined()
      await db.close()
    } finally {
      await tmp.cleanup()
    }
  })
})
