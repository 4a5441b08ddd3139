import { utf8ToBytes } from '@noble/hashes/utils.js'
import { sha256 } from '@tessera/core'
import { HASH_BYTES, MAX_CHALLENGE_CHUNKS, NONCE_BYTES } from './constants.js'
import { ProofError } from './errors.js'

/** Separates challenge derivation from every other use of SHA-256 over a root. */
const CHALLENGE_DOMAIN = utf8ToBytes('tessera/challenge/v1')
/** Largest output a challenge can address: a Merkle tree of depth 32. */
const MAX_CHUNKS = 2 ** 32
const WORDS_PER_BLOCK = HASH_BYTES / 4

/**
 * The chunk indices a challenge names: `count` distinct indices in [0, chunks), ascending, derived from the
 * committed root and the verifier's nonce only. The worker committed to the root before it saw the nonce, so it
 * could not know which chunks would be checked; anyone holding (root, nonce) recomputes the same indices, which is
 * what lets a fraud proof show that its chunk was really challenged.
 *
 * SHA-256 in counter mode, `block_k = SHA-256("tessera/challenge/v1" || root || nonce || u64be(count) ||
 * u64be(chunks) || u64be(k))`, gives a stream of 32-bit words; a partial Fisher–Yates shuffle over [0, chunks)
 * draws the indices, with rejection sampling so every index is equally likely. Binding `count` and `chunks` too
 * means no field of a challenge can be altered without changing which chunks it names.
 */
export function challengeIndices(root: Uint8Array, nonce: Uint8Array, count: number, chunks: number): number[] {
  if (root.byteLength !== HASH_BYTES) {
    throw new ProofError('PROOF__INVALID_CHALLENGE', `a root is ${HASH_BYTES} bytes, not ${root.byteLength}`, {
      rootBytes: root.byteLength,
    })
  }
  if (nonce.byteLength !== NONCE_BYTES) {
    throw new ProofError('PROOF__INVALID_CHALLENGE', `a nonce is ${NONCE_BYTES} bytes, not ${nonce.byteLength}`, {
      nonceBytes: nonce.byteLength,
    })
  }
  if (!Number.isInteger(chunks) || chunks < 1 || chunks > MAX_CHUNKS) {
    throw new ProofError('PROOF__INVALID_CHALLENGE', `an output has 1 to 2^32 chunks, not ${chunks}`, { chunks })
  }
  if (!Number.isInteger(count) || count < 1 || count > chunks || count > MAX_CHALLENGE_CHUNKS) {
    throw new ProofError(
      'PROOF__INVALID_CHALLENGE',
      `a challenge names 1 to min(chunks, ${MAX_CHALLENGE_CHUNKS}) chunks; ${count} of ${chunks} asked`,
      { count, chunks },
    )
  }
  const words = new WordStream(root, nonce, count, chunks)
  // Partial Fisher–Yates over a virtual array 0..chunks-1: only swapped slots are stored.
  const swapped = new Map<number, number>()
  const picked: number[] = []
  for (let j = 0; j < count; j++) {
    const r = j + below(words, chunks - j)
    const atR = swapped.get(r) ?? r
    swapped.set(r, swapped.get(j) ?? j)
    picked.push(atR)
  }
  return picked.sort((a, b) => a - b)
}

/** A uniform integer in [0, n) from the word stream (n ≤ 2^32), rejecting the biased top of the range. */
function below(words: WordStream, n: number): number {
  const limit = MAX_CHUNKS - (MAX_CHUNKS % n)
  for (;;) {
    const x = words.next()
    if (x < limit) return x % n
  }
}

/**
 * The counter-mode input, `domain || root || nonce || u64be(count) || u64be(chunks) || u64be(k)`, kept and filled
 * in place: every check derives its indices twice (verifier and worker), and a fresh input, two DataViews and
 * three BigInts per derivation were a fair share of what the simulator allocates. Safe to share: a derivation
 * runs to its end synchronously.
 */
const input = new Uint8Array(CHALLENGE_DOMAIN.byteLength + HASH_BYTES + NONCE_BYTES + 24)
input.set(CHALLENGE_DOMAIN, 0)
const inputView = new DataView(input.buffer)
const COUNT_AT = input.byteLength - 24
const CHUNKS_AT = input.byteLength - 16
const COUNTER_AT = input.byteLength - 8

/** A big-endian u64 of a safe integer, as two 32-bit words. */
function setU64(at: number, value: number): void {
  inputView.setUint32(at, Math.floor(value / 2 ** 32))
  inputView.setUint32(at + 4, value >>> 0)
}

/** The block before the first is hashed (never read: the first word hashes one). */
const NO_BLOCK = new Uint8Array(0)

/** 32-bit big-endian words of successive counter-mode blocks. */
class WordStream {
  #counter = 0
  #block = NO_BLOCK
  #next = WORDS_PER_BLOCK

  constructor(root: Uint8Array, nonce: Uint8Array, count: number, chunks: number) {
    input.set(root, CHALLENGE_DOMAIN.byteLength)
    input.set(nonce, CHALLENGE_DOMAIN.byteLength + HASH_BYTES)
    setU64(COUNT_AT, count)
    setU64(CHUNKS_AT, chunks)
  }

  next(): number {
    if (this.#next === WORDS_PER_BLOCK) {
      setU64(COUNTER_AT, this.#counter++)
      this.#block = sha256(input)
      this.#next = 0
    }
    const b = this.#block
    const at = 4 * this.#next++
    return (
      (b[at] as number) * 0x1000000 +
      (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
    )
  }
}
