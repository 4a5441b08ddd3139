import { decodeCanonical, encodeCanonical } from '@tessera/core'
import { tensor, type Tensor } from '@tessera/gpu'
import { float32Bytes, bytesToFloat32 } from '@tessera/gpu'
import { z } from 'zod'
import { NodeError } from '../errors.js'

/** Inputs of one inference job travel as one blob: a DAG-CBOR map from graph input name to a float32 tensor. */
const MAX_TENSORS = 64
const MAX_DIMS = 8

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
      .max(MAX_DIMS),
    data: z.instanceof(Uint8Array),
  }),
)

/** Encodes named tensors into the inference input blob. */
export function encodeTensorBundle(tensors: Readonly<Record<string, Tensor>>): Uint8Array {
  const out: Record<string, { dims: number[]; data: Uint8Array }> = {}
  for (const [name, t] of Object.entries(tensors)) out[name] = { dims: [...t.shape], data: float32Bytes(t.data) }
  return encodeCanonical(out)
}

/** Decodes and validates an inference input blob. */
export function decodeTensorBundle(bytes: Uint8Array): Record<string, Tensor> {
  let parsed
  try {
    parsed = bundleSchema.parse(decodeCanonical(bytes, 'tensor bundle'))
  } catch (cause) {
    throw new NodeError('NODE__UNSUPPORTED_INPUT', 'the inference input is not a tensor bundle', {}, { cause })
  }
  const entries = Object.entries(parsed)
  if (entries.length > MAX_TENSORS) {
    throw new NodeError('NODE__UNSUPPORTED_INPUT', `a tensor bundle holds at most ${MAX_TENSORS} tensors`, {})
  }
  const out: Record<string, Tensor> = {}
  for (const [name, { dims, data }] of entries) {
    try {
      out[name] = tensor(dims, bytesToFloat32(data))
    } catch (cause) {
      throw new NodeError('NODE__UNSUPPORTED_INPUT', `tensor ${name} does not match its shape`, { name }, { cause })
    }
  }
  return out
}
