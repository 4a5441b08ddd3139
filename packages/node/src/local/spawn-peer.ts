import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AbortOptions } from '@tessera/core'
import { ApiClient } from '../api/client.js'
import { type DataDir, resolveDataDir } from '../data-dir.js'
import { NodeError } from '../errors.js'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * How to run the `tessera` CLI in a child process: the built file when this module runs from `dist`, else the
 * TypeScript source through tsx (tests run from source).
 */
export function tesseraCommand(): { command: string; args: string[] } {
  const built = join(here, '..', 'bin', 'tessera.js')
  if (existsSync(built)) return { command: process.execPath, args: [built] }
  return {
    command: process.execPath,
    args: ['--conditions=tessera-src', '--import', 'tsx', join(here, '..', 'bin', 'tessera.ts')],
  }
}

/** A `tessera node start` child process and the client for its control API. */
export interface PeerProcess {
  name: string
  dir: DataDir
  child: ChildProcess
  client: ApiClient
  /** Everything it printed (JSON logs), for diagnostics. */
  output: () => string
  /** SIGKILL: no chance to clean up, as a crash. */
  kill: () => Promise<void>
  /** SIGTERM and wait for a graceful exit. */
  stop: () => Promise<number | null>
}

export interface SpawnPeerOptions extends AbortOptions {
  name: string
  dataDir: string
  /** Extra `node start` flags. */
  args?: string[]
  env?: Record<string, string>
  /** How long to wait for the control API. */
  startTimeoutMs?: number
}

/** Runs the CLI once to completion (e.g. `init`), rejecting with its stderr on failure. */
export async function runTessera(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { command, args: base } = tesseraCommand()
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...base, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`tessera ${args.join(' ')} exited ${code}: ${err.trim()}`)),
    )
  })
}

/** Starts `tessera node start` for an initialised data directory and waits until its control API answers. */
export async function spawnPeer(options: SpawnPeerOptions): Promise<PeerProcess> {
  const dir = resolveDataDir(options.dataDir)
  await rm(dir.apiAddress, { force: true })
  const { command, args } = tesseraCommand()
  const child = spawn(command, [...args, '--data-dir', dir.root, 'node', 'start', ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  let client: ApiClient | undefined
  while (client === undefined) {
    options.signal?.throwIfAborted()
    if (child.exitCode !== null) {
      throw new NodeError(
        'NODE__PEER_UNREACHABLE',
        `${options.name} exited with ${child.exitCode}: ${output.slice(-2000)}`,
        {
          name: options.name,
        },
      )
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new NodeError('NODE__PEER_UNREACHABLE', `${options.name} did not start in time: ${output.slice(-2000)}`, {
        name: options.name,
      })
    }
    try {
      await readFile(dir.apiAddress)
      const candidate = await ApiClient.forDataDir(dir)
      await candidate.status()
      client = candidate
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    name: options.name,
    dir,
    child,
    client,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}
