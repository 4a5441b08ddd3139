import { type ChildProcess, spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AbortError } from '@tessera/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiInstance, apiProof } from '../src/api/proof.js'
import { type DataDir, initDataDir, readApiToken, resolveDataDir } from '../src/data-dir.js'
import { runTessera, spawnPeer } from '../src/local/spawn-peer.js'
import { tempDir } from './helpers.js'

// Stands in for the `tessera` CLI: a node script set per test, quick to start and with no node behind it.
const child = vi.hoisted(() => ({ script: '', spawned: [] as ChildProcess[] }))
vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:child_process')>()
  return {
    ...actual,
    spawn: (_command: string, _args: string[], options: import('node:child_process').SpawnOptions) => {
      const spawned = actual.spawn(process.execPath, ['-e', child.script], options)
      child.spawned.push(spawned)
      return spawned
    },
  }
})

/** Never exits, never writes an API address: a peer that has not started yet. */
const STARTING = 'setInterval(() => {}, 1000)'

/** What a node's `GET /v1/status` answers, enough for the client. */
const STATUS = { peerId: 'p', addrs: [], peers: 0, capacityRecords: 0, worker: true, payee: 'x' }

/**
 * A node as far as spawnPeer can tell: it proves it holds the token of the data directory in `TEST_DATA_DIR` as
 * `/v1/challenge` does, answers every other request with {@link STATUS}, writes its address there, then prints
 * `TEST_PRINT_CHARS` characters and `END`.
 */
const ANSWERING = `
  const { createHmac, randomBytes } = require('node:crypto')
  const { join } = require('node:path')
  const fs = require('node:fs')
  const token = fs.readFileSync(join(process.env.TEST_DATA_DIR, 'api.token'), 'utf8').trim()
  const instance = randomBytes(16).toString('hex')
  const server = require('node:http').createServer((req, res) => {
    const nonce = new URL(req.url, 'http://x').searchParams.get('nonce')
    if (nonce === null) return res.end(${JSON.stringify(JSON.stringify(STATUS))})
    const proof = createHmac('sha256', token).update('tessera-api-proof/v1\\n' + nonce + '\\n' + instance).digest('hex')
    res.end(JSON.stringify({ instance, proof }))
  })
  server.listen(0, '127.0.0.1', () => {
    const address = { host: '127.0.0.1', port: server.address().port, pid: process.pid, instance }
    fs.writeFileSync(join(process.env.TEST_DATA_DIR, 'api.json'), JSON.stringify(address))
    process.stdout.write('x'.repeat(Number(process.env.TEST_PRINT_CHARS)) + 'END')
  })
`

/**
 * An HTTP server in this process standing for a node running on `dir`, its address written to the data directory:
 * it proves it holds the token, and answers every other request with {@link STATUS}.
 */
async function runningNode(dir: DataDir): Promise<Server> {
  const token = await readApiToken(dir)
  const instance = apiInstance()
  const server = createServer((req, res) => {
    const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce')
    if (nonce === null) return void res.end(JSON.stringify(STATUS))
    res.end(JSON.stringify({ instance, proof: apiProof(token, nonce, instance).toString('hex') }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await writeFile(dir.apiAddress, JSON.stringify({ host: '127.0.0.1', port, pid: process.pid, instance }))
  return server
}

afterEach(() => {
  for (const spawned of child.spawned.splice(0)) spawned.kill('SIGKILL')
})

/**
 * Spawns a peer on `dataDir` whose child answers as a node does, and checks the peer's client reaches that child (not
 * whatever an address file left behind names), then kills it.
 */
async function expectRestartAnswers(dataDir: string): Promise<void> {
  child.script = ANSWERING
  const peer = await spawnPeer({ name: 'restarted', dataDir, env: { TEST_DATA_DIR: dataDir, TEST_PRINT_CHARS: '0' } })
  expect(await peer.client.status()).toEqual(STATUS)
  await peer.kill()
}

describe('local peer processes', { timeout: 10_000 }, () => {
  it('should reject a failed command with a coded error carrying its exit code and stderr', async () => {
    child.script = "process.stderr.write('no such flag'); process.exit(3)"
    await expect(runTessera(['init', '--bogus'])).rejects.toMatchObject({
      name: 'NodeError',
      code: 'NODE__COMMAND_FAILED',
      message: 'tessera init --bogus exited 3: no such flag',
      context: { exitCode: 3, stderr: 'no such flag' },
    })
    child.script = "process.stdout.write('done')"
    expect(await runTessera(['init'])).toBe('done')
  })

  it('should kill a command and reject with AbortError when the signal aborts', async () => {
    child.script = STARTING
    const call = runTessera(['init'], {}, { signal: AbortSignal.timeout(200) })
    await expect(call).rejects.toBeInstanceOf(AbortError)
    expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
  })

  it('should kill a peer that has not started yet and reject with AbortError when the signal aborts', async () => {
    const tmp = await tempDir()
    try {
      child.script = STARTING
      const controller = new AbortController()
      const started = spawnPeer({ name: 'slow', dataDir: tmp.path, signal: controller.signal })
      // Long enough for several polls, so the abort lands in the wait between them.
      setTimeout(() => controller.abort(), 350)
      await expect(started).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
      expect(child.spawned).toHaveLength(1)
      expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
    } finally {
      await tmp.cleanup()
    }
  })

  it('should kill a peer that does not start in time', async () => {
    const tmp = await tempDir()
    try {
      child.script = STARTING
      await expect(spawnPeer({ name: 'slow', dataDir: tmp.path, startTimeoutMs: 200 })).rejects.toMatchObject({
        code: 'NODE__PEER_UNREACHABLE',
      })
      expect(child.spawned[0]?.signalCode).toBe('SIGKILL')
    } finally {
      await tmp.cleanup()
    }
  })

  it('should refuse a data directory a running node answers for, leaving its address file', async () => {
    const tmp = await tempDir()
    const dir = resolveDataDir(tmp.path)
    await initDataDir(dir)
    const node = await runningNode(dir)
    try {
      const address = await readFile(dir.apiAddress, 'utf8')
      child.script = STARTING
      // Before, the address file was deleted and a child started, which then failed on the datastore's lock.
      await expect(spawnPeer({ name: 'second', dataDir: tmp.path, startTimeoutMs: 500 })).rejects.toMatchObject({
        code: 'NODE__DATA_DIR_IN_USE',
        message: expect.stringMatching(/another node is running on .*; stop it first/),
      })
      expect(child.spawned).toHaveLength(0)
      expect(await readFile(dir.apiAddress, 'utf8')).toBe(address)
    } finally {
      node.close()
      await tmp.cleanup()
    }
  })

  it("should wait for its child's address file, not take one a killed node left", async () => {
    const tmp = await tempDir()
    const dir = resolveDataDir(tmp.path)
    await initDataDir(dir)
    // Left by a node that is gone: nothing answers at its address any more.
    const gone = await runningNode(dir)
    await new Promise((resolve) => gone.close(resolve))
    try {
      await expectRestartAnswers(tmp.path)
    } finally {
      await tmp.cleanup()
    }
  })

  it("should take no process on a killed node's port for a running node, and send it no token", async () => {
    const tmp = await tempDir()
    const dir = resolveDataDir(tmp.path)
    await initDataDir(dir)
    // The port of a node killed before it removed its address file, taken since by another process.
    const authorizations: (string | undefined)[] = []
    const foreign = createServer((req, res) => {
      authorizations.push(req.headers.authorization)
      res.end(JSON.stringify({ ...STATUS, peerId: 'FOREIGN' }))
    })
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve))
    const { port } = foreign.address() as AddressInfo
    const pid = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(dir.apiAddress, JSON.stringify({ host: '127.0.0.1', port, pid, instance: 'a'.repeat(32) }))
    try {
      // Before, the foreign process was sent the token, and taken for a node running on the directory.
      await expectRestartAnswers(tmp.path)
      expect(authorizations.length).toBeGreaterThan(0)
      expect(authorizations.every((authorization) => authorization === undefined)).toBe(true)
    } finally {
      foreign.close()
      await tmp.cleanup()
    }
  })

  it("should keep only the last of a peer's output", async () => {
    const tmp = await tempDir()
    await initDataDir(resolveDataDir(tmp.path))
    try {
      child.script = ANSWERING
      const peer = await spawnPeer({
        name: 'chatty',
        dataDir: tmp.path,
        env: { TEST_DATA_DIR: tmp.path, TEST_PRINT_CHARS: '100000' },
        outputChars: 1000,
      })
      const deadline = Date.now() + 5000
      while (!peer.output().endsWith('END') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      // All of it was kept before, for as long as the peer ran.
      expect(peer.output()).toBe(`${'x'.repeat(997)}END`)
      await peer.kill()
    } finally {
      await tmp.cleanup()
    }
  })
})
