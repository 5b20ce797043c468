// One websocket connection: its controller, its serial queue of hooks and messages, its
// subscriptions, and the limits (slow consumers, back-pressure) applied to what it writes.
import { randomUUID } from 'node:crypto'
import { WebSocket } from 'ws'
import type { ConnectionPort, Controller, SubscriptionHandler, Writable } from '../controller.js'
import type { AppContext } from '../context.js'
import type { MethodTable } from '../method-table.js'
import { SerialQueue, type QueueOwner } from './serial-queue.js'
import { handleIncoming } from './dispatch.js'
import type { PubSubMessage, SubscribeOptions } from '../pubsub/pubsub.js'
import { ConnectionSubscriber } from './subscriber.js'
import { HistorySubscriber, type HistorySubscription } from './history-subscriber.js'
import { parseSince, type SinceEntry } from './since.js'
import { flushOutbox, type OutboxOwner } from './outbox.js'
import { buildFrame, buildFrames, byteLengthOf, deflateMode, frameSupport, senderIdle, transportOf, OPCODE_BINARY, OPCODE_TEXT, type Transport } from './frame.js'
import { payloadOf } from './payload.js'
import { connectionChannel, reportError } from '../diagnostics.js'
import { capturePresenceMeta, checkPresenceKey } from '../presence/validate.js'
import { hasWildcards } from '../pubsub/channel.js'

export type { SubscriptionHandler, HistorySubscription }

type Hooks = Controller & Partial<{
  onOpen (): unknown
  onMessage (data: string | Buffer): unknown
  onDrained (): unknown
  onShutdown (): unknown
  onClose (): unknown
}>

// A client that stopped reading gets this long to take the 1013 close frame before we cut it.
const SLOW_CONSUMER_GRACE_MS = 2000

const kConnection = Symbol('plezi.connection')

// Up to this size a write is framed by us into one buffer and written in one syscall (ws
// writes header and payload as two, through writev); above it the copy costs more.
const DIRECT_WRITE_MAX = 16 * 1024
type TaggedSocket = WebSocket & { [kConnection]: Connection }

export class Connection implements OutboxOwner, ConnectionPort, QueueOwner {
  readonly controller: Hooks
  readonly queue: SerialQueue
  /** The stream ws writes to (null for a websocket without one we can use, e.g. from injectWS). */
  readonly transport: Transport | null
  /** Cleared by every ping, set by every pong: a connection still false at the next ping is dead. */
  alive = true
  /** Set on a protocol error: later frames are ignored while the close goes out. */
  refusing = false
  /** Published messages waiting for this turn's flush (see outbox.ts). */
  outbox: PubSubMessage[] | null = null
  // The `_ack_` of the event being dispatched, held while its handler runs synchronously, so
  // that it goes out in one write with the next frame (usually the reply); see holdAck.
  private heldAck: string | null = null
  // A server socket without extensions takes frames we build (see frame.ts); fixed once open.
  private readonly rawFrames: boolean
  /** Messages of at least this many bytes go out compressed (shared-deflate sockets), else false. */
  readonly compressAbove: number | false
  private awaitingDrain = false
  // Reading stopped because the handlers fell `maxBacklog` messages behind (see checkBacklog).
  private readingPaused = false
  // Made on first use: most connections never subscribe or see a shutdown. One subscription
  // (the common case) is kept as is; a Map only from the second on (memory per connection).
  private subscriptions: ConnectionSubscriber | Map<string, ConnectionSubscriber> | null = null
  // The upgrade's `_since_`, parsed on the first history subscription (undefined until then).
  private since: Map<string, SinceEntry> | null | undefined = undefined
  // Presence: this connection's id in every store (made when it first tracks) and the
  // channels it gets live presence of; most connections never use either.
  private presenceId: string | undefined
  private presenceFeeds: Set<string> | null = null
  private closedWaiters: Array<() => void> | null = null
  private isClosed = false
  private readonly openedAt = Date.now()

  constructor (
    readonly context: AppContext,
    readonly socket: WebSocket,
    controller: Controller,
    readonly table: MethodTable
  ) {
    this.controller = controller as Hooks
    this.transport = transportOf(socket)
    const support = frameSupport(socket)
    this.rawFrames = support === 'raw'
    const compression = context.options.compression
    this.compressAbove = compression !== false && deflateMode(socket) === 'shared' ? compression.threshold : false
    if (support === 'internals') noticeOnce(context, 'ws-internals', 'fastify-plezi: this websocket does not have the ws internals prebuilt frames need (an injected websocket, or another ws version): writing through ws.send()')
    this.queue = new SerialQueue(this)
  }

  /** Wires the socket's events (synchronously, so no message is missed) and queues `onOpen`. */
  start (): void {
    const socket = this.socket as TaggedSocket
    socket[kConnection] = this
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    socket.on('pong', onSocketPong)
    this.context.connections.add(this)
    this.controller.log.debug('fastify-plezi: websocket open')
    if (connectionChannel.hasSubscribers) connectionChannel.publish({ type: 'open', url: this.controller.request.url })
    if (this.table.hooks.has('onOpen')) this.queue.push(() => this.controller.onOpen!())
  }

  get isOpen (): boolean {
    return this.socket.readyState === WebSocket.OPEN
  }

  get pending (): number {
    return this.socket.bufferedAmount
  }

  /** Sends `data` as one frame (see payload.ts); false when closed; a TypeError for what has no frame. */
  write (data: Writable): boolean {
    let payload: string | Uint8Array
    let opcode = OPCODE_TEXT
    if (typeof data === 'string') {
      payload = data
    } else {
      const converted = payloadOf(data)
      payload = converted.data
      if (converted.binary) opcode = OPCODE_BINARY
    }
    if (this.socket.readyState !== WebSocket.OPEN) return false
    if (this.heldAck === null || this.outbox !== null || !this.sendAfterAck(payload, opcode)) {
      this.flush() // keep this connection's frames in order
      if (this.socket.readyState !== WebSocket.OPEN) return false // the flush closed a slow consumer
      this.send(payload, opcode)
    }
    this.afterWrite()
    return true
  }

  /**
   * Holds an event's `_ack_` until its handler's synchronous part is over (`releaseAck`): the
   * next frame written in between — the reply, an `_err_`, the handler's own write — goes out
   * with it in one write. Whatever would be written first (a close, published frames) writes it
   * first, so the order on the wire is exactly that of writing the ack at once.
   */
  holdAck (ack: string): void {
    this.flush() // what was published before the event goes before its ack
    this.heldAck = ack
  }

  /** Writes the held `_ack_` if nothing took it along (an async handler, no reply). */
  releaseAck (): void {
    if (this.heldAck !== null) this.writeHeldAck()
  }

  /** Writes the held ack, then the published frames waiting for the end of the turn. Every state change calls it first. */
  flush (): void {
    if (this.heldAck !== null) this.writeHeldAck()
    if (this.outbox !== null) flushOutbox(this)
  }

  private writeHeldAck (): void {
    const ack = this.heldAck!
    this.heldAck = null
    if (this.socket.readyState !== WebSocket.OPEN) return
    this.send(ack, OPCODE_TEXT)
    this.afterWrite()
  }

  // The held ack and `payload` framed into one buffer, when both are ours to frame.
  private sendAfterAck (payload: string | Uint8Array, opcode: number): boolean {
    const ack = this.heldAck!
    if (payload.length > DIRECT_WRITE_MAX || this.compresses(ack) || this.compresses(payload) || !this.rawWritable()) return false
    this.heldAck = null
    this.transport!.write(buildFrames(ack, OPCODE_TEXT, payload, opcode))
    return true
  }

  /** Whether frames we built may be written to the transport now, in order with ws's own. */
  rawWritable (): boolean {
    return this.rawFrames && senderIdle(this.socket)
  }

  private compresses (data: string | Uint8Array): boolean {
    return this.compressAbove !== false && byteLengthOf(data) >= this.compressAbove
  }

  // Compressed direct writes are ws's (per connection); the shared compressor is for publishes.
  private send (data: string | Uint8Array, opcode: number): void {
    if (data.length <= DIRECT_WRITE_MAX && !this.compresses(data) && this.rawWritable()) {
      this.transport!.write(buildFrame(data, opcode))
    } else {
      this.socket.send(data, { binary: opcode === OPCODE_BINARY })
    }
  }

  /** Applies `maxBufferedAmount` and arms `onDrained` after anything was written. */
  afterWrite (): void {
    if (this.socket.readyState !== WebSocket.OPEN) return // closing already: judged once
    const transport = this.transport
    if (this.socket.bufferedAmount > this.context.options.maxBufferedAmount) {
      this.dropSlowConsumer()
    } else if (!this.awaitingDrain && transport !== null && transport.writableNeedDrain && this.table.hooks.has('onDrained')) {
      this.awaitingDrain = true
      transport.once('drain', () => {
        this.awaitingDrain = false
        if (this.isOpen) this.queue.push(() => this.controller.onDrained!())
      })
    }
  }

  private dropSlowConsumer (): void {
    this.controller.log.warn({ pending: this.socket.bufferedAmount }, 'fastify-plezi: closing slow consumer (1013)')
    this.context.counters.slowConsumersClosed++
    this.close(1013, 'slow consumer')
    setTimeout(() => this.terminate(), SLOW_CONSUMER_GRACE_MS).unref()
  }

  /** Flushes, then starts the closing handshake (default code 1000). */
  close (code?: number, reason?: string): void {
    const state = this.socket.readyState
    if (state !== WebSocket.OPEN && state !== WebSocket.CONNECTING) return
    this.flush()
    this.socket.close(code, reason)
  }

  /** Flushes what it can, then ends the connection without a handshake. */
  terminate (): void {
    this.flush()
    this.socket.terminate()
  }

  /** Sends a ping, or ends the connection when the previous ping went unanswered. */
  ping (): void {
    if (!this.alive) {
      this.controller.log.info('fastify-plezi: no pong, terminating websocket')
      this.terminate()
      return
    }
    this.alive = false
    this.socket.ping()
  }

  /**
   * After a message was queued: at `maxBacklog` waiting tasks the socket stops being read, so
   * the client's further frames wait in TCP buffers (back-pressure) instead of server memory.
   */
  checkBacklog (): void {
    if (this.readingPaused || this.queue.waiting < this.context.options.maxBacklog) return
    this.readingPaused = true
    this.context.counters.backlogPaused++
    this.controller.log.debug({ waiting: this.queue.waiting }, 'fastify-plezi: handlers fell behind, pausing reads (maxBacklog)')
    this.socket.pause()
  }

  /** A hook, message or subscription handler threw or rejected (the queue goes on). */
  taskFailed (err: unknown): void {
    this.controller.log.error({ err }, 'fastify-plezi: websocket handler failed')
    reportError(err, 'hook')
  }

  /** The queue ran dry: reads paused by `checkBacklog` resume. */
  queueIdle (): void {
    if (!this.readingPaused) return
    this.readingPaused = false
    this.controller.log.debug('fastify-plezi: handlers caught up, resuming reads')
    this.socket.resume()
  }

  /** Queues a published message: its frame is built once for all subscribers, written at the end of the turn. */
  writeMessage (message: PubSubMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return
    this.context.outboxes.add(this, message)
  }

  subscribe (channel: string, handler: SubscriptionHandler<any> | undefined, options: SubscribeOptions | undefined): Promise<HistorySubscription | undefined> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve(undefined)
    const pubsub = this.context.pubsub
    // Literal history channels only: a pattern has no one position.
    const history = !hasWildcards(channel) && pubsub.isHistory(channel)
    const subscriber = history ? new HistorySubscriber(this, channel, handler) : new ConnectionSubscriber(this, channel, handler)
    const active = pubsub.subscribe(channel, subscriber, options)
    // The earlier subscription goes after the new one joined: the engine listener stays, so no
    // message from another process falls in between.
    const current = this.subscriptions
    if (current === null) {
      this.subscriptions = subscriber
    } else if (current instanceof Map) {
      const earlier = current.get(channel)
      current.set(channel, subscriber)
      if (earlier !== undefined) this.drop(earlier)
    } else if (current.channel === channel) {
      this.subscriptions = subscriber
      this.drop(current)
    } else {
      this.subscriptions = new Map([[current.channel, current], [channel, subscriber]])
    }
    this.controller.log.debug({ channel }, 'fastify-plezi: subscribed')
    if (!history) return active as Promise<undefined>
    return (subscriber as HistorySubscriber).start(active, handler === undefined ? this.takeSince(channel) : undefined)
  }

  /** The client's `_since_` position for `channel`, used once. */
  private takeSince (channel: string): SinceEntry | undefined {
    if (this.since === undefined) {
      const query = this.controller.request.query as Record<string, unknown> | undefined
      this.since = parseSince(query?._since_, this.controller.log)
    }
    const entry = this.since?.get(channel)
    if (entry !== undefined) this.since!.delete(channel)
    return entry
  }

  unsubscribe (channel: string): void {
    const current = this.subscriptions
    if (current === null) return
    const subscriber = current instanceof Map ? current.get(channel) : current.channel === channel ? current : undefined
    if (subscriber === undefined) return
    if (current instanceof Map) current.delete(channel)
    else this.subscriptions = null
    this.drop(subscriber)
  }

  private drop (subscriber: ConnectionSubscriber): void {
    subscriber.live = false // a message already in flight must not reach it
    void this.context.pubsub.unsubscribe(subscriber.channel, subscriber)
  }

  private subscribedChannels (): string[] {
    const current = this.subscriptions
    if (current === null) return []
    return current instanceof Map ? [...current.keys()] : [current.channel]
  }

  /** `channel` was checked by the caller; a bad key or meta throws PLZ_ERR_PRESENCE at the call. */
  track (channel: string, key: string, meta: unknown): Promise<void> {
    if (this.isClosed) {
      // Nothing to track any more (the close untracked it), but the input is still checked.
      checkPresenceKey(key)
      capturePresenceMeta(meta)
      return Promise.resolve()
    }
    return this.context.presence.store.track(channel, this.presenceId ??= randomUUID(), key, meta)
  }

  untrack (channel: string): Promise<void> {
    if (this.presenceId === undefined) return Promise.resolve()
    return this.context.presence.store.untrack(channel, this.presenceId)
  }

  subscribePresence (channel: string): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    ;(this.presenceFeeds ??= new Set()).add(channel)
    return this.context.presence.feed.subscribe(channel, this)
  }

  unsubscribePresence (channel: string): void {
    if (this.presenceFeeds?.delete(channel) === true) this.context.presence.feed.unsubscribe(channel, this)
  }

  /** Resolves once the socket closed and `onClose` was queued. */
  closed (): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    return new Promise((resolve) => { (this.closedWaiters ??= []).push(resolve) })
  }

  /** Shutdown, first phase: runs `onShutdown` in the connection's order; resolves when it finished (or at `deadline`). */
  async runShutdownHook (deadline: Promise<void>): Promise<void> {
    if (!this.isOpen || !this.table.hooks.has('onShutdown')) return
    this.queue.push(() => this.controller.onShutdown!())
    await Promise.race([this.queue.idle(), deadline])
  }

  /** Shutdown, second phase: flush, close 1001, `onClose`; a peer that does not answer is cut at `deadline`. */
  async closeForShutdown (deadline: Promise<void>): Promise<void> {
    this.close(1001, 'server shutting down')
    await Promise.race([this.closed(), deadline])
    this.terminate() // no-op when already closed; ends a peer that never answered
    await this.closed()
    await Promise.race([this.queue.idle(), deadline])
  }

  onSocketClosed (code: number, reason: Buffer): void {
    const duration = Date.now() - this.openedAt
    this.controller.log.debug({ code, reason: reason.toString(), duration }, 'fastify-plezi: websocket closed')
    if (connectionChannel.hasSubscribers) connectionChannel.publish({ type: 'close', url: this.controller.request.url, code, reason: reason.toString(), duration })
    this.isClosed = true
    this.outbox = null // nothing can be written any more
    this.context.connections.delete(this)
    for (const channel of this.subscribedChannels()) this.unsubscribe(channel)
    if (this.presenceFeeds !== null) for (const channel of this.presenceFeeds) this.context.presence.feed.unsubscribe(channel, this)
    this.presenceFeeds = null
    if (this.presenceId !== undefined) void this.context.presence.store.untrackAll(this.presenceId)
    if (this.table.hooks.has('onClose')) this.queue.push(() => this.controller.onClose!())
    const waiters = this.closedWaiters
    this.closedWaiters = null
    if (waiters !== null) for (const resolve of waiters) resolve()
  }
}

/** Logs `message` at debug level the first time `key` is noticed in this app. */
function noticeOnce (context: AppContext, key: string, message: string): void {
  if (context.notices.has(key)) return
  context.notices.add(key)
  context.log.debug(message)
}

/** The connection a websocket belongs to, if it is one of ours. */
export function connectionOf (socket: WebSocket): Connection | undefined {
  return (socket as Partial<TaggedSocket>)[kConnection]
}

// Module-level listeners (not closures per connection): they find the connection on the socket.
function onSocketMessage (this: WebSocket, data: Buffer, isBinary: boolean): void {
  handleIncoming((this as TaggedSocket)[kConnection], data, isBinary)
}

function onSocketClose (this: WebSocket, code: number, reason: Buffer): void {
  (this as TaggedSocket)[kConnection].onSocketClosed(code, reason)
}

function onSocketPong (this: WebSocket): void {
  (this as TaggedSocket)[kConnection].alive = true
}
