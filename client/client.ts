// PleziClient: Plezi's JSON auto-dispatch websocket client, plus requests, back-off and a send
// queue. Runs in browsers and in Node (see index.ts for the `ws` fallback).
import { Ajaj } from './ajaj.js'
import { Backoff } from './backoff.js'
import {
  ACK, CONNECTING, EMIT_TIMEOUT, ERR, OPEN, PUB, QUEUE_LIMIT, RECONNECT_INTERVAL, RECONNECT_MAX, SINCE_MAX, SUB
} from './constants.js'
import type {
  ClientOptions, CloseEvent, DefaultClientEvents, DefaultServerEvents, EmitCallback, Message,
  Outgoing, Payload, Positions, Reply, RequestError, RequestOptions, SocketEvent, SocketLike, SubInfo,
  Timers, WebSocketConstructor
} from './types.js'

type Eid = number | string
interface Ack { event: Message, cb?: EmitCallback | undefined, timer?: unknown }
interface Pending { resolve: (reply: never) => void, reject: (err: RequestError) => void, timer: unknown }
type Fn = (this: unknown, msg: Message) => unknown

// The client's own callbacks: set by the app, never reached by a server event's name.
const CALLBACKS = new Set(['onopen', 'onclose', 'onerror', 'onpublish', 'onresync', 'unknown'])
const loc = (globalThis as { location?: { protocol: string, host: string, pathname: string } }).location
const globalTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number)
}

function fail (code: RequestError['code'], reply?: Message): RequestError {
  const message = code === 'server' ? `${String(reply?.status)} ${String(reply?.error ?? 'error')}` : code
  return Object.assign(new Error(`PleziClient request failed: ${message}`), { code, reply })
}

export class Client<S = DefaultServerEvents, C = DefaultClientEvents> {
  /** The page's origin as a websocket URL (`ws://host:port`, `wss://…`); '' outside browsers. */
  static origin = loc ? (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host : ''
  /** Last-resort WebSocket constructor (index.ts sets `ws` here for Node). */
  static WebSocket?: WebSocketConstructor

  url: string
  ajaj: Ajaj
  autoreconnect: boolean
  /** The first reconnection delay (ms); later ones double, with jitter, up to `reconnect_max`. */
  reconnect_interval = RECONNECT_INTERVAL
  reconnect_max = RECONNECT_MAX
  /** Default ack timeout (ms) of `emit`; false: only when a callback is given (5 s). */
  emit_timeout: number | false = false
  /** Events kept while disconnected (sent on reconnect); past it `emit` returns false. */
  queue_limit = QUEUE_LIMIT
  log_events = false
  connected = false
  ws!: SocketLike
  /** The last position processed per history channel, least recently updated first; sent as `_since_`. */
  positions: Positions

  /** Receives the data of a history message that is not an event object. */
  declare onpublish?: (this: this, data: unknown, channel: string) => void
  /** Called when a history channel could not be recovered (`wasRecovering && !recovered`): reload its state. */
  declare onresync?: (this: this, info: SubInfo) => void

  declare onopen?: (this: this, ev: SocketEvent) => void
  declare onclose?: (this: this, ev: CloseEvent) => void
  declare onerror?: (this: this, ev: SocketEvent) => void
  /** Receives events that have no handler. */
  declare unknown?: (this: this, msg: Message) => void

  readonly #WS: WebSocketConstructor
  readonly #t: Timers
  readonly #backoff: Backoff
  readonly #acks = new Map<Eid, Ack>()
  readonly #requests = new Map<Eid, Pending>()
  readonly #listeners = new Map<string, Set<Fn>>()
  readonly #expired = new Set<Eid>()
  #queue: Array<[Eid | undefined, string]> = []
  #eid = 0
  #retry: unknown

  constructor (url?: string | ClientOptions, autoreconnect?: boolean | ClientOptions, options?: ClientOptions) {
    const o = [url, autoreconnect, options].find((x): x is ClientOptions => typeof x === 'object') ?? {}
    url = typeof url === 'string' ? url : o.url ?? (loc && loc.pathname)
    if (!url) throw new TypeError('PleziClient: a URL is required outside browsers')
    this.url = (url[0] === '/' ? Client.origin + url : url).replace(/^http/i, 'ws')
    this.autoreconnect = !!(typeof autoreconnect === 'boolean' ? autoreconnect : o.autoreconnect)
    const WS = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? Client.WebSocket
    if (!WS) throw new TypeError('PleziClient: no WebSocket; pass { WebSocket } in the options')
    this.#WS = WS
    this.#t = o.timers ?? globalTimers
    this.#backoff = new Backoff({ base: () => this.reconnect_interval, max: () => this.reconnect_max, random: o.random })
    this.ajaj = new Ajaj(this.url.replace(/^ws/i, 'http'), (msg) => this.#dispatch(msg))
    this.positions = Object.assign(Object.create(null), o.positions)
    this.reconnect()
  }

  /** Opens a new connection (closing the current one). */
  reconnect (): void {
    this.#t.clearTimeout(this.#retry)
    const old = this.ws
    const ws = this.ws = new this.#WS(this.#since())
    this.connected = false
    ws.onopen = (e: SocketEvent) => ws === this.ws && this.#opened(e)
    ws.onclose = (e: CloseEvent) => ws === this.ws && this.#closed(e)
    ws.onerror = (e: SocketEvent) => ws === this.ws && this.onerror?.(e)
    ws.onmessage = (e: { data: unknown }) => ws === this.ws && this.#message(e.data)
    if (old && old.readyState <= OPEN) old.close()
  }

  /** Closes the connection and stops reconnecting; pending acks, requests and the queue are dropped. */
  close (code?: number, reason?: string): void {
    this.autoreconnect = false
    this.#t.clearTimeout(this.#retry)
    this.#queue = []
    for (const a of this.#acks.values()) this.#t.clearTimeout(a.timer)
    this.#acks.clear()
    for (const [eid, p] of this.#requests) this.#settle(eid, p.reject, fail('closed'))
    this.ws.close(code, reason)
  }

  readyState (): number {
    return this.ws.readyState
  }

  /** Sends data as is; false when the connection is not open. */
  sendraw (data: string | ArrayBufferLike | ArrayBufferView | Blob): boolean {
    if (this.ws.readyState !== OPEN) return false
    this.ws.send(data)
    return this.ws.readyState === OPEN
  }

  /**
   * Sends a JSON event. With a callback or a timeout, the event gets an `_EID_`: the server's
   * `_ack_` calls `callback(event, client)`; without it, `timeoutCallback(event, client)` runs
   * after `timeout` ms (default: `emit_timeout`, else 5 s when a callback is given; the default
   * timeout handler is `ontimeout`, or AJAJ when `ajaj.auto` is set). While disconnected, events
   * are queued and sent on reconnect. Returns false when the event was neither sent nor queued.
   */
  emit (event: Outgoing<C>, callback?: EmitCallback<Outgoing<C>>, timeoutCallback?: EmitCallback<Outgoing<C>>, timeout?: number): boolean {
    const ev = event as Message
    timeout ||= this.emit_timeout || (callback ? EMIT_TIMEOUT : 0)
    let timer
    if (ev._EID_ == null && timeout) {
      const eid = ev._EID_ = ++this.#eid
      timer = this.#t.setTimeout(() => {
        this.#acks.delete(eid)
        this.#unqueue(eid)
        ;(timeoutCallback as EmitCallback | undefined ?? this.#timedOut)(ev, this)
      }, timeout)
    }
    if (ev._EID_ != null && (callback || timer)) this.#acks.set(ev._EID_, { event: ev, cb: callback as EmitCallback, timer })
    return this.#send(ev._EID_, JSON.stringify(ev))
  }

  /**
   * Sends a JSON event and resolves with the server's reply to it (the message that carries the
   * same `_EID_`); rejects on timeout, on an `_err_` reply, or when it cannot be sent or queued.
   */
  request<K extends keyof C & string> (event: Outgoing<C, K>, options: RequestOptions = {}): Promise<Reply<C[K]>> {
    const ev = event as Message
    const eid = ev._EID_ = ++this.#eid
    return new Promise((resolve, reject) => {
      const timer = this.#t.setTimeout(() => {
        this.#settle(eid, reject, fail('timeout'))
        this.#expired.add(eid) // its late reply is dropped; remember the last QUEUE_LIMIT only
        if (this.#expired.size > QUEUE_LIMIT) this.#expired.delete(this.#expired.values().next().value!)
      }, options.timeout ?? (this.emit_timeout || EMIT_TIMEOUT))
      this.#requests.set(eid, { resolve, reject, timer })
      if (!this.#send(eid, JSON.stringify(ev))) this.#settle(eid, reject, fail('unsent'))
    })
  }

  /** Adds a listener for a server event (besides the `client[event]` property). */
  on<K extends keyof S & string> (event: K, fn: (this: this, msg: Payload<S[K]>) => unknown): this {
    const set = this.#listeners.get(event) ?? new Set()
    this.#listeners.set(event, set.add(fn as Fn))
    return this
  }

  off<K extends keyof S & string> (event: K, fn: (this: this, msg: Payload<S[K]>) => unknown): this {
    this.#listeners.get(event)?.delete(fn as Fn)
    return this
  }

  /** Called with an event whose ack did not arrive in time (override it). */
  ontimeout (event: Message): void {
    console.warn('PleziClient: no ack in time; the server may have missed this event:', event)
  }

  // The URL with `_since_`, kept under SINCE_MAX by leaving out the least recently updated channels.
  #since (): string {
    const p = { ...this.positions }
    const keys = Object.keys(p)
    let s
    while ((s = encodeURIComponent(JSON.stringify(p))).length > SINCE_MAX) delete p[keys.shift()!]
    return keys.length ? `${this.url}${this.url.includes('?') ? '&' : '?'}_since_=${s}` : this.url
  }

  #timedOut = (event: Message): void => {
    if (!this.ajaj.auto) return this.ontimeout(event)
    if (this.log_events) console.log('PleziClient: falling back on AJAJ for', event)
    void this.ajaj.emit(event, (e) => this.ontimeout(e))
  }

  #send (eid: Eid | undefined, data: string): boolean {
    if (this.sendraw(data)) return true
    if ((!this.autoreconnect && this.ws.readyState !== CONNECTING) || this.#queue.length >= this.queue_limit) return false
    this.#queue.push([eid, data])
    return true
  }

  #unqueue (eid: Eid): void {
    this.#queue = this.#queue.filter((q) => q[0] !== eid)
  }

  #settle<T> (eid: Eid, fn: (value: T) => void, value: T): void {
    this.#t.clearTimeout(this.#requests.get(eid)?.timer)
    this.#requests.delete(eid)
    this.#unqueue(eid)
    fn(value)
  }

  #opened (e: SocketEvent): void {
    this.connected = true
    this.#backoff.reset()
    const queue = this.#queue
    this.#queue = []
    for (const [, data] of queue) this.ws.send(data)
    this.onopen?.(e)
  }

  #closed (e: CloseEvent): void {
    this.connected = false
    this.onclose?.(e)
    if (this.autoreconnect) this.#retry = this.#t.setTimeout(() => this.reconnect(), this.#backoff.next())
  }

  #message (data: unknown): void {
    let msg: Message
    try {
      msg = JSON.parse(data as string)
    } catch (err) {
      return console.error('PleziClient: received data that is not JSON', err, data)
    }
    this.#dispatch(msg)
  }

  #dispatch (msg: Message): void {
    try {
      const { event, channel } = msg as Message & { channel: string }
      if ((event === PUB || event === SUB) && typeof channel === 'string') {
        // History channels: keep the position, drop what was processed, unwrap `_pub_`.
        const p = this.positions
        const old = p[channel]
        const o = Number.isInteger(msg.offset) ? msg.offset as number : null
        const e = (msg.epoch ?? old?.[0] ?? null) as string | null
        if (event === PUB && old && old[0] === e && o != null && old[1] != null && o <= old[1]) return
        delete p[channel]
        p[channel] = [e, o]
        if (event === PUB) {
          const d = msg.data as Message
          return d && typeof d === 'object' && typeof d.event === 'string' ? this.#handle(d, true) : this.onpublish?.(d, channel)
        }
        if (msg.wasRecovering && !msg.recovered) this.onresync?.(msg as unknown as SubInfo)
      }
      this.#handle(msg)
    } catch (err) {
      console.error('PleziClient: an event handler failed', err, msg)
    }
  }

  // `published`: another client's data, unwrapped from `_pub_`; its `_EID_` answers none of ours.
  #handle (msg: Message, published = false): void {
    if (this.log_events) console.log(msg)
    const { event, _EID_: eid } = msg
    const reply = !published && eid != null && event !== ACK
    if (reply && this.#expired.delete(eid)) return
    const req = reply && this.#requests.get(eid)
    if (req) {
      if (event === ERR) this.#settle(eid, req.reject, fail('server', msg))
      else this.#settle(eid, req.resolve, msg as never)
      return
    }
    if (event === ACK && eid != null && !published) this.#acked(eid)
    let handled = false
    const prop = event && !(event in Client.prototype) && !CALLBACKS.has(event) && (this as Record<string, unknown>)[event]
    if (typeof prop === 'function') {
      prop.call(this, msg)
      handled = true
    }
    for (const fn of [...this.#listeners.get(event as string) ?? []]) {
      fn.call(this, msg)
      handled = true
    }
    if (!handled && event !== ACK) this.unknown?.(msg)
  }

  #acked (eid: Eid): void {
    const ack = this.#acks.get(eid)
    if (!ack) return
    this.#acks.delete(eid)
    this.#t.clearTimeout(ack.timer)
    ack.cb?.(ack.event, this)
  }
}

/** Handler properties, one per server event: `client.chat = (msg) => …`. */
export type Handlers<S> = { [K in Exclude<keyof S, keyof Client>]?: S[K] }

/** A client of server events `S` and client events `C` (see types.ts for event maps). */
export type PleziClient<S = DefaultServerEvents, C = DefaultClientEvents> = Client<S, C> & Handlers<S>

export interface PleziClientConstructor {
  new <S = DefaultServerEvents, C = DefaultClientEvents>(
    url?: string | ClientOptions, autoreconnect?: boolean | ClientOptions, options?: ClientOptions
  ): PleziClient<S, C>
  readonly prototype: Client
  /** The page's origin as a websocket URL; '' outside browsers. */
  origin: string
  /** Last-resort WebSocket constructor (`ws` when loaded through the Node entry). */
  WebSocket?: WebSocketConstructor | undefined
}

/** The constructor, typed with event maps: `new PleziClient<ServerEvents, ClientEvents>(url)`. */
export const PleziClient = Client as PleziClientConstructor
