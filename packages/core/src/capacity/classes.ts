import { sha256 } from '../sha256.js'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { MAX_LABEL_LENGTH } from '../constants.js'
import { CoreError } from '../errors.js'

/** Capability classes are named `tessera/class/<name>` before hashing, so they never collide with blob CIDs. */
export const CLASS_KEY_PREFIX = 'tessera/class/'

/**
 * The DHT key under which workers of a capability class (e.g. `render/wgsl`) provide themselves: CIDv1, raw codec,
 * sha2-256 of `tessera/class/<name>`. A creator finds workers by class through the DHT, without gossip history.
 */
export function classCid(name: string): CID {
  if (name.length === 0 || name.length > MAX_LABEL_LENGTH) {
    throw new CoreError('CORE__INVALID_CONFIG', `a capability class name must be 1 to ${MAX_LABEL_LENGTH} characters`, {
      name,
    })
  }
  const digest = sha256(new TextEncoder().encode(`${CLASS_KEY_PREFIX}${name}`))
  return CID.createV1(raw.code, Digest.create(sha256Hasher.code, digest))
}
