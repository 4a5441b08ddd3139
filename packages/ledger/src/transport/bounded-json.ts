import { parseJsonWithBigInts } from '@solana/rpc-spec-types'
import { MAX_RPC_REPLY_DEPTH, type RpcReplyBound } from '../constants.js'
import { LedgerError } from '../errors.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const MINUS = 0x2d
const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
const OPEN_BRACKET = 0x5b
const OPEN_BRACE = 0x7b
const CLOSE_BRACKET = 0x5d
const CLOSE_BRACE = 0x7d
const DOT = 0x2e
const PLUS = 0x2b
const LOWER_E = 0x65
const UPPER_E = 0x45

/** What a scan of JSON text found past its bounds, if anything. */
type Excess = { t: 'numbers' } | { t: 'depth' } | undefined

/**
 * One pass over JSON text, outside its strings, counting number tokens and tracking how deep arrays and objects nest;
 * it stops at the first excess. It reads the text as a tokenizer would only as far as these two need: a text it
 * passes may still be no JSON at all, which the parse after it finds.
 */
function scanJson(text: string, maxNumbers: number, maxDepth: number): Excess {
  let numbers = 0
  let depth = 0
  let inString = false
  let inNumber = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
      continue
    }
    const numeric = (c >= DIGIT_0 && c <= DIGIT_9) || c === MINUS
    // A number's own letters, signs and point (`-1.5e+3`) continue it; a digit after anything else starts one.
    if (numeric && !inNumber && ++numbers > maxNumbers) return { t: 'numbers' }
    inNumber = numeric || (inNumber && (c === DOT || c === PLUS || c === LOWER_E || c === UPPER_E))
    if (c === QUOTE) inString = true
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return { t: 'depth' }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--
  }
  return undefined
}

/**
 * JSON from an RPC endpoint read as kit reads it (every integer a bigint), once a cheap scan has shown that parsing
 * it costs what `bound` allows: at most `bound.numbers` number tokens (each costs kit's parser a wrapper object and a
 * regular expression, so a body of zeros under any sane byte bound stalls it for seconds) and nesting at most
 * {@link MAX_RPC_REPLY_DEPTH} deep (kit's reviver, and its reply transformers after it, recurse). Its bytes are the
 * reader's to bound, as it reads. Too many numbers is `LEDGER__RPC_REPLY_TOO_LARGE`; too deep, or whatever the parser
 * throws (not JSON, a number no bigint holds such as `1e999999`), `LEDGER__RPC_MALFORMED_REPLY`. `what` names the
 * reply in errors, e.g. the method it answers.
 */
export function parseBoundedJson(text: string, bound: RpcReplyBound, what: string): unknown {
  const excess = scanJson(text, bound.numbers, MAX_RPC_REPLY_DEPTH)
  if (excess?.t === 'numbers') {
    throw new LedgerError(
      'LEDGER__RPC_REPLY_TOO_LARGE',
      `the reply to ${what} holds more than ${bound.numbers} numbers`,
      { method: what, maxNumbers: bound.numbers },
    )
  }
  if (excess?.t === 'depth') {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `the reply to ${what} nests deeper than ${MAX_RPC_REPLY_DEPTH} levels`,
      { method: what, max: MAX_RPC_REPLY_DEPTH },
    )
  }
  try {
    return parseJsonWithBigInts(text)
  } catch (cause) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `the reply to ${what} is not JSON that can be read: ${String(cause)}`,
      { method: what },
      { cause },
    )
  }
}
