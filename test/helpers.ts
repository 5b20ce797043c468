// Shared test helpers: a real Fastify server on port 0 and real `ws` clients.
import { EventEmitter, once } from 'node:events'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import WebSocket from 'ws'
import plezi, { type PleziOptions } from '../lib/index.js'

type Test = { teardown (fn: () => unknown): void }

export interface Server {
  app: FastifyInstance
  /** http://127.0.0.1:port */
  url: string
  /** ws://127.0.0.1:port */
  wsUrl: string
}

/** A Fastify app with fastify-plezi, routed by `setup`, listening on port 0; closed at teardown. */
export async function build (
  t: Test,
  setup: (app: FastifyInstance) => void | Promise<void>,
  options: PleziOptions = {},
  fastifyOptions: FastifyServerOptions = {}
): Promise<Server> {
  const app = Fastify({ logger: false, ...fastifyOptions })
  t.teardown(() => app.close())
  await app.register(plezi, { pingInterval: 0, ...options })
  await setup(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { app, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` }
}

export type Frame = string | Buffer

/** A `ws` client that records every frame, so tests can await them in order. */
export class Client {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  private waiters: Array<() => void> = []
  private cursor = 0
  readonly closed: Promise<{ code: number, reason: string }>
  readonly opened: Promise<void>

  constructor (url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options)
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(isBinary ? data : data.toString())
      const waiters = this.waiters
      this.waiters = []
      for (const wake of waiters) wake()
    })
    this.ws.on('error', () => {}) // asserted through `opened` / `closed`
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`Unexpected server response: ${res.statusCode}`)))
      this.ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
    })
  }

  /** The next frame not yet taken (waits for it). */
  async next (): Promise<Frame> {
    while (this.cursor >= this.frames.length) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.frames[this.cursor++]
  }

  /** The next frame, parsed as JSON. */
  async json (): Promise<any> {
    const frame = await this.next()
    return JSON.parse(frame.toString())
  }

  /** Takes `count` frames. */
  async take (count: number): Promise<Frame[]> {
    const out: Frame[] = []
    for (let i = 0; i < count; i++) out.push(await this.next())
    return out
  }

  send (data: string | Buffer | object): void {
    this.ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data))
  }

  close (): Promise<{ code: number, reason: string }> {
    this.ws.close()
    return this.closed
  }
}

/** Opens a client and waits for the upgrade; closed at teardown. */
export async function connect (t: Test, url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const client = new Client(url, options)
  t.teardown(() => { client.ws.terminate() })
  await client.opened
  return client
}

/** Resolves once `condition()` is true, checking after each of `emitter`'s `event`s. */
export async function until (condition: () => boolean, emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  while (!condition()) await once(emitter, event)
}

/** A deferred promise, for hooks to signal tests. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/**
 * Sends a websocket upgrade request over a plain TCP socket and returns the bytes of the
 * response head exactly as received (status line and headers), then closes the socket.
 */
export async function rawUpgrade (url: string, path: string, headers: Record<string, string> = {}): Promise<string> {
  const { hostname, port } = new URL(url)
  const { connect: tcpConnect } = await import('node:net')
  const socket = tcpConnect(Number(port), hostname)
  await once(socket, 'connect')
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)
  ]
  socket.write(lines.join('\r\n') + '\r\n\r\n')
  let received = ''
  for await (const chunk of socket) {
    received += chunk.toString('latin1')
    const end = received.indexOf('\r\n\r\n')
    if (end !== -1) { received = received.slice(0, end); break }
  }
  socket.destroy()
  return received
}

/** Collects the app's log lines (pino JSON) for assertions; `waitFor` resolves with the first line whose msg matches. */
export function logCapture (level = 'info'): {
  lines: Array<Record<string, any>>
  logger: { level: string, stream: { write (line: string): void } }
  /** The first line (from index `from` on) whose msg matches `pattern`, waiting for it. */
  waitFor (pattern: RegExp, from?: number): Promise<Record<string, any>>
} {
  const lines: Array<Record<string, any>> = []
  const written = new EventEmitter()
  const waitFor = async (pattern: RegExp, from = 0): Promise<Record<string, any>> => {
    for (;;) {
      const line = lines.slice(from).find((l) => pattern.test(l.msg))
      if (line !== undefined) return line
      await once(written, 'line')
    }
  }
  return { lines, logger: { level, stream: { write: (line: string) => { lines.push(JSON.parse(line)); written.emit('line') } } }, waitFor }
}
