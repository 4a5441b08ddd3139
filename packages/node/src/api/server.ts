import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http'
import { type AddressInfo, isIP, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { randomUUID, timingSafeEqual } from 'node:crypto'
import { AbortError, type AbortOptions, isTesseraError, throwIfAborted } from '@tessera/core'
import { MAX_EXPOSURE, TONE_CURVES } from '@tessera/gpu'
import { z } from 'zod'
import {
  API_BODY_TIMEOUT_MS,
  API_HEADERS_TIMEOUT_MS,
  API_KEEP_ALIVE_TIMEOUT_MS,
  API_TIMEOUT_CHECK_INTERVAL_MS,
  MAX_API_CONNECTIONS,
  MAX_INPUT_BYTES,
  MIN_API_TOKEN_LENGTH,
} from '../constants.js'
import { NodeError, type NodeErrorCode } from '../errors.js'
import { createLogger, type Logger } from '../logger.js'
import { errorFields } from '../peer/error-fields.js'
import { DEFAULT_JOBS_LISTED, type JobRequest, MAX_JOBS_LISTED, type NodeOperations } from './contract.js'
import { jobRequestSchema, tokenAmount } from './job-request-schema.js'
import { API_NONCE, apiInstance, apiProof } from './proof.js'
import {
  continueOnRead,
  declaredLength,
  JSON_MEDIA_TYPE,
  parseQuery,
  readBody,
  readJsonBody,
  uploadDeadlineMs,
} from './request.js'

/**
 * A query parameter holding a number as JavaScript writes one (`String(n)`: digits, a fraction, an exponent):
 * `Number()` alone also takes `0x10`, `0b1` and padding spaces, which no client means.
 */
const decimal = z
  .string()
  .regex(/^\d{1,21}(\.\d{1,21})?(e[+-]?\d{1,3})?$/, 'expected a decimal number')
  .transform(Number)

/** A query parameter holding a whole number in digits. */
const wholeNumber = z
  .string()
  .regex(/^\d{1,9}$/, 'expected a whole number')
  .transform(Number)

/** `GET /v1/jobs/:id/output?exposure=2&toneCurve=aces`: how the PNG frames are tone-mapped. */
const jobOutputQuerySchema = z
  .object({
    exposure: decimal.pipe(z.number().positive().max(MAX_EXPOSURE)).optional(),
    toneCurve: z.enum(TONE_CURVES).optional(),
    partial: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional(),
    frame: wholeNumber.optional(),
  })
  .strict()

/** An output file's name, as the node gives them (`frame-0007.exr`, `output.f32`): one path segment, no dot first. */
const OUTPUT_FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

const jobListQuerySchema = z
  .object({ limit: wholeNumber.pipe(z.number().int().min(1).max(MAX_JOBS_LISTED)).default(DEFAULT_JOBS_LISTED) })
  .strict()

/** `GET /v1/challenge?nonce=…`: a client's fresh nonce, which the node answers to prove it holds the token. */
const challengeQuerySchema = z.object({ nonce: z.string().regex(API_NONCE, 'expected 64 hex digits') }).strict()

/** An airdrop of tokens: at least one, as one of none would mint nothing and still pay its transaction's fee. */
const airdropSchema = z
  .object({ amount: tokenAmount.refine((v) => BigInt(v) > 0n, 'an airdrop is of at least 1 token') })
  .strict()

/** Where the control API listens and whom it lets in. */
export interface ApiServerOptions {
  /** Interface to bind; loopback, as the token travels in clear. */
  host: string
  /** TCP port; 0 picks a free one. */
  port: number
  /** Bearer token required on /v1 routes. /metrics is open, as Prometheus scrapes it. */
  token: string
  /**
   * Most connections held at once; one more is closed as it arrives.
   * @default MAX_API_CONNECTIONS
   */
  maxConnections?: number
  /**
   * How long a request's headers may take to arrive; a late one is answered 408 `NODE__API_REQUEST_TIMEOUT`.
   * @default API_HEADERS_TIMEOUT_MS
   */
  headersTimeoutMs?: number
  /**
   * How long a JSON body may take to arrive once its headers have; a blob upload gets this and its length at
   * `MIN_API_UPLOAD_BYTES_PER_SECOND`. A late one is answered 408 `NODE__API_REQUEST_TIMEOUT`.
   * @default API_BODY_TIMEOUT_MS
   */
  bodyTimeoutMs?: number
  /**
   * Where the node's own failures go: a request answered 500 or more (`api:failed`, with its request id), and server
   * errors after {@link ApiServer.listen} (a failed `accept`, say; `api:error`).
   * @default JSON lines on stdout at level `error`, named `tessera:api`
   */
  logger?: Pick<Logger, 'error'>
}

/** A request's path without its query, for the log. */
function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0] as string
}

/** A URL path segment's text; a malformed percent-escape is the caller's error, not ours. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new NodeError('NODE__API_MALFORMED_REQUEST', `malformed percent-escape in ${JSON.stringify(segment)}`, {
      segment,
    })
  }
}

/**
 * HTTP status of the codes whose status their name does not say. Only what the caller named can be missing (404):
 * a blob or account the node lost on the way is its own fault (500).
 */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  NODE__API_UNAUTHORISED: 401,
  NODE__API_NOT_FOUND: 404,
  NODE__JOB_NOT_FOUND: 404,
  NODE__OUTPUT_FILE_NOT_FOUND: 404,
  // The request names an input blob never uploaded.
  NODE__INPUT_NOT_FOUND: 400,
  // Inputs that fail alike at every parse (a parser throws on them, or they need more heap than a parse may take).
  NODE__INPUT_UNPARSEABLE: 400,
  NODE__API_BODY_TOO_LARGE: 413,
  NODE__API_METHOD_NOT_ALLOWED: 405,
  NODE__API_HOST_REFUSED: 403,
  NODE__API_ORIGIN_REFUSED: 403,
  NODE__API_REQUEST_TIMEOUT: 408,
  NODE__API_UNSUPPORTED_MEDIA_TYPE: 415,
  NODE__API_EXPECTATION_FAILED: 417,
  // No sampling plan meets the verification budget for the job's tasks: the request must ask another.
  NODE__VERIFICATION_INFEASIBLE: 400,
  // The job is there, but not in the state the call needs (still running, not complete).
  NODE__JOB_NOT_ENDED: 409,
  NODE__JOB_NOT_COMPLETE: 409,
  // The wallet cannot fund what the job's budget asks.
  LEDGER__INSUFFICIENT_FUNDS: 402,
  // No faucet on this cluster: the request cannot be met here, whatever is sent.
  LEDGER__AIRDROP_UNAVAILABLE: 409,
}

/**
 * HTTP status for an error: by its code (and, for a refused parse, its reason), else what its code's name says (the
 * caller's fault, 400), else 500.
 */
function statusOf(e: unknown): number {
  if (!isTesseraError(e)) return 500
  const known = STATUS_OF_CODE[e.code]
  if (known !== undefined) return known
  // Inputs that ran their parse out of time are the caller's to lighten; a thread that failed to start is ours.
  if (e.code === 'NODE__INPUT_PARSE_FAILED') return e.context['reason'] === 'worker-failed' ? 500 : 400
  if (/MALFORMED|INVALID|TOO_LARGE|EXCEEDED|UNSUPPORTED|MISMATCH/.test(e.code)) return 400
  return 500
}

/**
 * Whether a request has body bytes not read yet. One that declares no body (neither a length nor chunks, RFC 9112,
 * section 6.3) has none, though Node marks it complete only after its handler was called.
 */
function hasUnreadBody(req: IncomingMessage): boolean {
  return !req.complete && (req.headers['transfer-encoding'] !== undefined || (declaredLength(req) ?? 0) > 0)
}

/**
 * Answers with `body`. A request whose body was not read in full (refused before it was) closes its connection after
 * the reply: left open, the rest of that body would be read as the next request, for as long as its sender likes. A
 * request without a body keeps its connection: a client proves the node over it before it sends the token there.
 */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Uint8Array): void {
  if (hasUnreadBody(res.req)) res.setHeader('connection', 'close')
  // A HEAD request is answered as its GET is, without the body (Node drops it), but with the length it would have.
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body)
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
  send(res, status, { ...headers, 'content-type': JSON_MEDIA_TYPE }, text)
}

/** A Host header's name (lower case, an IPv6 address without its brackets) and port (80 when it names none). */
function parseHostHeader(host: string): { name: string; port: number } | undefined {
  const parts = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i.exec(host)
  if (parts === null) return undefined
  return { name: (parts[1] ?? parts[2] ?? '').toLowerCase(), port: Number(parts[3] ?? 80) }
}

/**
 * The authority of an absolute-form request target (`GET http://host:port/path`), which is the request's host
 * whatever its Host header says (RFC 9112, section 3.2.2); undefined for a target in origin form (`/path`), and
 * `NODE__API_MALFORMED_REQUEST` for one that is no URL.
 */
function absoluteAuthority(target: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return undefined
  try {
    return new URL(target).host
  } catch (cause) {
    throw new NodeError('NODE__API_MALFORMED_REQUEST', 'the request target is not a URL', {}, { cause })
  }
}

/** The realm the API's bearer tokens are for (RFC 6750's `WWW-Authenticate: Bearer realm=…`). */
const AUTH_REALM = 'tessera'

/** Headers a refusal carries beyond its JSON body: how to authenticate (401), which methods a path takes (405). */
function refusalHeaders(e: unknown): Record<string, string> {
  if (!isTesseraError(e)) return {}
  if (e.code === 'NODE__API_UNAUTHORISED') {
    // A token that was sent and is wrong is told from none sent (RFC 6750, section 3.1).
    const error = e.context['tokenSent'] === true ? ', error="invalid_token"' : ''
    return { 'www-authenticate': `Bearer realm="${AUTH_REALM}"${error}` }
  }
  if (e.code === 'NODE__API_METHOD_NOT_ALLOWED') return { allow: (e.context['allow'] as string[]).join(', ') }
  if (e.code === 'NODE__API_UNSUPPORTED_MEDIA_TYPE') return { 'accept-post': JSON_MEDIA_TYPE }
  return {}
}

/** What a route is handed: the request, its reply, its path's parameters (decoded) and its query. */
interface RouteCall {
  req: IncomingMessage
  res: ServerResponse
  params: string[]
  query: URLSearchParams
  options: AbortOptions
}

/** One route of the control API. */
interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  /** The whole path; its groups are the route's parameters. */
  path: RegExp
  /** Served without the token: `/metrics`, which Prometheus scrapes, and `/v1/challenge`, which proves the node. */
  open?: boolean
  answer: (call: RouteCall) => Promise<void>
}

/** A job's id in a path. */
const JOB_ID = '([^/]{1,128})'

/** How the routes answer: the node's operations, and what they need of the server. */
interface RouteContext {
  ops: NodeOperations
  /** The API token, which `/v1/challenge` proves the node holds. */
  token: string
  /** This start's id (see {@link ApiServer.instance}). */
  instance: string
  bodyTimeoutMs: number
}

/** Every route of the API. A GET route answers HEAD too. */
function apiRoutes({ ops, token, instance, bodyTimeoutMs }: RouteContext): readonly Route[] {
  return [
    {
      method: 'GET',
      path: /^\/v1\/challenge$/,
      open: true,
      answer: async ({ res, query }) => {
        const { nonce } = parseQuery(query, challengeQuerySchema)
        sendJson(res, 200, { instance, proof: apiProof(token, nonce, instance).toString('hex') })
      },
    },
    {
      method: 'GET',
      path: /^\/metrics$/,
      open: true,
      answer: async ({ res, options }) =>
        send(res, 200, { 'content-type': 'text/plain; version=0.0.4' }, await ops.prometheusText(options)),
    },
    {
      method: 'GET',
      path: /^\/v1\/status$/,
      answer: async ({ res, options }) => sendJson(res, 200, await ops.status(options)),
    },
    {
      method: 'PUT',
      path: /^\/v1\/blobs$/,
      answer: async ({ req, res, options }) => {
        // A chunked upload may be as long as a blob may be.
        const deadlineMs = uploadDeadlineMs(declaredLength(req) ?? MAX_INPUT_BYTES, bodyTimeoutMs)
        const bytes = await readBody(req, MAX_INPUT_BYTES, deadlineMs)
        sendJson(res, 200, { cid: await ops.putBlob(bytes, options) })
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/jobs$/,
      answer: async ({ res, query, options }) => {
        const { limit } = parseQuery(query, jobListQuerySchema)
        sendJson(res, 200, { jobs: await ops.listJobs(limit, options) })
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/jobs$/,
      answer: async ({ req, res, options }) => {
        const request = (await readJsonBody(req, jobRequestSchema, bodyTimeoutMs)) as JobRequest
        sendJson(res, 200, await ops.submitJob(request, options))
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^/v1/jobs/${JOB_ID}$`),
      answer: async ({ res, params: [id], options }) => sendJson(res, 200, await ops.jobStatus(id as string, options)),
    },
    {
      method: 'DELETE',
      path: new RegExp(`^/v1/jobs/${JOB_ID}$`),
      answer: async ({ res, params: [id], options }) => sendJson(res, 200, await ops.deleteJob(id as string, options)),
    },
    {
      method: 'POST',
      path: new RegExp(`^/v1/jobs/${JOB_ID}/cancel$`),
      answer: async ({ res, params: [id], options }) => sendJson(res, 200, await ops.cancelJob(id as string, options)),
    },
    {
      method: 'GET',
      path: new RegExp(`^/v1/jobs/${JOB_ID}/output$`),
      answer: async ({ res, params: [id], query, options }) => {
        const output = parseQuery(query, jobOutputQuerySchema)
        sendJson(res, 200, await ops.jobOutput(id as string, output, options))
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^/v1/jobs/${JOB_ID}/output/([^/]{1,256})$`),
      answer: async ({ res, params: [id, name], query, options }) => {
        if (!OUTPUT_FILE_NAME.test(name as string)) {
          throw new NodeError('NODE__API_MALFORMED_REQUEST', `${JSON.stringify(name)} is not an output file name`, {})
        }
        const output = parseQuery(query, jobOutputQuerySchema)
        const reply = await ops.jobOutputFile(id as string, name as string, output, options)
        // Bytes as they are: a file past what a JSON string holds (an 8K frame's OpenEXR) still fits a reply.
        send(
          res,
          200,
          { 'content-type': reply.contentType, 'content-disposition': `attachment; filename="${name}"` },
          reply.bytes,
        )
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/wallet$/,
      answer: async ({ res, options }) => sendJson(res, 200, await ops.wallet(options)),
    },
    {
      method: 'POST',
      path: /^\/v1\/wallet\/airdrop$/,
      answer: async ({ req, res, options }) => {
        const { amount } = await readJsonBody(req, airdropSchema, bodyTimeoutMs)
        sendJson(res, 200, await ops.airdrop(BigInt(amount), options))
      },
    },
  ]
}

/**
 * The node's control API and Prometheus endpoint: loopback HTTP, bearer-token authorised, proving to clients that
 * it holds the token before they send it (`/v1/challenge`), every request body bounded and validated. Routing only; the work is done by {@link NodeOperations}.
 */
export class ApiServer {
  /**
   * An id drawn as this server is made, which its answers to `/v1/challenge` carry: `node start` writes it to the
   * address file with its pid, so that a client takes no other start of the node, nor any other process, for the
   * one the file names.
   */
  readonly instance: string
  readonly #server: Server
  readonly #routes: readonly Route[]
  readonly #token: Buffer
  readonly #listenOn: { host: string; port: number }
  /** The names a request's Host may give besides an IP address: `localhost` and the configured host. */
  readonly #hostNames: ReadonlySet<string>
  readonly #logger: Pick<Logger, 'error'>
  /** Connections with a reply under way, to which nothing else may be written. */
  readonly #answering = new WeakSet<Socket>()

  constructor(ops: NodeOperations, options: ApiServerOptions) {
    if (options.token.length < MIN_API_TOKEN_LENGTH) {
      throw new NodeError(
        'NODE__INVALID_CONFIG',
        `the API token has ${options.token.length} characters; at least ${MIN_API_TOKEN_LENGTH}`,
        {
          length: options.token.length,
        },
      )
    }
    const headersTimeoutMs = options.headersTimeoutMs ?? API_HEADERS_TIMEOUT_MS
    const bodyTimeoutMs = options.bodyTimeoutMs ?? API_BODY_TIMEOUT_MS
    this.instance = apiInstance()
    this.#routes = apiRoutes({ ops, token: options.token, instance: this.instance, bodyTimeoutMs })
    this.#token = Buffer.from(options.token)
    this.#server = createServer(
      {
        headersTimeout: headersTimeoutMs,
        // Each body has its own deadline (see readBody), by its route; this one, for a whole request, is only a
        // backstop, so it is the longest a request may take: headers, then the largest upload.
        requestTimeout: headersTimeoutMs + uploadDeadlineMs(MAX_INPUT_BYTES, bodyTimeoutMs),
        // Node's default checks every 30 s, which would hold a late request's socket that much past its deadline.
        connectionsCheckingInterval: Math.min(API_TIMEOUT_CHECK_INTERVAL_MS, headersTimeoutMs),
      },
      (req, res) => this.#answer(req, res),
    )
    // A client that waits for `100 Continue` is told to send its body only once its request passed the checks made
    // before the body is read (see `readBody`): a refusal comes first, and the body is never sent. Node would write
    // it before any check.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      continueOnRead(req, res)
      this.#answer(req, res)
    })
    // Node's own 417 has no JSON body.
    this.#server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
      this.#fail(req, res, this.#expectationRefusal(req)),
    )
    this.#server.maxConnections = options.maxConnections ?? MAX_API_CONNECTIONS
    this.#server.keepAliveTimeout = API_KEEP_ALIVE_TIMEOUT_MS
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.#refuse(error, socket))
    this.#listenOn = { host: options.host, port: options.port }
    this.#hostNames = new Set(['localhost', options.host.toLowerCase()])
    this.#logger = options.logger ?? createLogger('error', 'tessera:api')
  }

  /** Answers a request through its route, or with its refusal. */
  #answer(req: IncomingMessage, res: ServerResponse): void {
    this.#answering.add(req.socket)
    // A client that hangs up before its reply is finished no longer wants the work: stop it.
    const request = new AbortController()
    res.on('close', () => {
      this.#answering.delete(req.socket)
      if (!res.writableFinished) request.abort()
    })
    this.#route(req, res, { signal: request.signal }).catch((e: unknown) => this.#fail(req, res, e))
  }

  /** Why a request with an `Expect` the API does not meet is refused: its caller's refusal, else 417. */
  #expectationRefusal(req: IncomingMessage): unknown {
    try {
      this.#checkCaller(req)
    } catch (e) {
      return e
    }
    return new NodeError(
      'NODE__API_EXPECTATION_FAILED',
      `the control API meets no expectation but 100-continue, not ${JSON.stringify(req.headers.expect)}`,
      { expect: req.headers.expect ?? null },
    )
  }

  /**
   * Answers a request Node refused before it reached a route, and closes its connection: one whose headers or body
   * did not arrive in time (408 `NODE__API_REQUEST_TIMEOUT`), or that is not HTTP (400). Node's own answer has no
   * JSON body, so its client could not tell why. A connection whose reply is under way is closed unanswered, as
   * anything written would be read as part of that reply.
   */
  #refuse(error: NodeJS.ErrnoException, socket: Duplex): void {
    if (!socket.writable || this.#answering.has(socket as Socket)) return void socket.destroy()
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const status = timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
    const body = JSON.stringify({
      error: timedOut
        ? { code: 'NODE__API_REQUEST_TIMEOUT', message: 'the request did not arrive in time' }
        : { code: 'NODE__API_MALFORMED_REQUEST', message: `the request is not HTTP the API reads (${error.code})` },
    })
    // Ended, then closed once written: a client that keeps its side open would hold the connection on.
    socket.once('finish', () => socket.destroy())
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${JSON_MEDIA_TYPE}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }

  /**
   * Answers a request that failed. A failure of the node's own (500 and up) is logged with a request id the reply
   * carries too; an error the node did not code is answered with that id alone, as its message tells of the node's
   * insides (a path, a library's words), not of the request.
   */
  #fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    // The client hung up: there is nobody to answer, and the work it stopped is no failure of the node's. A failure
    // of the node's own is logged all the same (a 500 that met a client's timeout is the hard one to find).
    const stopped = res.destroyed && e instanceof AbortError
    const status = statusOf(e)
    const requestId = status >= 500 && !stopped ? randomUUID() : undefined
    if (requestId !== undefined) {
      this.#logger.error({ ...errorFields(e), method: req.method, path: pathOf(req), requestId }, 'api:failed')
    }
    if (res.destroyed) return
    if (res.headersSent) return void res.destroy()
    const error = isTesseraError(e)
      ? { code: e.code, message: e.message }
      : {
          code: 'NODE__INTERNAL' satisfies NodeErrorCode,
          message: `the node failed on this request; its log has the cause under request id ${requestId}`,
        }
    sendJson(res, status, { error: { ...error, ...(requestId !== undefined ? { requestId } : {}) } }, refusalHeaders(e))
  }

  /**
   * Starts listening; resolves to the bound address, or rejects with NODE__API_LISTEN_FAILED when it cannot bind. When
   * `options.signal` aborts, it rejects with `AbortError`, not listening.
   */
  async listen(options: AbortOptions = {}): Promise<{ host: string; port: number }> {
    throwIfAborted(options.signal)
    const { host, port } = this.#listenOn
    await new Promise<void>((resolve, reject) => {
      const onError = (cause: NodeJS.ErrnoException): void => {
        const why = cause.code === 'EADDRINUSE' ? 'the port is taken' : cause.message
        reject(
          new NodeError(
            'NODE__API_LISTEN_FAILED',
            `the control API cannot listen on ${host}:${port}: ${why}; set another with --api-port or api.port in config.json`,
            { host, port, reason: cause.code ?? 'unknown' },
            { cause },
          ),
        )
      }
      const onListening = (): void => {
        this.#server.off('error', onError)
        resolve()
      }
      this.#server.once('error', onError)
      this.#server.listen(port, host, onListening)
    })
    // A bind takes moments: an abort during it is seen once it is done, and the server closed again.
    if (options.signal?.aborted === true) {
      await this.close()
      throw new AbortError()
    }
    this.#server.on('error', (error) => this.#logger.error({ err: error }, 'api:error'))
    const address = this.#server.address() as AddressInfo
    return { host: address.address, port: address.port }
  }

  /** Stops listening and drops open connections, which aborts the operations they were waiting on. */
  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /**
   * Refuses a request a web page may have sent. One with an Origin is a browser's (the API has no browser clients,
   * and a page must read nothing from it, `/metrics` included): `NODE__API_ORIGIN_REFUSED`. One whose Host is not
   * this node's (`localhost`, the configured host or an IP address, at the port it listens on) may be a page whose
   * name its attacker's DNS points at loopback (DNS rebinding): `NODE__API_HOST_REFUSED`. An IP address is taken
   * whichever it is, as rebinding needs a name: a page at an address is that address's, not the attacker's. The host
   * is an absolute-form target's authority where there is one; a request of two Host headers is malformed.
   */
  #checkCaller(req: IncomingMessage): void {
    const origin = req.headers.origin
    if (origin !== undefined) {
      throw new NodeError(
        'NODE__API_ORIGIN_REFUSED',
        `the control API answers no web page (this request came from ${origin})`,
        { origin },
      )
    }
    // RFC 9112, section 3.2: Node keeps the first of two, which a proxy before it may not have read.
    const hosts = req.headersDistinct['host'] ?? []
    if (hosts.length > 1) {
      throw new NodeError('NODE__API_MALFORMED_REQUEST', `the request names ${hosts.length} hosts; one Host header`, {
        hosts,
      })
    }
    const named = absoluteAuthority(req.url ?? '/') ?? req.headers.host
    const host = parseHostHeader(named ?? '')
    const port = (this.#server.address() as AddressInfo).port
    if (host === undefined || host.port !== port || (isIP(host.name) === 0 && !this.#hostNames.has(host.name))) {
      throw new NodeError(
        'NODE__API_HOST_REFUSED',
        `the control API answers requests for localhost, ${this.#listenOn.host} or an IP address at port ${port}, ` +
          `not for ${JSON.stringify(named ?? '')}`,
        { host: named ?? null },
      )
    }
  }

  /**
   * Refuses a request without this node's token (`NODE__API_UNAUTHORISED`). The scheme is matched in any case
   * (RFC 9110, section 11.1), the token in constant time.
   */
  #authorise(req: IncomingMessage): void {
    const header = req.headers.authorization
    const given = Buffer.from(/^bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '')
    if (given.byteLength === this.#token.byteLength && timingSafeEqual(given, this.#token)) return
    throw new NodeError('NODE__API_UNAUTHORISED', 'missing or wrong API token', { tokenSent: header !== undefined })
  }

  async #route(req: IncomingMessage, res: ServerResponse, options: AbortOptions): Promise<void> {
    this.#checkCaller(req)
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch (cause) {
      throw new NodeError('NODE__API_MALFORMED_REQUEST', 'the request target is not a URL path', {}, { cause })
    }
    const path = url.pathname
    const routes = this.#routes.filter((route) => route.path.test(path))
    // Which routes there are is no secret, but what a path takes is told only to a caller with the token.
    if (routes.length === 0 || routes.some((route) => route.open !== true)) this.#authorise(req)
    if (routes.length === 0) {
      throw new NodeError('NODE__API_NOT_FOUND', `no route ${req.method} ${path}`, { method: req.method, path })
    }
    const route = routes.find((r) => r.method === (req.method === 'HEAD' ? 'GET' : req.method))
    if (route === undefined) {
      const allow = routes.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]))
      throw new NodeError('NODE__API_METHOD_NOT_ALLOWED', `${path} takes ${allow.join(', ')}, not ${req.method}`, {
        method: req.method,
        path,
        allow,
      })
    }
    const params = (route.path.exec(path) as RegExpExecArray).slice(1).map(decodePathSegment)
    await route.answer({ req, res, params, query: url.searchParams, options })
  }
}
