// One websocket connection: its controller, its serial queue of hooks and messages, its
// subscriptions, and the limits (slow consumers, back-pressure) applied to what it writes.
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import type { ConnectionPort, Controller, SubscriptionHandler, Writable } from '../controller.js'
import type { AppContext } from '../context.js'
import type { MethodTable } from '../method-table.js'
import { SerialQueue } from './serial-queue.js'
import { handleIncoming } from './dispatch.js'
import type { PubSubMessage, Subscriber, SubscribeOptions } from '../pubsub/pubsub.js'
import { flushOutbox, type OutboxOwner } from './outbox.js'
import { acceptsRawFrames, buildFrame, senderIdle, OPCODE_BINARY, OPCODE_TEXT } from './frame.js'

export type { SubscriptionHandler }

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

export class Connection implements OutboxOwner, ConnectionPort {
  readonly controller: Hooks
  readonly queue: SerialQueue
  /** Cleared by every ping, set by every pong: a connection still false at the next ping is dead. */
  alive = true
  /** Set on a protocol error: later frames are ignored while the close goes out. */
  refusing = false
  /** Published messages waiting for this turn's flush (see outbox.ts). */
  outbox: PubSubMessage[] | null = null
  // A server socket without extensions takes frames we build (see frame.ts); fixed once open.
  private readonly rawFrames: boolean
  private awaitingDrain = false
  // Made on first use: most connections never subscribe or see a shutdown. One subscription
  // (the common case) is kept as is; a Map only from the second on (memory per connection).
  private subscriptions: ConnectionSubscriber | Map<string, ConnectionSubscriber> | null = null
  private closedWaiters: Array<() => void> | null = null
  private isClosed = false

  constructor (
    readonly context: AppContext,
    readonly socket: WebSocket,
    controller: Controller,
    readonly table: MethodTable,
    readonly rawSocket: Socket
  ) {
    this.controller = controller as Hooks
    this.rawFrames = acceptsRawFrames(socket)
    this.queue = new SerialQueue((err) => this.controller.log.error({ err }, 'fastify-plezi: websocket handler failed'))
  }

  /** Wires the socket's events (synchronously, so no message is missed) and queues `onOpen`. */
  start (): void {
    const socket = this.socket as TaggedSocket
    socket[kConnection] = this
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    socket.on('pong', onSocketPong)
    this.context.connections.add(this)
    if (this.table.hooks.has('onOpen')) this.queue.push(() => this.controller.onOpen!())
  }

  get isOpen (): boolean {
    return this.socket.readyState === WebSocket.OPEN
  }

  get pending (): number {
    return this.socket.bufferedAmount
  }

  write (data: Writable): boolean {
    const socket = this.socket
    if (socket.readyState !== WebSocket.OPEN) return false
    if (this.outbox !== null) flushOutbox(this) // keep this connection's frames in order
    if (typeof data === 'string') {
      this.send(data, OPCODE_TEXT)
    } else if (data instanceof Uint8Array) {
      this.send(data, OPCODE_BINARY)
    } else if (data instanceof ArrayBuffer) {
      this.send(new Uint8Array(data), OPCODE_BINARY)
    } else if (data === undefined) {
      return false
    } else {
      this.send(JSON.stringify(data), OPCODE_TEXT)
    }
    this.afterWrite()
    return true
  }

  /** Whether frames we built may be written to the TCP socket now, in order with ws's own. */
  rawWritable (): boolean {
    return this.rawFrames && senderIdle(this.socket)
  }

  private send (data: string | Uint8Array, opcode: number): void {
    if (data.length <= DIRECT_WRITE_MAX && this.rawWritable()) {
      this.rawSocket.write(buildFrame(data, opcode))
    } else {
      this.socket.send(data, { binary: opcode === OPCODE_BINARY })
    }
  }

  /** Applies `maxBufferedAmount` and arms `onDrained` after anything was written. */
  afterWrite (): void {
    if (this.socket.bufferedAmount > this.context.options.maxBufferedAmount) {
      this.dropSlowConsumer()
    } else if (!this.awaitingDrain && this.rawSocket.writableNeedDrain && this.table.hooks.has('onDrained')) {
      this.awaitingDrain = true
      this.rawSocket.once('drain', () => {
        this.awaitingDrain = false
        if (this.isOpen) this.queue.push(() => this.controller.onDrained!())
      })
    }
  }

  private dropSlowConsumer (): void {
    this.controller.log.warn({ pending: this.socket.bufferedAmount }, 'fastify-plezi: closing slow consumer (1013)')
    this.socket.close(1013, 'slow consumer')
    setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref()
  }

  close (code?: number, reason?: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason)
    }
  }

  /** Sends a ping, or ends the connection when the previous ping went unanswered. */
  ping (): void {
    if (!this.alive) {
      this.controller.log.info('fastify-plezi: no pong, terminating websocket')
      this.socket.terminate()
      return
    }
    this.alive = false
    this.socket.ping()
  }

  /** Queues a published message: its frame is built once for all subscribers, written at the end of the turn. */
  writeMessage (message: PubSubMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return
    this.context.outboxes.add(this, message)
  }

  subscribe (channel: string, handler: SubscriptionHandler<any> | undefined, options: SubscribeOptions | undefined): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve()
    const subscriber = new ConnectionSubscriber(this, channel, handler)
    const active = this.context.pubsub.subscribe(channel, subscriber, options)
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
    return active
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

  /** Resolves once the socket closed and `onClose` was queued. */
  closed (): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    return new Promise((resolve) => { (this.closedWaiters ??= []).push(resolve) })
  }

  /** Graceful shutdown: `onShutdown`, flush, close 1001, `onClose`; cut short at `deadline`. */
  async shutdown (deadline: Promise<void>): Promise<void> {
    if (this.isOpen && this.table.hooks.has('onShutdown')) {
      this.queue.push(() => this.controller.onShutdown!())
      await Promise.race([this.queue.idle(), deadline])
    }
    this.close(1001, 'server shutting down')
    await Promise.race([this.closed(), deadline])
    this.socket.terminate() // no-op when already closed; ends a peer that never answered
    await this.closed()
    await Promise.race([this.queue.idle(), deadline])
  }

  onSocketClosed (): void {
    this.isClosed = true
    this.context.connections.delete(this)
    for (const channel of this.subscribedChannels()) this.unsubscribe(channel)
    if (this.table.hooks.has('onClose')) this.queue.push(() => this.controller.onClose!())
    const waiters = this.closedWaiters
    this.closedWaiters = null
    if (waiters !== null) for (const resolve of waiters) resolve()
  }
}

/** A connection's subscription: forwards to the client, or runs its handler in the connection's queue. */
class ConnectionSubscriber implements Subscriber {
  live = true
  constructor (
    readonly connection: Connection,
    readonly channel: string,
    readonly handler: SubscriptionHandler<any> | undefined
  ) {}

  deliver (message: PubSubMessage): void {
    if (!this.live) return
    if (this.handler === undefined) this.connection.writeMessage(message)
    else this.connection.queue.push(runHandler, this, message) // in the connection's order, no closure per message
  }
}

function runHandler (this: ConnectionSubscriber, message: PubSubMessage): unknown {
  return this.live ? this.handler!.call(this.connection.controller, message.value, message.channel) : undefined
}

// Module-level listeners (not closures per connection): they find the connection on the socket.
function onSocketMessage (this: WebSocket, data: Buffer, isBinary: boolean): void {
  handleIncoming((this as TaggedSocket)[kConnection], data, isBinary)
}

function onSocketClose (this: WebSocket): void {
  (this as TaggedSocket)[kConnection].onSocketClosed()
}

function onSocketPong (this: WebSocket): void {
  (this as TaggedSocket)[kConnection].alive = true
}
