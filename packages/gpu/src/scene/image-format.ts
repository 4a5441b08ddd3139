/** A format the loader decodes textures of, by the signature its files start with. */
interface ImageSignature {
  mimeType: 'image/png' | 'image/jpeg' | 'image/ktx2' | 'image/webp'
  /** Bytes at `at`; `null` for a byte that may be anything (a RIFF container's size). */
  bytes: readonly (number | null)[]
}

/** PNG, JPEG (SOI then a marker), KTX2 («KTX 20»\r\n\x1A\n) and WebP (a RIFF container of form WEBP). */
const SIGNATURES: readonly ImageSignature[] = [
  { mimeType: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mimeType: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
  { mimeType: 'image/ktx2', bytes: [0xab, 0x4b, 0x54, 0x58, 0x20, 0x32, 0x30, 0xbb, 0x0d, 0x0a, 0x1a, 0x0a] },
  {
    mimeType: 'image/webp',
    bytes: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50],
  },
]

/**
 * The image format `bytes` are by their signature, of those the loader decodes (`image/png`, `image/jpeg`,
 * `image/ktx2`, `image/webp`), or undefined for anything else: what a texture's file must be to be packed into a
 * scene a job uploads (a key or a document named as an image would otherwise travel to every worker).
 */
export function imageFormat(bytes: Uint8Array): ImageSignature['mimeType'] | undefined {
  return SIGNATURES.find(
    ({ bytes: signature }) =>
      bytes.byteLength >= signature.length && signature.every((b, i) => b === null || bytes[i] === b),
  )?.mimeType
}
