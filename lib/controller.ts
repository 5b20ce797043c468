// The base class of every controller: one instance per HTTP request or websocket connection.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Cookies } from './http/cookies.js'
import { appFor, type AppContext } from './context.js'
import { releaseUpgradeResponse } from './http/release-reply.js'
import { PLZ_ERR_NO_APP, PLZ_ERR_NOT_CONNECTED, PLZ_ERR_NO_REPLY } from './errors.js'
import { checkChannel, isPattern, type SubscribeOptions } from './pubsub/channel.js'
import type { MessagePosition } from './pubsub/message.js'
import type { HistorySubscription } from './websocket/history-subscriber.js'
import type { PresenceState } from './presence/store.js'

/**
 * A subscription handler, called with the message (string, Buffer or parsed JSON, shared:
 * read-only), the channel as published and, on history channels, the message's position
 * (undefined elsewhere). `T` is what the app publishes on that channel.
 */
export type SubscriptionHandler<T = unknown> = (message: T, channel: string, position: MessagePosition | undefined) => unknown

/**
 * What a controller needs from the transport it is attached to (a websocket connection today):
 * the controller talks to this port, never to the transport's internals.
 */
export interface ConnectionPort {
  readonly isOpen: boolean
  readonly pending: number
  write (data: Writable): boolean
  close (code?: number, reason?: string): void
  /** `channel` was checked by the caller (a literal, or a pattern when options ask for one). */
  subscribe (channel: string, handler: SubscriptionHandler<any> | undefined, options: SubscribeOptions | undefined): Promise<HistorySubscription | undefined>
  unsubscribe (channel: string): void
  track (channel: string, key: string, meta: unknown): Promise<void>
  untrack (channel: string): Promise<void>
  subscribePresence (channel: string): Promise<void>
  unsubscribePresence (channel: string): void
}

/** Route params merged with the query string and, for HTTP, a JSON or form body. */
export type Params = Record<string, unknown>

/** What `write()` accepts: text, binary, or a JSON-serialisable value. */
export type Writable = string | Buffer | Uint8Array | ArrayBuffer | object | number | boolean

export interface ControllerContext {
  params: Params
  request: FastifyRequest
  reply: FastifyReply
  cookies: Cookies
  log: FastifyBaseLogger
  plezi: AppContext
}

// Set just before `new Klass()` so that the members exist inside user constructors too.
let constructing: ControllerContext | null = null
const kConnection = Symbol('plezi.connection')
const kApp = Symbol('plezi.app')
const kReply = Symbol('plezi.reply')

/** Creates a controller with its members in place (used by the router). */
export function createController<C extends Controller> (Klass: new () => C, context: ControllerContext): C {
  constructing = context
  try {
    return new Klass()
  } finally {
    constructing = null
  }
}

export function attachConnection (controller: Controller, connection: ConnectionPort): void {
  controller[kConnection] = connection
  // the 101 is gone: nothing can be sent through the reply any more, and it need not stay in memory
  const reply = controller[kReply]
  if (reply !== null) releaseUpgradeResponse(reply)
  controller[kReply] = null
  controller.cookies.seal()
}

// Not declared here, so that subclasses need no `override`: `static autoDispatch = true`
// turns every websocket text frame into a JSON event (SPEC section 5), and the lifecycle
// hooks (preConnect, onOpen, onMessage, onDrained, onShutdown, onClose) are plain methods.
export class Controller<P extends Params = Params> {
  /** Route params, query string and (HTTP) body. */
  params: P
  request: FastifyRequest
  cookies: Cookies
  log: FastifyBaseLogger
  /** @internal */
  [kConnection]: ConnectionPort | null = null
  /** @internal */
  readonly [kApp]: AppContext
  /** @internal */
  [kReply]: FastifyReply | null

  constructor () {
    const context = constructing
    constructing = null
    if (context === null) throw new TypeError('fastify-plezi: controllers are created by the router (app.plezi.route), not with new')
    this.params = context.params as P
    this.request = context.request
    this[kReply] = context.reply
    this.cookies = context.cookies
    this.log = context.log
    this[kApp] = context.plezi
  }

  /**
   * The HTTP reply, in HTTP actions, AJAJ and `preConnect`. Once the websocket is open there is
   * none (the 101 was sent): reading it then throws `PLZ_ERR_NO_REPLY`.
   */
  get reply (): FastifyReply {
    const reply = this[kReply]
    if (reply === null) throw new PLZ_ERR_NO_REPLY()
    return reply
  }

  /** Sends a websocket message; `false` when the connection is not open. */
  write (data: Writable): boolean {
    return this[kConnection]?.write(data) ?? false
  }

  /** Closes the websocket connection (default code 1000). */
  close (code?: number, reason?: string): void {
    this[kConnection]?.close(code, reason)
  }

  /** Whether the websocket connection is open. */
  get isOpen (): boolean {
    return this[kConnection]?.isOpen ?? false
  }

  /** Bytes written but not yet sent. */
  get pending (): number {
    return this[kConnection]?.pending ?? 0
  }

  /**
   * Subscribes this connection to `channel`. Channel names are literal; `{ pattern: true }`
   * makes `+` (one level) and `#` (the rest) wildcards. Without a handler, messages are
   * written to the client; with one, it runs instead, in this connection's order. Replaces an
   * earlier subscription to the same channel. A bad channel throws PLZ_ERR_CHANNEL at the
   * call; resolves once the subscription is active: on a literal history channel, to its
   * position `{ epoch, offset, recovered, wasRecovering }` (sent to the client as `_sub_`
   * first, for direct subscriptions), elsewhere to undefined.
   */
  subscribe (channel: string, options?: SubscribeOptions): Promise<HistorySubscription | undefined>
  subscribe<T = unknown> (channel: string, handler: SubscriptionHandler<T> | undefined, options?: SubscribeOptions): Promise<HistorySubscription | undefined>
  subscribe (channel: string, handlerOrOptions?: SubscriptionHandler<any> | SubscribeOptions, options?: SubscribeOptions): Promise<HistorySubscription | undefined> {
    let handler: SubscriptionHandler<any> | undefined
    if (typeof handlerOrOptions === 'function') handler = handlerOrOptions
    else if (handlerOrOptions !== undefined) {
      if (options !== undefined) throw new TypeError('fastify-plezi: subscribe(channel, handler?, options?): the handler must be a function')
      options = handlerOrOptions
    }
    checkChannel(channel, 'subscribe', isPattern(options, 'subscribe'))
    const connection = this[kConnection]
    if (!connection) throw new PLZ_ERR_NOT_CONNECTED('subscribe')
    return connection.subscribe(channel, handler, options)
  }

  /** Ends this connection's subscription to `channel` (a pattern: `{ pattern: true }`, as in subscribe). */
  unsubscribe (channel: string, options?: SubscribeOptions): void {
    checkChannel(channel, 'unsubscribe', isPattern(options, 'unsubscribe'))
    this[kConnection]?.unsubscribe(channel)
  }

  /**
   * Publishes to every subscriber of `channel`, in every process sharing the engine. A bad
   * channel or message throws at the call; the promise never rejects (see PubSub.publish).
   */
  publish (channel: string, message: unknown): Promise<boolean> {
    return this[kApp].pubsub.publish(channel, message)
  }

  /**
   * This connection is present on `channel` under `key` (e.g. a user id) with `meta` (a plain
   * JSON object, at most 4 KB); tracking again updates the meta. Untracked when it closes. A
   * bad channel, key or meta throws at the call (PLZ_ERR_CHANNEL / PLZ_ERR_PRESENCE); the
   * promise never rejects.
   */
  track (channel: string, key: string, meta?: object): Promise<void> {
    checkChannel(channel, 'track')
    const connection = this[kConnection]
    if (!connection) throw new PLZ_ERR_NOT_CONNECTED('track')
    return connection.track(channel, key, meta)
  }

  /** This connection is no longer present on `channel`. */
  untrack (channel: string): Promise<void> {
    checkChannel(channel, 'untrack')
    return this[kConnection]?.untrack(channel) ?? Promise.resolve()
  }

  /** Who is tracked on `channel`, over every process (as `app.plezi.presence`). */
  presence (channel: string): Promise<PresenceState> {
    checkChannel(channel, 'presence')
    return this[kApp].presence.store.list(channel)
  }

  /**
   * Sends the client `_presence_` (the state of `channel`) once, then `_presence_diff_`
   * frames with its joins and leaves, until it closes. Resolves once the state was written;
   * rejects when the store cannot be read.
   */
  subscribePresence (channel: string): Promise<void> {
    checkChannel(channel, 'subscribePresence')
    const connection = this[kConnection]
    if (!connection) throw new PLZ_ERR_NOT_CONNECTED('subscribePresence')
    return connection.subscribePresence(channel)
  }

  /** Stops the presence frames of `channel`. */
  unsubscribePresence (channel: string): void {
    checkChannel(channel, 'unsubscribePresence')
    this[kConnection]?.unsubscribePresence(channel)
  }

  /** Publishes through the app that routes this controller class. */
  static publish (channel: string, message: unknown): Promise<boolean> {
    const context = appFor(this)
    if (typeof context === 'string') throw new PLZ_ERR_NO_APP(this.name, context)
    return context.pubsub.publish(channel, message)
  }
}

/** Instance members of the base class, never reachable from the wire. */
export const CONTROLLER_INSTANCE_MEMBERS: ReadonlySet<string> = new Set(['params', 'request', 'reply', 'cookies', 'log'])
