import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AbortError, type AbortOptions, delay, throwIfAborted } from '@tessera/core'
import { ApiClient } from '../api/client.js'
import { type DataDir, resolveDataDir } from '../data-dir.js'
import { NodeError } from '../errors.js'

const here = dirname(fileURLToPath(import.meta.url))

/** How long {@link spawnPeer} waits for the control API by default. */
const START_TIMEOUT_MS = 60_000
/** How often {@link spawnPeer} asks whether the control API answers yet. */
const START_POLL_MS = 100
/** How much of a failed child's output an error carries. */
const OUTPUT_TAIL_CHARS = 2000

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

/** Which peer {@link spawnPeer} starts, and how. Its `signal` kills the child if it aborts before the API answers. */
export interface SpawnPeerOptions extends AbortOptions {
  /** For logs and errors. */
  name: string
  /** An initialised data directory. */
  dataDir: string
  /** Extra `node start` flags. */
  args?: string[]
  /** Environment variables for the child, over this process's own. */
  env?: Record<string, string>
  /**
   * How long to wait for the control API.
   * @default 60_000
   */
  startTimeoutMs?: number
}

/**
 * Runs the CLI once to completion (e.g. `init`) and resolves to its stdout; rejects with `NODE__COMMAND_FAILED`
 * carrying its stderr when it fails, or kills it and rejects with `AbortError` when `signal` aborts.
 */
export async function runTessera(
  args: string[],
  env: Record<string, string> = {},
  options: AbortOptions = {},
): Promise<string> {
  throwIfAborted(options.signal)
  const { command, args: base } = tesseraCommand()
  const child = spawn(command, [...base, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const described = `tessera ${args.join(' ')}`
  const onAbort = (): void => void child.kill('SIGKILL')
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (cause) =>
        reject(new NodeError('NODE__COMMAND_FAILED', `cannot run ${described}: ${cause.message}`, { args }, { cause })),
      )
      child.once('close', (code) => resolve(code))
    })
    throwIfAborted(options.signal)
    if (exitCode !== 0) {
      throw new NodeError('NODE__COMMAND_FAILED', `${described} exited ${exitCode}: ${err.trim()}`, {
        args,
        exitCode,
        stderr: err.slice(-OUTPUT_TAIL_CHARS),
      })
    }
    return out
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Starts `tessera node start` for an initialised data directory and waits until its control API answers. When it
 * cannot (the child exits, the start timeout passes, `signal` aborts) the child is killed before this rejects.
 */
export async function spawnPeer(options: SpawnPeerOptions): Promise<PeerProcess> {
  throwIfAborted(options.signal)
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
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const deadline = Date.now() + (options.startTimeoutMs ?? START_TIMEOUT_MS)
  let client: ApiClient | undefined
  try {
    while (client === undefined) {
      throwIfAborted(options.signal)
      if (!running()) {
        throw new NodeError(
          'NODE__PEER_UNREACHABLE',
          `${options.name} exited with ${child.exitCode ?? child.signalCode}: ${output.slice(-OUTPUT_TAIL_CHARS)}`,
          { name: options.name },
        )
      }
      if (Date.now() > deadline) {
        throw new NodeError(
          'NODE__PEER_UNREACHABLE',
          `${options.name} did not start in time: ${output.slice(-OUTPUT_TAIL_CHARS)}`,
          { name: options.name },
        )
      }
      try {
        const candidate = await ApiClient.forDataDir(dir)
        await candidate.status({ signal: options.signal })
        client = candidate
      } catch (e) {
        // Not up yet (no address file, or an API that does not answer yet): ask again, unless the caller gave up.
        if (e instanceof AbortError) throw e
        await delay(START_POLL_MS, options.signal)
      }
    }
  } catch (e) {
    // A peer the caller never got would outlive it, holding its ports and data directory.
    if (running()) child.kill('SIGKILL')
    await exited
    throw e
  }
  return {
    name: options.name,
    dir,
    child,
    client,
    output: () => output,
    kill: async () => {
      if (running()) child.kill('SIGKILL')
      await exited
    },
    stop: async () => {
      if (running()) child.kill('SIGTERM')
      return exited
    },
  }
}
