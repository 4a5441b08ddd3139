/** Defaults for the `tessera` node. */

import { MAX_FIRST_FRAME, MAX_FRAMES_PER_JOB } from '@tessera/core'

/** Default data directory, under the user's home. */
export const DEFAULT_DATA_DIR_NAME = '.tessera'
export const CONFIG_FILE = 'config.json'
export const IDENTITY_FILE = 'peer.key'
export const WALLET_FILE = 'wallet.json'
export const DATASTORE_DIR = 'datastore'
export const LEDGER_DIR = 'ledger'
export const API_TOKEN_FILE = 'api.token'
/** Random bytes in a fresh API token (hex encoded in the file). */
export const API_TOKEN_BYTES = 24
/** Shortest API token a node accepts: a shorter one is damaged, and an empty one would authorise anyone. */
export const MIN_API_TOKEN_LENGTH = 32
/** Written by a running node: where its control API listens. */
export const API_ADDRESS_FILE = 'api.json'

/** Largest config file accepted. */
export const MAX_CONFIG_BYTES = 256 * 1024
/** Largest API token or API address file read (each is under a hundred bytes). */
export const MAX_SMALL_FILE_BYTES = 4096
/** Largest job input accepted from a file (scene or model). */
export const MAX_INPUT_BYTES = 512 * 1024 * 1024
/**
 * The last frame a render job may have: its first at most {@link MAX_FIRST_FRAME}, and {@link MAX_FRAMES_PER_JOB}
 * frames from there (999,999,999, nine digits as task ids spell it). `render --frame` previews no frame past it.
 */
export const MAX_FRAME_NUMBER = MAX_FIRST_FRAME + MAX_FRAMES_PER_JOB - 1
/** Largest request body the control API accepts. */
export const MAX_API_BODY_BYTES = 16 * 1024 * 1024
/** How long the CLI waits for the control API. */
export const API_TIMEOUT_MS = 10_000
