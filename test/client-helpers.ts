// Shared fixtures of the client tests: the real plugin on port 0, auto-dispatch controllers,
// and clients that the test's teardown closes (clients first, so none reconnects to a closing server).
import Fastify, { type FastifyInstance } from 'fastify'
import plezi, { Controller } from '../lib/index.js'
import { PleziClient, type ClientOptions, type Message } from '../client/index.js'

type Test = { teardown (fn: () => unknown): void }

/** Handlers the test servers answer (the client events of these tests). */
export interface CalcEvents {
  sum (msg: { a: number, b: number }): { event: 'sum', result: number }
  echo (msg: Record<string, unknown>): Message
  push (msg: { name: string, [key: string]: unknown }): void
  fail (msg: object): void
  note (msg: { n: number }): void
  notes (msg: object): { notes: number[] }
  drop (msg: object): void
  text (msg: object): void
}

/** Events the test servers push (the server events of these tests). */
export interface CalcPushes {
  sum (msg: { event: 'sum', result: number, _EID_?: number }): void
  hello (msg: { event: 'hello', from: string }): void
}

/** Notes received by `Calc.note`, per server: what the reconnection test checks. */
export const received: number[] = []

/** Resolves when `Calc.onOpen` may return: lets a test hold back acks (see `gate`). */
let gate: Promise<void> = Promise.resolve()
export function holdOpen (): () => void {
  let release!: () => void
  gate = new Promise((resolve) => { release = resolve })
  return () => { gate = Promise.resolve(); release() }
}

export class Calc extends Controller {
  static autoDispatch = true
  onOpen (): Promise<void> { return gate }
  sum (msg: { a: number, b: number }): object { return { event: 'sum', result: msg.a + msg.b } }
  echo (msg: Record<string, unknown>): object { return msg }
  push (msg: { name: string }): void { this.write({ ...msg, event: msg.name, from: 'server' }) }
  fail (_msg: object): void { throw new Error('boom') }
  note (msg: { n: number }): void { received.push(msg.n) }
  notes (_msg: object): object { return { notes: received } }
  drop (_msg: object): void { this.close(1000, 'dropped by the test') }
  text (_msg: object): string { return 'plain text' }
}

/** Options of `start` beyond the port: the plugin's clientPath (off unless given), more routes. */
export interface Extra {
  clientPath?: string | false
  routes?: (app: FastifyInstance) => void
}

export interface Fixture {
  /** Starts the plugin (port 0 unless given) and returns its websocket URL for `/calc`. */
  start (port?: number, extra?: Extra): Promise<{ app: FastifyInstance, url: string, port: number }>
  /** A client closed at teardown. */
  client (url: string, autoreconnect?: boolean, options?: ClientOptions): PleziClient<CalcPushes, CalcEvents>
}

export function fixture (t: Test): Fixture {
  const apps: FastifyInstance[] = []
  const clients: Array<PleziClient<CalcPushes, CalcEvents>> = []
  t.teardown(async () => {
    for (const c of clients) c.close()
    await Promise.all(apps.map((app) => app.close()))
  })
  return {
    async start (port = 0, extra = {}) {
      const app = Fastify()
      apps.push(app)
      await app.register(plezi, { clientPath: extra.clientPath ?? false })
      app.plezi.route('/calc', Calc)
      extra.routes?.(app)
      await app.listen({ port, host: '127.0.0.1' })
      const address = app.server.address()
      const actual = typeof address === 'object' && address ? address.port : port
      return { app, url: `ws://127.0.0.1:${actual}/calc`, port: actual }
    },
    client (url, autoreconnect = false, options = {}) {
      const c = new PleziClient<CalcPushes, CalcEvents>(url, autoreconnect, options)
      clients.push(c)
      return c
    }
  }
}

/** Resolves with the next `onopen` of the client. */
export function opened (client: PleziClient<CalcPushes, CalcEvents>): Promise<unknown> {
  return new Promise((resolve) => { client.onopen = resolve })
}

/**
 * An open client on a server that acks nothing yet (its onOpen is held): for timeout tests.
 * `release` lets the server go on; it also runs at teardown.
 */
export async function unackedClient (t: Test): Promise<{ client: PleziClient<CalcPushes, CalcEvents>, release: () => void }> {
  const f = fixture(t)
  const { url } = await f.start()
  const release = holdOpen()
  t.teardown(release)
  const client = f.client(url)
  await opened(client)
  return { client, release }
}

/** Resolves with the next `onclose` of the client. */
export function closed (client: PleziClient<CalcPushes, CalcEvents>): Promise<{ code: number }> {
  return new Promise((resolve) => { client.onclose = resolve })
}

/** Resolves with the next message for the client's `event` handler property. */
export function next<K extends keyof CalcPushes> (client: PleziClient<CalcPushes, CalcEvents>, event: K): Promise<Parameters<CalcPushes[K]>[0]> {
  return new Promise((resolve) => { client[event] = resolve })
}

/** A WebSocket stand-in the test drives by hand: `open()`, `drop()`, `receive()`. */
export class FakeSocket {
  static all: FakeSocket[] = []
  readyState = 0
  sent: string[] = []
  onopen: ((ev: { type: string }) => void) | null = null
  onclose: ((ev: { type: string, code: number, reason: string, wasClean: boolean }) => void) | null = null
  onerror: ((ev: { type: string }) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  constructor (readonly url: string) { FakeSocket.all.push(this) }
  send (data: string): void { this.sent.push(data) }
  close (): void { this.drop(1000) }
  open (): void { this.readyState = 1; this.onopen?.({ type: 'open' }) }
  drop (code = 1006): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.onclose?.({ type: 'close', code, reason: '', wasClean: code !== 1006 })
  }
  receive (msg: object): void { this.onmessage?.({ data: JSON.stringify(msg) }) }
}

/** Timers that run only when the test says so; `delays` records every scheduled delay. */
export class ManualTimers {
  #next = 1
  pending = new Map<number, { fn: () => void, ms: number }>()
  delays: number[] = []
  setTimeout (fn: () => void, ms: number): number {
    this.delays.push(ms)
    this.pending.set(this.#next, { fn, ms })
    return this.#next++
  }
  clearTimeout (id: unknown): void { this.pending.delete(id as number) }
  /** Runs the earliest-scheduled pending timer. */
  runNext (): void {
    const [id, timer] = this.pending.entries().next().value ?? []
    if (id === undefined || !timer) throw new Error('no pending timer')
    this.pending.delete(id)
    timer.fn()
  }
}
