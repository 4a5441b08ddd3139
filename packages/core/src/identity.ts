import { mkdir, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { inspect } from 'node:util'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { throwIfAborted } from './abort.js'
import type { AbortOptions } from './bus.js'
import { MAX_KEY_FILE_BYTES, PUBLIC_KEY_BYTES } from './constants.js'
import { CoreError } from './errors.js'
import { writeNewFile } from './fs/durable-write.js'
import { readBoundedFile } from './fs/read-bounded.js'

/** Mode for key files: owner read/write only, like ssh keys. */
export const KEY_FILE_MODE = 0o600
const KEY_DIR_MODE = 0o700

/**
 * A peer's Ed25519 identity: its libp2p key and peer id, and a signer for envelopes. The private key never
 * appears in logs: `toJSON` and `util.inspect` show only the peer id.
 */
export class Identity {
  readonly #privateKey: Ed25519PrivateKey
  readonly peerId: PeerId
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array

  constructor(privateKey: Ed25519PrivateKey) {
    this.#privateKey = privateKey
    this.peerId = peerIdFromPrivateKey(privateKey)
    this.publicKey = privateKey.publicKey.raw
  }

  /** The libp2p private key, for the libp2p node and nothing else. */
  get privateKey(): Ed25519PrivateKey {
    return this.#privateKey
  }

  /** Signs `data` with Ed25519 (synchronous on Node). */
  sign(data: Uint8Array): Uint8Array {
    const sig = this.#privateKey.sign(data)
    if (!(sig instanceof Uint8Array)) throw new TypeError('expected a synchronous Ed25519 signer')
    return sig
  }

  toString(): string {
    return `Identity(${this.peerId.toString()})`
  }

  toJSON(): { peerId: string } {
    return { peerId: this.peerId.toString() }
  }

  [inspect.custom](): string {
    return this.toString()
  }
}

/** A fresh in-memory identity (tests, ephemeral nodes). */
export async function generateIdentity(): Promise<Identity> {
  return new Identity(await generateKeyPair('Ed25519'))
}

/**
 * Loads the identity at `path`, or creates it there (mode 0600, never over an existing file, whole or not at all)
 * when absent. A key file that others can read is refused, as ssh refuses one.
 */
export async function loadOrCreateIdentity(path: string, options: AbortOptions = {}): Promise<Identity> {
  throwIfAborted(options.signal)
  try {
    return await loadIdentity(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  // An aborted call leaves no new key behind.
  throwIfAborted(options.signal)
  await mkdir(dirname(path), { recursive: true, mode: KEY_DIR_MODE })
  const key = await generateKeyPair('Ed25519')
  // Written whole beside it and linked into place: a crash leaves no key or the whole key, never an empty one that
  // every later start refuses; a key that exists is never overwritten.
  if (!(await writeNewFile(path, privateKeyToProtobuf(key), KEY_FILE_MODE))) {
    // Another process created it between our read and our link: use theirs.
    return loadIdentity(path)
  }
  return new Identity(key)
}

/** Loads an existing identity, checking the file's permissions and contents. */
export async function loadIdentity(path: string): Promise<Identity> {
  const info = await stat(path)
  if ((info.mode & 0o077) !== 0) {
    throw new CoreError(
      'CORE__KEY_FILE_PERMISSIONS',
      `key file ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
      { path, mode: info.mode & 0o777 },
    )
  }
  // A key file is a few dozen bytes: anything else (a link to /dev/zero, a pipe) is refused before it is read whole.
  const bytes = await readBoundedFile(
    path,
    MAX_KEY_FILE_BYTES,
    (why) => new CoreError('CORE__INVALID_KEY_FILE', `key file ${path} cannot be read: ${why}`, { path }),
  )
  let key
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (cause) {
    throw new CoreError(
      'CORE__INVALID_KEY_FILE',
      `key file ${path} does not hold a libp2p private key`,
      { path },
      { cause },
    )
  }
  if (key.type !== 'Ed25519') {
    throw new CoreError('CORE__INVALID_KEY_FILE', `key file ${path} holds a ${key.type} key; Ed25519 is required`, {
      path,
      type: key.type,
    })
  }
  return new Identity(key)
}

const peerIdCache = new Map<string, string>()
const PEER_ID_CACHE_LIMIT = 10_000

/** The peer id string of a raw Ed25519 public key (cached: verification is on the hot path). */
export function peerIdOfPublicKey(raw: Uint8Array): string {
  if (raw.byteLength !== PUBLIC_KEY_BYTES) {
    throw new CoreError('CORE__MALFORMED_MESSAGE', `public key must be ${PUBLIC_KEY_BYTES} bytes`, {
      length: raw.byteLength,
    })
  }
  const key = Buffer.from(raw).toString('hex')
  let id = peerIdCache.get(key)
  if (id === undefined) {
    id = peerIdFromPublicKey(publicKeyFromRaw(raw)).toString()
    if (peerIdCache.size >= PEER_ID_CACHE_LIMIT) peerIdCache.clear()
    peerIdCache.set(key, id)
  }
  return id
}

/** Verifies an Ed25519 signature by a raw public key. Never throws for bad input: returns false. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    const ok = publicKeyFromRaw(publicKey).verify(data, sig)
    return ok === true
  } catch {
    return false
  }
}
