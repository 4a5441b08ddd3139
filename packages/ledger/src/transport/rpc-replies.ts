import { isAddress, isSignature, type Address, type Blockhash, type Signature } from '@solana/kit'
import { z } from 'zod'
import { MAX_ACCOUNT_DATA_BYTES, MAX_TRANSACTION_ERROR_DEPTH } from '../constants.js'
import { LedgerError } from '../errors.js'
import { normalizeTransactionError } from './transaction-error.js'
import type { TransactionErrorJson } from './transport.js'

/**
 * Schemas for every RPC reply the transport uses, checked after `@solana/kit` has parsed them (kit turns JSON
 * integers into bigints). A reply that does not match is `LEDGER__RPC_MALFORMED_REPLY`: retried, never trusted.
 */

const u64 = z
  .union([z.bigint(), z.number().int()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= 0xffff_ffff_ffff_ffffn, 'out of u64 range')
const address = z
  .string()
  .refine(isAddress, 'not a base58 address')
  .transform((v) => v as Address)
const signature = z
  .string()
  .refine(isSignature, 'not a signature')
  .transform((v) => v as Signature)
const base64 = z
  .string()
  .max(Math.ceil(MAX_ACCOUNT_DATA_BYTES / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64')
/** Solana writes an instruction's index in an `InstructionError` as a u8. */
const MAX_INSTRUCTION_INDEX = 255

/** A variant name of Solana's errors, e.g. `InsufficientFundsForFee` (its fieldless variants are written as names). */
const variantName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'not a variant name')

/** An object of exactly one key: how Solana writes an enum variant with fields, e.g. `{ "Custom": 1 }`. */
function isOneVariant(value: object): boolean {
  return !Array.isArray(value) && Object.keys(value).length === 1
}

/** Whether an `InstructionError`, if `err` is one, holds what Solana's does: an instruction's index and its error. */
function isInstructionErrorWellFormed(err: TransactionErrorJson): boolean {
  if (typeof err === 'string' || !Object.hasOwn(err, 'InstructionError')) return true
  const pair = err['InstructionError']
  if (!Array.isArray(pair) || pair.length !== 2) return false
  const [index, error] = pair as [unknown, unknown]
  const variant = typeof error === 'string' || (error !== null && typeof error === 'object' && isOneVariant(error))
  return Number.isInteger(index) && (index as number) >= 0 && (index as number) <= MAX_INSTRUCTION_INDEX && variant
}

/**
 * Solana's JSON TransactionError: a variant name, or an object of one variant name and its fields (an
 * `InstructionError`: the instruction's index and its own error, in the same two shapes). Anything else (`[]`, `{}`,
 * `null`, a number, a sentence) is no error of Solana's, and a reply carrying one is malformed: read as a definite
 * refusal, it would let an action be built anew.
 */
export const transactionError = z
  .union([variantName, z.record(variantName, z.unknown()).refine(isOneVariant, 'not one variant')])
  .transform((value, ctx) => {
    const err = normalizeTransactionError(value)
    if (err !== undefined) return err
    ctx.issues.push({
      code: 'custom',
      message: `nests deeper than ${MAX_TRANSACTION_ERROR_DEPTH} levels`,
      input: value,
    })
    return z.NEVER
  })
  .refine(isInstructionErrorWellFormed, 'not an instruction index and its error')
const context = z.object({ slot: u64 }).loose()
const commitment = z.enum(['processed', 'confirmed', 'finalized'])

export const latestBlockhashReply = z.object({
  context,
  value: z.object({
    blockhash: z
      .string()
      .refine(isAddress, 'not a blockhash')
      .transform((v) => v as string as Blockhash),
    lastValidBlockHeight: u64,
  }),
})

export const balanceReply = z.object({ context, value: u64 })

/** `getEpochInfo`, of which only the slot and block height are read. */
export const epochInfoReply = z.object({ absoluteSlot: u64, blockHeight: u64 }).loose()

export const accountInfoReply = z.object({
  context,
  value: z
    .object({
      data: z.tuple([base64, z.literal('base64')]),
      executable: z.boolean(),
      lamports: u64,
      owner: address,
      space: u64.optional(),
    })
    .loose()
    .nullable(),
})

export const signatureStatusesReply = z.object({
  context,
  value: z.array(
    z
      .object({
        slot: u64,
        err: transactionError.nullable(),
        confirmationStatus: commitment.nullable().optional(),
        confirmations: u64.nullable().optional(),
      })
      .loose()
      .nullable(),
  ),
})

export const transactionReply = z
  .object({
    slot: u64,
    meta: z.object({ err: transactionError.nullable() }).loose().nullable(),
    transaction: z.tuple([base64, z.literal('base64')]),
  })
  .loose()
  .nullable()

export const signatureReply = signature
export const lamportsReply = u64

export const signatureNotification = z.object({
  context,
  value: z.union([z.literal('receivedSignature'), z.object({ err: transactionError.nullable() }).loose()]),
})

/**
 * The data of a preflight failure (JSON-RPC error -32002): Solana's simulation of the transaction, of which its error
 * and its logs (the strings among them) are read.
 */
export const preflightFailureData = z
  .object({ err: transactionError, logs: z.array(z.unknown()).nullable().optional() })
  .loose()

/**
 * A message on a subscriptions channel, as far as kit reads it before its own checks: a notification (a method name,
 * and params naming the subscription and carrying a result), or any other object (a reply to a subscribe, unsubscribe
 * or ping request, which kit matches by its id). Kit's demultiplexer reads `params.result` of anything with a
 * method, and the method's name as a string: a message of another shape would make it throw.
 */
export const subscriptionMessage = z.union([
  z
    .object({
      method: z.string().max(128),
      params: z.object({ subscription: z.unknown(), result: z.unknown() }).loose(),
    })
    .loose(),
  z
    .object({})
    .loose()
    .refine((message) => !Object.hasOwn(message, 'method'), 'a method without params'),
])

/**
 * The JSON-RPC 2.0 envelope around every reply: an error, or a result. `"error": null` beside a result (which
 * JSON-RPC 1.0 wrote, and some servers still do) is read as no error, and dropped, so that neither this transport nor
 * kit reads it as an error; `"error": null` without a result is refused.
 */
export const jsonRpcEnvelope = z.union([
  z
    .object({
      jsonrpc: z.literal('2.0'),
      error: z
        .object({
          code: z.union([z.number(), z.bigint()]),
          message: z.string().max(4096),
          data: z.unknown().optional(),
        })
        .loose(),
    })
    .loose(),
  z
    .object({ jsonrpc: z.literal('2.0'), result: z.unknown(), error: z.null().optional() })
    .loose()
    .transform(({ error: _absent, ...envelope }) => envelope),
])

/** Checks `value` against `schema`, throwing `LEDGER__RPC_MALFORMED_REPLY` with the method and the first problem. */
export function parseReply<S extends z.ZodType>(schema: S, value: unknown, method: string): z.output<S> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  throw new LedgerError(
    'LEDGER__RPC_MALFORMED_REPLY',
    `${method} reply is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    { method, path: issue?.path.map(String) ?? [] },
  )
}
