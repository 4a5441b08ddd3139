import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AbortError, type AbortOptions, delay, readBoundedFile, throwIfAborted } from '@tessera/core'
import { ApiClient } from '../api/client.js'
import { MAX_SMALL_FILE_BYTES } from '../constants.js'
import { type DataDir, resolveDataDir } from '../data-dir.js'
import { isNotFound, NodeError } from '../errors.js'

const here = dirname(fileURLToPath(import.meta.url))

/** How long {@link spawnPeer} waits for the control API by default. */
const START_TIMEOUT_MS = 60_000
/** How often {@link spawnPeer} asks whether the control API answers yet. */
const START_POLL_MS = 100
/** How much of a failed child's output an error carries. */
const OUTPUT_TAIL_CHARS = 2000
/** How much of a peer's output {@link PeerProcess.output} keeps by default, its last characters. */
const OUTPUT_KEPT_CHARS = 4 * 1024 * 1024

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
  /** The last of what it printed (JSON logs), for diagnostics: {@link SpawnPeerOptions.outputChars} characters. */
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
  /**
   * How many of the last characters the peer printed {@link PeerProcess.output} keeps: a peer runs for as long as
   * its caller likes, and logs all the while.
   * @default 4 MiB
   */
  outputChars?: number
}

/** The last `max` characters of a stream of text, kept as its chunks so that appending copies nothing kept. */
function textTail(max: number): { append: (text: string) => void; text: () => string } {
  const chunks: string[] = []
  let length = 0
  return {
    append: (text) => {
      chunks.push(text)
      length += text.length
      while (chunks.length > 1 && length - (chunks[0] as string).length >= max) {
        length -= (chunks.shift() as string).length
      }
    },
    text: () => chunks.join('').slice(-max),
  }
}

/** A data directory's API address file as it was at one moment: its text and when it was written. */
interface AddressFileVersion {
  text: string
  mtimeMs: number
}

/** The API address file as it is now, or undefined when there is none. */
async function addressFileVersion(dir: DataDir, options: AbortOptions): Promise<AddressFileVersion | undefined> {
  try {
    const { mtimeMs } = await stat(dir.apiAddress)
    const bytes = await readBoundedFile(
      dir.apiAddress,
      MAX_SMALL_FILE_BYTES,
      (why) =>
        new NodeError('NODE__FILE_UNREADABLE', `cannot read ${dir.apiAddress}: ${why}`, { path: dir.apiAddress }),
      options,
    )
    return { text: new TextDecoder().decode(bytes), mtimeMs }
  } catch (cause) {
    if (isNotFound(cause)) return undefined
    if (cause instanceof NodeError || cause instanceof AbortError) throw cause
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `cannot read ${dir.apiAddress}: ${(cause as Error).message}`,
      { path: dir.apiAddress },
      { cause },
    )
  }
}

/** Whether `current` is an address file written since `stale` was read (any, when there was none). */
function isNewer(current: AddressFileVersion | undefined, stale: AddressFileVersion | undefined): boolean {
  if (current === undefined) return false
  return stale === undefined || current.text !== stale.text || current.mtimeMs !== stale.mtimeMs
}

/**
 * A client for the node at the address in `dir`'s address file, with `dir`'s token, when that node answers and
 * proves it holds the token; else undefined (no file, a torn one, nothing listening there, or a process that took
 * the port of a node killed since, which is sent no token). Rejects only with `AbortError`.
 */
async function answeringClient(dir: DataDir, options: AbortOptions): Promise<ApiClient | undefined> {
  try {
    const client = await ApiClient.forDataDir(dir, options)
    await client.status(options)
    return client
  } catch (e) {
    if (e instanceof AbortError) throw e
    return undefined
  }
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
 * Rejects with `NODE__DATA_DIR_IN_USE`, starting nothing, when a node already answers for the data directory.
 */
export async function spawnPeer(options: SpawnPeerOptions): Promise<PeerProcess> {
  throwIfAborted(options.signal)
  const dir = resolveDataDir(options.dataDir)
  // The address file is left where it is: deleted, a node running on the directory could no longer be reached. One a
  // node left behind (killed, it had no chance to remove it) is told from the child's by being older.
  const stale = await addressFileVersion(dir, options)
  if (stale !== undefined && (await answeringClient(dir, options)) !== undefined) {
    throw new NodeError(
      'NODE__DATA_DIR_IN_USE',
      `another node is running on ${dir.root} (its control API answers at the address in ${dir.apiAddress}); stop it first`,
      { name: options.name, dir: dir.root },
    )
  }
  const { command, args } = tesseraCommand()
  const child = spawn(command, [...args, '--data-dir', dir.root, 'node', 'start', ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output = textTail(options.outputChars ?? OUTPUT_KEPT_CHARS)
  child.stdout?.setEncoding('utf8').on('data', output.append)
  child.stderr?.setEncoding('utf8').on('data', output.append)
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
          `${options.name} exited with ${child.exitCode ?? child.signalCode}: ${output.text().slice(-OUTPUT_TAIL_CHARS)}`,
          { name: options.name },
        )
      }
      if (Date.now() > deadline) {
        throw new NodeError(
          'NODE__PEER_UNREACHABLE',
          `${options.name} did not start in time: ${output.text().slice(-OUTPUT_TAIL_CHARS)}`,
          { name: options.name },
        )
      }
      // Not up yet while there is no address file newer than the stale one, or its API does not answer yet.
      const current = await addressFileVersion(dir, options).catch(() => undefined)
      if (isNewer(current, stale)) client = await answeringClient(dir, options)
      if (client === undefined) await delay(START_POLL_MS, options.signal)
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
    output: output.text,
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
