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
/**
 * Most connections the control API holds at once; one more is closed as it arrives. The CLI makes a few at a time,
 * and no caller needs the token to open one.
 */
export const MAX_API_CONNECTIONS = 64
/** How long a control API request's headers may take to arrive, from its first byte. */
export const API_HEADERS_TIMEOUT_MS = 10_000
/** How long a control API request's JSON body (at most {@link MAX_API_BODY_BYTES}) may take to arrive. */
export const API_BODY_TIMEOUT_MS = 10_000
/**
 * The slowest a blob upload may arrive on average: its body gets {@link API_BODY_TIMEOUT_MS} and its length at this
 * rate (a chunked one, the most a blob may be).
 */
export const MIN_API_UPLOAD_BYTES_PER_SECOND = 1024 * 1024
/** How long the control API keeps an idle connection open for the client's next request. */
export const API_KEEP_ALIVE_TIMEOUT_MS = 2_000
/** How often Node checks the control API's connections against their deadlines: how late a deadline may be met. */
export const API_TIMEOUT_CHECK_INTERVAL_MS = 1_000
/** How long the CLI waits for the control API. */
export const API_TIMEOUT_MS = 10_000
