// Public types of PleziClient: messages, event maps, options, the socket it drives.

/** A JSON event as it travels on the wire. */
export interface Message {
  event?: string
  _EID_?: number | string
  [key: string]: unknown
}

/**
 * Event maps name each event and type it as a function of its message, like socket.io's:
 * `{ chat(msg: { text: string }): void }` for events the server sends, and
 * `{ sum(msg: { a: number, b: number }): { result: number } }` for events the client sends
 * (the return type is the handler's reply, what `request` resolves to).
 */
export type DefaultServerEvents = Record<string, (msg: Message) => unknown>
export type DefaultClientEvents = Record<string, (msg: Message) => Message>

/** The message type of an event-map entry. */
export type Payload<F> = F extends (msg: infer P) => unknown ? P : Message
/** The reply type of an event-map entry. */
export type Reply<F> = F extends (msg: never) => infer R ? Awaited<R> : Message

/** An event object `emit` and `request` accept for the client event `K`. */
export type Outgoing<C, K extends keyof C & string = keyof C & string> = {
  [N in K]: { event: N, _EID_?: number | string } & Payload<C[N]>
}[K]

/** Called with the event and the client (ack and timeout callbacks of `emit`). */
export type EmitCallback<M = Message> = (event: M, client: unknown) => void

/** What the socket reports to `onopen`/`onerror` (a DOM Event in browsers). */
export interface SocketEvent { type: string }
/** What the socket reports to `onclose`. */
export interface CloseEvent extends SocketEvent { code: number, reason: string, wasClean: boolean }

type Listener = ((ev: never) => void) | null

/** The part of a WebSocket the client uses (browsers' WebSocket and `ws` both fit). */
export interface SocketLike {
  readonly readyState: number
  send (data: string | ArrayBufferLike | ArrayBufferView | Blob): void
  close (code?: number, reason?: string): void
  onopen: Listener
  onclose: Listener
  onerror: Listener
  onmessage: Listener
}
export type WebSocketConstructor = new (url: string) => SocketLike

/** Timers the client uses; injectable for tests. */
export interface Timers {
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (id: unknown): void
}

/** The last position processed per history channel: `[epoch, offset]` (null while the server could not tell). */
export type Positions = Record<string, [epoch: string | null, offset: number | null]>

/** A `_sub_` message: where a subscription to a history channel starts, and whether it recovered. */
export interface SubInfo {
  event: '_sub_'
  channel: string
  epoch: string | null
  offset: number | null
  /** Every message after the position sent in `_since_` followed (or nothing was missed). */
  recovered: boolean
  /** `_since_` had a position for this channel. With `recovered` false: reload the state. */
  wasRecovering: boolean
}

export interface ClientOptions {
  url?: string
  autoreconnect?: boolean
  /** The WebSocket constructor (default: the global one, else `ws` in Node). */
  WebSocket?: WebSocketConstructor
  /** Timers for acks, requests and reconnection (default: the global ones). */
  timers?: Timers
  /** Randomness for the back-off jitter (default `Math.random`). */
  random?: () => number
  /** Positions to start from (e.g. kept in `sessionStorage`): sent as `_since_` from the first connection on. */
  positions?: Positions
}

export interface RequestOptions {
  /** Milliseconds to wait for the reply (default: `emit_timeout`, else 5000). */
  timeout?: number
}

/** Why a `request` was rejected. */
export interface RequestError extends Error {
  /** `timeout`, `closed` (by `close()`), `unsent` (no connection, queue full) or `server` (`_err_`). */
  code: 'timeout' | 'closed' | 'unsent' | 'server'
  /** The `_err_` reply, for `server`. */
  reply?: Message
}
