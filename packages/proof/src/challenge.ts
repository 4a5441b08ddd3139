import { utf8ToBytes } from '@noble/hashes/utils.js'
import { HASH_BYTES, MAX_CHALLENGE_CHUNKS, NONCE_BYTES } from './constants.js'
import { ProofError } from './errors.js'
import { sha256 } from './sha256.js'

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
  const words = wordStream(root, nonce, count, chunks)
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
function below(words: () => number, n: number): number {
  const limit = MAX_CHUNKS - (MAX_CHUNKS % n)
  for (;;) {
    const x = words()
    if (x < limit) return x % n
  }
}

function wordStream(root: Uint8Array, nonce: Uint8Array, count: number, chunks: number): () => number {
  const input = new Uint8Array(CHALLENGE_DOMAIN.byteLength + HASH_BYTES + NONCE_BYTES + 24)
  input.set(CHALLENGE_DOMAIN, 0)
  input.set(root, CHALLENGE_DOMAIN.byteLength)
  input.set(nonce, CHALLENGE_DOMAIN.byteLength + HASH_BYTES)
  const counterAt = input.byteLength - 8
  const view = new DataView(input.buffer)
  view.setBigUint64(counterAt - 16, BigInt(count))
  view.setBigUint64(counterAt - 8, BigInt(chunks))
  let counter = 0
  let block = new DataView(new ArrayBuffer(0))
  let next = WORDS_PER_BLOCK
  return () => {
    if (next === WORDS_PER_BLOCK) {
      view.setBigUint64(counterAt, BigInt(counter++))
      const digest = sha256(input)
      block = new DataView(digest.buffer, digest.byteOffset, digest.byteLength)
      next = 0
    }
    return block.getUint32(4 * next++)
  }
}
