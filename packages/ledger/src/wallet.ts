import { mkdir, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  createKeyPairSignerFromBytes,
  createKeyPairSignerFromPrivateKeyBytes,
  getAddressEncoder,
  type KeyPairSigner,
} from '@solana/kit'
import { readBoundedFile, throwIfAborted, writeNewFile, type AbortOptions } from '@tessera/core'
import { isLedgerError, LedgerError } from './errors.js'

/** Key files are readable by their owner only, like ssh keys and `solana-keygen`'s. */
export const WALLET_FILE_MODE = 0o600
const SEED_BYTES = 32
const KEYPAIR_BYTES = 64

/**
 * Loads the Solana keypair at `path` (the `solana-keygen` format: a JSON array of 64 bytes, seed then public key),
 * or creates one there with mode 0600 by exclusive create when the file is absent. A file others can read is
 * refused, as ssh refuses one.
 */
export async function loadOrCreateWallet(path: string, options: AbortOptions = {}): Promise<KeyPairSigner> {
  throwIfAborted(options.signal)
  try {
    return await loadWallet(path)
  } catch (e) {
    if (!isLedgerError(e, 'LEDGER__WALLET_MISSING')) throw e
  }
  // An aborted call leaves no new key behind.
  throwIfAborted(options.signal)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const seed = crypto.getRandomValues(new Uint8Array(SEED_BYTES))
  const signer = await createKeyPairSignerFromPrivateKeyBytes(seed)
  const bytes = new Uint8Array(KEYPAIR_BYTES)
  bytes.set(seed, 0)
  bytes.set(getAddressEncoder().encode(signer.address), SEED_BYTES)
  // Written whole beside it, then linked into place (which fails if the name exists): a concurrent reader sees no
  // file or the whole key, never an empty or half-written one.
  let written: boolean
  try {
    written = await writeNewFile(path, JSON.stringify(Array.from(bytes)), WALLET_FILE_MODE)
  } finally {
    seed.fill(0)
    bytes.fill(0)
  }
  // Another process created it between our read and our link: use theirs.
  if (!written) return loadWallet(path)
  return signer
}

/** Largest wallet file read: a solana-keygen keypair is a JSON array of 64 bytes, under 300 characters. */
const MAX_WALLET_FILE_BYTES = 4096

/**
 * Loads an existing keypair file, checking its permissions and contents; one that does not exist is
 * `LEDGER__WALLET_MISSING`.
 */
export async function loadWallet(path: string): Promise<KeyPairSigner> {
  let info
  try {
    info = await stat(path)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause
    throw new LedgerError(
      'LEDGER__WALLET_MISSING',
      `key file ${path} is missing; restore it from a backup`,
      { path },
      { cause },
    )
  }
  if ((info.mode & 0o077) !== 0) {
    throw new LedgerError(
      'LEDGER__KEY_FILE_PERMISSIONS',
      `wallet ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
      { path, mode: info.mode & 0o777 },
    )
  }
  // A keypair file is a few hundred bytes: anything else (a link to /dev/zero, a pipe) is refused unread.
  const text = new TextDecoder().decode(
    await readBoundedFile(
      path,
      MAX_WALLET_FILE_BYTES,
      (why) => new LedgerError('LEDGER__INVALID_KEY_FILE', `wallet ${path} cannot be read: ${why}`, { path }),
    ),
  )
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new LedgerError('LEDGER__INVALID_KEY_FILE', `wallet ${path} is not JSON`, { path }, { cause })
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== KEYPAIR_BYTES ||
    !parsed.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)
  ) {
    throw new LedgerError('LEDGER__INVALID_KEY_FILE', `wallet ${path} is not a 64-byte solana-keygen keypair`, { path })
  }
  const bytes = Uint8Array.from(parsed as number[])
  try {
    return await createKeyPairSignerFromBytes(bytes)
  } catch (cause) {
    // kit checks that the public half matches the seed.
    throw new LedgerError(
      'LEDGER__INVALID_KEY_FILE',
      `wallet ${path} holds an inconsistent keypair`,
      { path },
      { cause },
    )
  } finally {
    bytes.fill(0)
  }
}
