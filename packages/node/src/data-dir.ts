import { randomBytes } from 'node:crypto'
import { access, mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  AbortError,
  type AbortOptions,
  type Identity,
  isTesseraError,
  loadIdentity,
  loadOrCreateIdentity,
  readBoundedFile,
  replaceFile,
  throwIfAborted,
  writeNewFile,
} from '@tessera/core'
import { type NodeConfig, type NodeConfigInput, loadConfig, parseConfig, serializeConfig } from './config.js'
import {
  API_ADDRESS_FILE,
  API_TOKEN_BYTES,
  API_TOKEN_FILE,
  CONFIG_FILE,
  DATASTORE_DIR,
  DEFAULT_DATA_DIR_NAME,
  IDENTITY_FILE,
  LEDGER_DIR,
  MAX_SMALL_FILE_BYTES,
  MIN_API_TOKEN_LENGTH,
  WALLET_FILE,
} from './constants.js'
import { isNotFound, NodeError } from './errors.js'

/** Where a node keeps everything: identity, config, datastore, wallet, ledger snapshot. */
export interface DataDir {
  root: string
  config: string
  identity: string
  wallet: string
  datastore: string
  ledger: string
  apiToken: string
  apiAddress: string
}

/**
 * Resolves the data directory: the flag, then `TESSERA_DATA_DIR`, then `~/.tessera`. An empty setting is refused
 * (`NODE__INVALID_CONFIG`): resolved as a path it would be the current directory, where `init` would write a key.
 */
export function resolveDataDir(flag?: string): DataDir {
  const given = flag ?? process.env.TESSERA_DATA_DIR
  if (given !== undefined && given.trim() === '') {
    throw new NodeError(
      'NODE__INVALID_CONFIG',
      `the data directory is set empty (${flag !== undefined ? '--data-dir' : 'TESSERA_DATA_DIR'}); name one, or unset it for ~/${DEFAULT_DATA_DIR_NAME}`,
      { source: flag !== undefined ? 'flag' : 'environment' },
    )
  }
  const root = resolve(given ?? join(homedir(), DEFAULT_DATA_DIR_NAME))
  return {
    root,
    config: join(root, CONFIG_FILE),
    identity: join(root, IDENTITY_FILE),
    wallet: join(root, WALLET_FILE),
    datastore: join(root, DATASTORE_DIR),
    ledger: join(root, LEDGER_DIR),
    apiToken: join(root, API_TOKEN_FILE),
    apiAddress: join(root, API_ADDRESS_FILE),
  }
}

/** A file the node needs exists but cannot be read (permissions, a directory in its place…). */
function unreadable(path: string, cause: unknown): NodeError {
  return new NodeError(
    'NODE__FILE_UNREADABLE',
    `cannot read ${path}: ${(cause as Error).message}; check it and its permissions`,
    { path },
    { cause },
  )
}

/** Whether `path` exists; a path that cannot be checked is an error, not an absent file. */
async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch (e) {
    if (isNotFound(e)) return false
    throw unreadable(path, e)
  }
}

/** What {@link initDataDir} found or made. */
export interface InitResult {
  dir: DataDir
  identity: Identity
  config: NodeConfig
  created: boolean
}

/**
 * Creates the data directory (mode 0700) with an identity (0600), a config file and an API token (0600).
 * Idempotent: what exists is kept, so `init` never replaces a key that may hold funds or reputation. `overrides`
 * are validated before anything is made (`NODE__INVALID_CONFIG`), even where a config exists and is kept. When
 * `options.signal` aborts, it rejects with `AbortError` between steps, each file written whole or not at all; an
 * abort before it starts writes nothing, and running it again completes what an abort left.
 */
export async function initDataDir(
  dir: DataDir,
  overrides: NodeConfigInput = {},
  options: AbortOptions = {},
): Promise<InitResult> {
  const { signal } = options
  throwIfAborted(signal)
  // Validated first, though a directory initialised already keeps its own: a bad config leaves no directory behind.
  const config = parseConfig(overrides, 'init options')
  await mkdir(dir.root, { recursive: true, mode: 0o700 })
  let created = false
  if (!(await exists(dir.config))) {
    throwIfAborted(signal)
    // The signal is checked before the write, not passed to it. Written whole or not at all, never over one that
    // exists: a config a crash cut short would stop every later start, `init` included. Another `init` that wrote
    // it first created it, and its config is the one kept.
    created = await writeNewFile(dir.config, serializeConfig(config), 0o600)
  }
  throwIfAborted(signal)
  // A token cut short by a crash while it was written is replaced: it guards the API, it holds no funds.
  if (!validApiToken(await readTokenFile(dir.apiToken, { signal }).catch(() => ''))) {
    throwIfAborted(signal)
    await writeApiToken(dir.apiToken)
  }
  const identity = await loadOrCreateIdentity(dir.identity, options)
  return { dir, identity, config: await loadConfig(dir.config, options), created }
}

/** Loads an initialised data directory, or says how to make one; rejects with `AbortError` when `signal` aborts. */
export async function openDataDir(
  dir: DataDir,
  options: AbortOptions = {},
): Promise<{ identity: Identity; config: NodeConfig }> {
  throwIfAborted(options.signal)
  if (!(await exists(dir.config))) {
    throw new NodeError(
      'NODE__DATA_DIR_NOT_INITIALISED',
      `${dir.root} is not a Tessera data directory; run \`tessera init --data-dir ${dir.root}\` first`,
      { dir: dir.root },
    )
  }
  const config = await loadConfig(dir.config, options)
  throwIfAborted(options.signal)
  return { identity: await loadExistingIdentity(dir), config }
}

/**
 * The data directory's identity, never a new one: a node restored without its key would otherwise start as a
 * stranger, its reputation lost and the receipts pending under its old id never countersigned. Only `init` makes keys.
 */
async function loadExistingIdentity(dir: DataDir): Promise<Identity> {
  try {
    return await loadIdentity(dir.identity)
  } catch (cause) {
    if (isTesseraError(cause)) throw cause
    if (!isNotFound(cause)) throw unreadable(dir.identity, cause)
    throw new NodeError(
      'NODE__DATA_DIR_NOT_INITIALISED',
      `${dir.identity} is missing: restore it from a backup to keep this node's identity, or run \`tessera init --data-dir ${dir.root}\` to make a new one`,
      { dir: dir.root, path: dir.identity },
      { cause },
    )
  }
}

/** True when `token` (a token file's text) is a whole API token: an empty one would let any caller in. */
export function validApiToken(token: string): boolean {
  return token.trim().length >= MIN_API_TOKEN_LENGTH
}

/** Writes a fresh token whole or not at all, over the old one. */
async function writeApiToken(path: string): Promise<void> {
  await replaceFile(path, randomBytes(API_TOKEN_BYTES).toString('hex'), 0o600)
}

/** A token file's text: bounded, and only from a regular file. */
async function readTokenFile(path: string, options: AbortOptions = {}): Promise<string> {
  const bytes = await readBoundedFile(
    path,
    MAX_SMALL_FILE_BYTES,
    (why) => new NodeError('NODE__FILE_UNREADABLE', `cannot read ${path}: ${why}`, { path }),
    options,
  )
  return new TextDecoder().decode(bytes)
}

/**
 * Reads the API token, which authorises CLI calls to the running node; rejects with `AbortError` when `options.signal`
 * aborts.
 */
export async function readApiToken(dir: DataDir, options: AbortOptions = {}): Promise<string> {
  throwIfAborted(options.signal)
  let token: string
  try {
    token = (await readTokenFile(dir.apiToken, options)).trim()
  } catch (cause) {
    if (cause instanceof NodeError || cause instanceof AbortError) throw cause
    if (!isNotFound(cause)) throw unreadable(dir.apiToken, cause)
    throw new NodeError(
      'NODE__DATA_DIR_NOT_INITIALISED',
      `no API token in ${dir.root}; run \`tessera init\` first`,
      { dir: dir.root },
      { cause },
    )
  }
  throwIfAborted(options.signal)
  if (!validApiToken(token)) {
    throw new NodeError(
      'NODE__DATA_DIR_NOT_INITIALISED',
      `the API token in ${dir.root} is damaged; run \`tessera init\` to replace it`,
      { dir: dir.root },
    )
  }
  return token
}
