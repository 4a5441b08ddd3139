/**
 * How a control API client tells the node of its data directory from any other process that listens where the
 * node's address file says (one that took the port of a node killed before it could remove the file): before it
 * sends its bearer token, it sends a fresh nonce, which only a holder of the token can answer.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** Random bytes in a client's challenge nonce, sent as hex. */
export const API_NONCE_BYTES = 32
/** Random bytes in the id a node draws each time its API starts, written as hex. */
export const API_INSTANCE_BYTES = 16
/** A nonce as a client sends it. */
export const API_NONCE = /^[0-9a-f]{64}$/
/** An instance id as a node writes it. */
export const API_INSTANCE = /^[0-9a-f]{32}$/

/** Tells this HMAC from any other the token might one day key. */
const PROOF_CONTEXT = 'tessera-api-proof/v1'

/** A fresh challenge nonce. */
export function apiNonce(): string {
  return randomBytes(API_NONCE_BYTES).toString('hex')
}

/** A fresh instance id, drawn as a node's API starts. */
export function apiInstance(): string {
  return randomBytes(API_INSTANCE_BYTES).toString('hex')
}

/**
 * A node's answer to `nonce`: HMAC-SHA256 keyed by its API token over the nonce and its instance id, so an answer
 * holds for one challenge of one start of one node. Both are hex, so the newlines between them are unambiguous.
 */
export function apiProof(token: string, nonce: string, instance: string): Buffer {
  return createHmac('sha256', token).update(`${PROOF_CONTEXT}\n${nonce}\n${instance}`).digest()
}

/** Whether `proof` (hex, as a node sends it) is the answer to `nonce` of a node holding `token`: constant time. */
export function isApiProof(proof: string, token: string, nonce: string, instance: string): boolean {
  const given = Buffer.from(proof, 'hex')
  const expected = apiProof(token, nonce, instance)
  return given.byteLength === expected.byteLength && timingSafeEqual(given, expected)
}
