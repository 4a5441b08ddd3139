import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A JSON-RPC proxy in front of an endpoint (the {@link RpcDouble}), for tests of what a cluster of several nodes does
 * that one endpoint cannot: a node that forwards a transaction and loses its reply while another answers for it, a
 * copy that reaches the leader late. Each request goes to `handler` first: a string is the reply, undefined forwards
 * the request as it came. Replies come back as HTTP 200 whatever the endpoint answered: inject HTTP faults at the
 * endpoint's side only with a client talking to it directly.
 */

/** One JSON-RPC request as the proxy received it. */
export interface ProxiedRequest {
  method: string
  params: unknown[]
  id: unknown
  /** The request as it came, to forward now or later. */
  body: string
}

export type ProxyHandler = (request: ProxiedRequest) => Promise<string | undefined> | string | undefined

export class RpcProxy {
  readonly #server: Server
  readonly #upstream: string

  private constructor(upstream: string, handler: ProxyHandler) {
    this.#upstream = upstream
    this.#server = createServer((req, res) => void this.#onRequest(req, res, handler))
  }

  static async start(upstream: string, handler: ProxyHandler): Promise<RpcProxy> {
    const proxy = new RpcProxy(upstream, handler)
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** Sends `body` to the endpoint and gives its reply's text. */
  async forward(body: string): Promise<string> {
    const reply = await fetch(this.#upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    return reply.text()
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse, handler: ProxyHandler): Promise<void> {
    let body = ''
    for await (const chunk of req) body += String(chunk)
    const parsed = JSON.parse(body) as { method?: unknown; params?: unknown; id?: unknown }
    const request = {
      method: String(parsed.method),
      params: Array.isArray(parsed.params) ? (parsed.params as unknown[]) : [],
      id: parsed.id ?? null,
      body,
    }
    const reply = (await handler(request)) ?? (await this.forward(body))
    res.writeHead(200, { 'content-type': 'application/json' }).end(reply)
  }
}
