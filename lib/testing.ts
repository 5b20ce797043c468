// `fastify-plezi/testing`: a connected websocket client for tap tests of an app's controllers.
// It speaks the auto-dispatch protocol (emit, request by `_EID_`), hands back every message in
// order (`next`), and never leaves a test hanging: every wait has a timeout that names what it
// waited for.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'

export interface ConnectOptions {
  /** Extra request headers of the upgrade (e.g. `origin`, `authorization`). */
  headers?: Record<string, string>
  /** Cookies sent with the upgrade. */
  cookies?: Record<string, string>
  /** Query string parameters. */
  query?: Record<string, string | number | boolean>
  /** Milliseconds every wait may take (default 5000). */
  timeout?: number
}

/** A message as received: a parsed JSON value for JSON text, else the text or the bytes. */
export type Received = any

/** A refused upgrade. */
export interface UpgradeRefused extends Error {
  statusCode: number
}

export interface TestClient {
  /** The underlying `ws` client. */
  readonly ws: WebSocket
  /** Sends an auto-dispatch event: `emit({ event: 'chat', text })` or `emit('chat', { text })`. */
  emit (event: string | { event: string, [key: string]: unknown }, message?: Record<string, unknown>): void
  /** Sends an event with an `_EID_` and resolves with the reply that carries it; rejects on `_err_` or timeout. */
  request<R = Received> (event: { event: string, [key: string]: unknown }, options?: { timeout?: number }): Promise<R>
  /** Sends a raw frame (string or bytes) as it is. */
  send (data: string | Buffer | Uint8Array): void
  /** The next message not yet taken; with `event`, the next message of that event (others stay queued). */
  next<R = Received> (event?: string, options?: { timeout?: number }): Promise<R>
  /** Resolves with the close code and reason once the connection closed. */
  closed (): Promise<{ code: number, reason: string }>
  /** Closes the connection and resolves once it is closed. */
  close (code?: number, reason?: string): Promise<{ code: number, reason: string }>
}

function decode (data: Buffer, isBinary: boolean): Received {
  if (isBinary) return data
  const text = data.toString()
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

function eventOf (message: Received): string | undefined {
  return message !== null && typeof message === 'object' && !Buffer.isBuffer(message) && typeof message.event === 'string'
    ? message.event
    : undefined
}

async function baseUrl (app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `ws://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`
}

function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`fastify-plezi/testing: ${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Opens a websocket to `path` on `app` (listening on port 0 first when it is not listening yet)
 * and resolves once the upgrade succeeded; a refused upgrade rejects with an error carrying
 * `statusCode`. `app.close()` closes the connection like any other.
 */
export async function connect (app: FastifyInstance, path: string, options: ConnectOptions = {}): Promise<TestClient> {
  const timeout = options.timeout ?? 5000
  const url = new URL(path, await baseUrl(app))
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value))
  const headers: Record<string, string> = { ...options.headers }
  const cookies = Object.entries(options.cookies ?? {})
  if (cookies.length > 0) headers.cookie = cookies.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const ws = new WebSocket(url, { headers })

  const inbox: Received[] = []
  const waiters = new Set<() => void>()
  const wakeAll = (): void => {
    for (const wake of waiters) wake()
    waiters.clear()
  }
  const onClosed = new Promise<{ code: number, reason: string }>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => { resolve({ code, reason: reason.toString() }); wakeAll() })
  })
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    inbox.push(decode(data, isBinary))
    wakeAll()
  })
  ws.on('error', () => {}) // reported through the upgrade promise and `closed()`

  await withTimeout(new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_request, response) => {
      const err = new Error(`fastify-plezi/testing: the upgrade of ${path} was refused with ${response.statusCode}`) as UpgradeRefused
      err.statusCode = response.statusCode ?? 0
      response.resume()
      ws.terminate()
      reject(err)
    })
    ws.once('error', reject)
  }), timeout, `the upgrade of ${path}`)

  // Takes the first message that `accept` accepts, waiting for it; fails once the socket closed.
  async function take (accept: (message: Received) => boolean, what: string, ms: number): Promise<Received> {
    const found = async (): Promise<Received> => {
      for (;;) {
        const index = inbox.findIndex(accept)
        if (index !== -1) return inbox.splice(index, 1)[0]
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`fastify-plezi/testing: the connection closed before ${what}`)
        await new Promise<void>((resolve) => { waiters.add(resolve) })
      }
    }
    return withTimeout(found(), ms, what)
  }

  let eid = 0
  const client: TestClient = {
    ws,
    emit (event, message) {
      const body = typeof event === 'string' ? { ...message, event } : event
      ws.send(JSON.stringify(body))
    },
    async request (event, opts = {}) {
      const id = `test-${++eid}`
      ws.send(JSON.stringify({ ...event, _EID_: id }))
      const reply = await take((m) => m !== null && typeof m === 'object' && m._EID_ === id && m.event !== '_ack_',
        `a reply to ${JSON.stringify(event.event)}`, opts.timeout ?? timeout)
      const ack = inbox.findIndex((m) => m !== null && typeof m === 'object' && m._EID_ === id && m.event === '_ack_')
      if (ack !== -1) inbox.splice(ack, 1) // the protocol's ack of our own request is not news to the test
      if (reply.event === '_err_') {
        throw Object.assign(new Error(`fastify-plezi/testing: ${JSON.stringify(event.event)} failed with ${String(reply.status)}`), { reply, statusCode: reply.status })
      }
      return reply
    },
    send (data) { ws.send(data) },
    next (event, opts = {}) {
      const accept = event === undefined ? () => true : (m: Received) => eventOf(m) === event
      return take(accept, event === undefined ? 'the next message' : `a ${JSON.stringify(event)} message`, opts.timeout ?? timeout)
    },
    closed () { return withTimeout(onClosed, timeout, 'the close') },
    close (code, reason) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason)
      return client.closed()
    }
  }
  return client
}
