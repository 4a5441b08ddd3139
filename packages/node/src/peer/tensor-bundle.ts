import { decodeCanonical, encodeCanonical } from '@tessera/core'
import { MAX_TENSOR_RANK, tensor, type Tensor } from '@tessera/gpu'
import { float32Bytes, bytesToFloat32 } from '@tessera/gpu'
import { Tokenizer, Type } from 'cborg'
import { z } from 'zod'
import { MAX_INPUT_BYTES } from '../constants.js'
import { NodeError } from '../errors.js'

/** Inputs of one inference job travel as one blob: a DAG-CBOR map from graph input name to a float32 tensor. */
const MAX_TENSORS = 64
/** The fields of one tensor in a bundle: `dims` and `data`. */
const TENSOR_FIELDS = 2
/** Containers nested in a bundle: its map of tensors, a tensor's map of fields, the `dims` array. */
const BUNDLE_DEPTH = 3
/**
 * Largest tensor bundle decoded: the most a creator can upload as one job input (the API and the CLI hold inputs to
 * it), so every bundle a creator could make fits; a larger blob from a creator's peer is refused unread.
 */
export const MAX_TENSOR_BUNDLE_BYTES = MAX_INPUT_BYTES

const bundleSchema = z.record(
  z.string().min(1).max(256),
  z.object({
    dims: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(1 << 30),
      )
      .max(MAX_TENSOR_RANK),
    data: z.instanceof(Uint8Array),
  }),
)

/** Encodes named tensors into the inference input blob. */
export function encodeTensorBundle(tensors: Readonly<Record<string, Tensor>>): Uint8Array {
  const out: Record<string, { dims: number[]; data: Uint8Array }> = {}
  for (const [name, t] of Object.entries(tensors)) out[name] = { dims: [...t.shape], data: float32Bytes(t.data) }
  return encodeCanonical(out)
}

/**
 * Decodes and validates an inference input blob.
 *
 * @throws NODE__UNSUPPORTED_INPUT for a blob past {@link MAX_TENSOR_BUNDLE_BYTES}, or one that is not a bundle of at
 * most 64 tensors, each of a rank the engine runs and data that matches its shape
 */
export function decodeTensorBundle(bytes: Uint8Array): Record<string, Tensor> {
  if (bytes.byteLength > MAX_TENSOR_BUNDLE_BYTES) {
    throw new NodeError(
      'NODE__UNSUPPORTED_INPUT',
      `a tensor bundle is at most ${MAX_TENSOR_BUNDLE_BYTES} bytes, and this one is ${bytes.byteLength}`,
      { bytes: bytes.byteLength, limit: MAX_TENSOR_BUNDLE_BYTES },
    )
  }
  let parsed
  try {
    assertBundleShape(bytes)
    parsed = bundleSchema.parse(decodeCanonical(bytes, 'tensor bundle'))
  } catch (cause) {
    throw new NodeError('NODE__UNSUPPORTED_INPUT', 'the inference input is not a tensor bundle', {}, { cause })
  }
  const out: Record<string, Tensor> = {}
  for (const [name, { dims, data }] of Object.entries(parsed)) {
    try {
      out[name] = tensor(dims, bytesToFloat32(data))
    } catch (cause) {
      throw new NodeError('NODE__UNSUPPORTED_INPUT', `tensor ${name} does not match its shape`, { name }, { cause })
    }
  }
  return out
}

/**
 * Walks a bundle's CBOR tokens, building nothing, and throws on a map with more entries than a bundle has tensors
 * or a tensor has fields, an array longer than {@link MAX_TENSOR_RANK}, containers nested deeper than a bundle's, or a
 * tag. The DAG-CBOR decoder builds the whole value before the schema sees it, so without this a 64 MB bundle whose
 * `dims` held 64 million zeros took 1.5 GB of heap to be refused.
 */
function assertBundleShape(bytes: Uint8Array): void {
  // The tokenizer slices out every byte string it reads; a Buffer's slices are views where a Uint8Array's are copies.
  const tokens = new Tokenizer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    allowIndefinite: false,
  })
  // Tokens still to read in each open container, under one for the bundle itself.
  const left = [1]
  while (left.length > 0) {
    if (tokens.done()) throw new Error('the CBOR ends inside the bundle')
    const token = tokens.next()
    left[left.length - 1]! -= 1
    if (token.type === Type.tag) throw new Error('a tensor bundle holds no tagged values')
    if (token.type === Type.map || token.type === Type.array) {
      const depth = left.length
      if (depth > BUNDLE_DEPTH) throw new Error(`a tensor bundle nests at most ${BUNDLE_DEPTH} deep`)
      const limit = token.type === Type.array ? MAX_TENSOR_RANK : depth === 1 ? MAX_TENSORS : TENSOR_FIELDS
      const length = token.value as number
      if (length > limit) {
        throw new Error(`a ${token.type.name} of ${length} entries at depth ${depth}, where at most ${limit} fit`)
      }
      left.push(token.type === Type.map ? 2 * length : length)
    }
    while (left.length > 0 && left[left.length - 1] === 0) left.pop()
  }
  if (!tokens.done()) throw new Error('bytes follow the bundle')
}
