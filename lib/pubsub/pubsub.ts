// Plezi-style pub/sub over MQEmitter engines. A plain in-process mqemitter always carries local
// delivery; an external engine (Redis or app-supplied) carries the same publishes to other
// processes, and its echo of our own publishes is dropped. So local subscribers never wait for
// a Redis round trip and keep working while Redis is down. The engines see ONE listener per
// pattern per PubSub, whatever the number of subscribers sharing it.
//
// Delivery is never re-entrant: publishes and arrivals from the engine go through one queue,
// drained in a loop, so a message published by a handler during a delivery reaches everyone
// after the message being delivered, locally and through the engine.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisOptions } from 'ioredis'
import { localEngine, redisEngine, suppliedEngine, type Emitter, type Engine, type EnginePacket } from './engine.js'
import { PubSubMessage, type WirePacket } from './message.js'
import { checkChannel, isPattern, type SubscribeOptions } from './channel.js'
import { PLZ_ERR_ENGINE } from '../errors.js'
import { publishChannel, reportError } from '../diagnostics.js'

export { PubSubMessage } from './message.js'
export type { MessageKind } from './message.js'
export type { Emitter } from './engine.js'
export { checkChannel, isPattern, type SubscribeOptions } from './channel.js'

export interface Subscriber {
  deliver (message: PubSubMessage): void
}

export type PubSubLog = Pick<FastifyBaseLogger, 'error' | 'warn' | 'info' | 'debug'>

export interface PubSubOptions {
  appName: string
  /** Any MQEmitter-compatible instance; left open by close(). */
  emitter?: Emitter
  /** Redis URL or ioredis options: an mqemitter-redis engine that close() closes. */
  redis?: string | RedisOptions
  log: PubSubLog
  /** Upper bound (ms) on closing a Redis engine; default 2000. */
  closeTimeout?: number
}

/** A local publish, queued: the already-encoded message, so it is framed once per process. */
interface LocalPacket extends EnginePacket {
  message: PubSubMessage
  /** Its place in the delivery order (see Subscription.late). */
  seq: number
  /** Settles the publish once the external engine took it (absent without one). */
  handed: ((ok: boolean) => void) | undefined
}

// One engine registration per pattern. `live` guards against mqemitter calling a listener
// in the tick after removeListener.
interface Subscription {
  readonly pattern: string
  readonly subscribers: Set<Subscriber>
  /**
   * Subscribers added while messages were queued or being delivered, with the last sequence
   * number assigned then: they skip messages published before they were added. Null on the
   * hot path (nothing was added during a delivery), so fan-out copies nothing.
   */
  late: Map<Subscriber, number> | null
  live: boolean
  ready: Promise<void>
  onLocal (packet: EnginePacket, done: () => void): void
  onExternal (packet: EnginePacket, done: () => void): void
}

// The message built from one external packet, shared by every pattern it matches.
const received = new WeakMap<object, PubSubMessage | null>()

const DELIVERED = Promise.resolve(true)
const DROPPED = Promise.resolve(false)

export class PubSub {
  readonly appName: string
  /** Tags our publishes so the external engine's echo of them can be dropped. */
  readonly id = randomUUID()
  readonly #log: PubSubLog
  readonly #local: Engine
  readonly #external: Engine | undefined
  readonly #prefix: string
  readonly #subscriptions = new Map<string, Subscription>()
  #listeners = 0
  #closed = false
  #engineDown = false
  #publishFailing = false
  /** Running totals, for `app.plezi.stats()`. */
  readonly totals = { published: 0, delivered: 0, subscribers: 0 }
  #lastError: Error | undefined
  // The delivery queue, flat triples: null + LocalPacket (a local publish: fan out through the
  // local engine, then hand to the external one), or Subscription + message + seq (an arrival
  // from the external engine, for one pattern).
  readonly #queue: unknown[] = []
  #head = 0
  #draining = false
  #drainScheduled = false
  #seq = 0
  readonly #late: Subscription[] = []
  readonly #drainLater = (): void => {
    this.#drainScheduled = false
    this.#drain()
  }

  constructor (opts: PubSubOptions) {
    this.appName = opts.appName
    this.#prefix = `${opts.appName}/`
    this.#log = opts.log
    this.#local = localEngine()
    const events = { error: (err: Error) => { this.#engineError(err, 'pub/sub engine error') }, up: () => { this.#engineUp() } }
    if (opts.emitter !== undefined) this.#external = suppliedEngine(opts.emitter, events)
    else if (opts.redis !== undefined) this.#external = redisEngine(opts.redis, events, opts.closeTimeout ?? 2000)
  }

  /** Resolves once the engine is connected (Redis: both connections ready). */
  async ready (): Promise<void> {
    await this.#external?.ready()
  }

  /**
   * Waits until the engine is connected, at most `timeout` ms. On failure it closes this
   * PubSub (no reconnect timers, no sockets left) and throws PLZ_ERR_ENGINE.
   */
  async connect (timeout: number): Promise<void> {
    const external = this.#external
    if (external === undefined) return
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, timeout, 'timeout') })
    let failure: unknown
    try {
      if (await Promise.race([external.ready(), expired]) !== 'timeout') return
    } catch (err) {
      failure = err
    } finally {
      clearTimeout(timer)
    }
    const cause = failure ?? this.#lastError
    await this.close()
    const why = cause instanceof Error ? ` (${cause.message})` : ''
    throw new PLZ_ERR_ENGINE(`could not reach ${external.describe()} within ${timeout} ms${why}`, { cause })
  }

  /**
   * Delivers to local subscribers and hands the message to the external engine, in publish
   * order. A bad channel or a message that cannot be encoded throws at the call
   * (PLZ_ERR_CHANNEL / PLZ_ERR_MESSAGE); the message is captured then. The promise never
   * rejects: true once delivered locally and handed to the engine, false when the engine
   * could not take it (logged) or this PubSub is closed.
   */
  publish (channel: string, message: unknown): Promise<boolean> {
    checkChannel(channel, 'publish')
    const msg = PubSubMessage.from(channel, message)
    if (this.#closed) {
      this.#log.debug({ channel }, 'pub/sub: publish after close dropped')
      return DROPPED
    }
    this.totals.published++
    if (publishChannel.hasSubscribers) publishChannel.publish({ channel, kind: msg.kind })
    const packet: LocalPacket = { topic: this.#prefix + channel, message: msg, seq: ++this.#seq, handed: undefined }
    const result = this.#external === undefined ? DELIVERED : new Promise<boolean>((resolve) => { packet.handed = resolve })
    this.#enqueue(null, packet, undefined)
    if (!this.#draining) this.#drain()
    return result
  }

  /**
   * Adds a subscriber to a channel, or with `{ pattern: true }` to a pattern (`+` one level,
   * `#` the rest); resolves once active. A bad channel throws PLZ_ERR_CHANNEL at the call.
   */
  subscribe (channel: string, sub: Subscriber, options?: SubscribeOptions): Promise<void> {
    checkChannel(channel, 'subscribe', isPattern(options, 'subscribe'))
    if (this.#closed) return Promise.reject(new Error('pub/sub is closed'))
    let subscription = this.#subscriptions.get(channel)
    if (subscription === undefined) {
      subscription = this.#register(channel)
      this.#subscriptions.set(channel, subscription)
    }
    const subscribers = subscription.subscribers
    if ((this.#draining || this.#head < this.#queue.length) && !subscribers.has(sub)) {
      // The message being delivered and those queued were published before this subscriber.
      if (subscription.late === null) {
        subscription.late = new Map()
        this.#late.push(subscription)
      }
      subscription.late.set(sub, this.#seq)
    }
    if (!subscribers.has(sub)) this.totals.subscribers++
    subscribers.add(sub)
    return subscription.ready
  }

  /**
   * Removes a subscriber; the engine listener goes when the channel's last subscriber leaves.
   * Delivery to `sub` stops at once; the promise (never rejected, no need to await it) resolves
   * when the engines confirmed the removal.
   */
  async unsubscribe (channel: string, sub: Subscriber): Promise<void> {
    const subscription = this.#subscriptions.get(channel)
    if (subscription === undefined || !subscription.subscribers.delete(sub)) return
    this.totals.subscribers--
    if (subscription.subscribers.size === 0) await this.#unregister(subscription)
  }

  /** What carries messages between processes, for the start-up log ('the in-process mqemitter', 'Redis at …'). */
  describeEngine (): string {
    return (this.#external ?? this.#local).describe()
  }

  /** Channels (and patterns) with at least one subscriber in this process. */
  get channels (): number {
    return this.#subscriptions.size
  }

  /** `'local'` without an external engine; else whether it is reachable now. */
  get engineState (): 'local' | 'up' | 'down' {
    if (this.#external === undefined) return 'local'
    return this.#engineDown ? 'down' : 'up'
  }

  /** Engine-side listeners not yet removed (one per pattern and engine); for tests. */
  listenerCount (): number {
    return this.#listeners
  }

  /** Stops delivery, removes our listeners, and closes the engines this PubSub created. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Not awaited: removals on Redis wait for its replies, which an outage withholds.
    for (const subscription of [...this.#subscriptions.values()]) void this.#unregister(subscription)
    await Promise.all([this.#local.close(), this.#external?.close()])
  }

  #register (pattern: string): Subscription {
    const topic = this.#prefix + pattern
    const subscription: Subscription = {
      pattern,
      subscribers: new Set(),
      late: null,
      live: true,
      ready: Promise.resolve(),
      // Called by the local engine while #drain emits a queued publish, synchronously.
      onLocal: (packet, done) => {
        if (subscription.live) this.#fanOut(subscription, (packet as LocalPacket).message, (packet as LocalPacket).seq)
        done()
      },
      // The engine calls this once per matching pattern, in one go: queue them all, deliver
      // in the next microtask (unless a drain is already running), so no handler's publish
      // can slip in between two patterns of one message.
      onExternal: (packet, done) => {
        if (subscription.live && packet.origin !== this.id) {
          const msg = this.#fromExternal(packet)
          if (msg !== undefined) {
            this.#enqueue(subscription, msg, ++this.#seq)
            if (!this.#draining && !this.#drainScheduled) {
              this.#drainScheduled = true
              queueMicrotask(this.#drainLater)
            }
          }
        }
        done()
      }
    }
    const pending = [this.#on(this.#local, topic, subscription.onLocal)]
    if (this.#external !== undefined) pending.push(this.#on(this.#external, topic, subscription.onExternal))
    subscription.ready = Promise.all(pending).then(() => undefined)
    return subscription
  }

  async #unregister (subscription: Subscription): Promise<void> {
    subscription.live = false
    this.#subscriptions.delete(subscription.pattern)
    const topic = this.#prefix + subscription.pattern
    const pending = [this.#off(this.#local, topic, subscription.onLocal)]
    if (this.#external !== undefined) pending.push(this.#off(this.#external, topic, subscription.onExternal))
    await Promise.all(pending)
  }

  #on (engine: Engine, topic: string, listener: (packet: EnginePacket, done: () => void) => void): Promise<void> {
    this.#listeners++
    return new Promise((resolve) => { engine.emitter.on(topic, listener, resolve) })
  }

  // Counted as gone when the engine confirms (mqemitter removes on the next tick).
  #off (engine: Engine, topic: string, listener: (packet: EnginePacket, done: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      engine.emitter.removeListener(topic, listener, () => {
        this.#listeners--
        resolve()
      })
    })
  }

  #enqueue (subscription: Subscription | null, item: LocalPacket | PubSubMessage, seq: number | undefined): void {
    this.#queue.push(subscription, item, seq)
  }

  // Runs until the queue is empty; whatever handlers publish meanwhile is queued behind.
  #drain (): void {
    if (this.#draining) return
    this.#draining = true
    const queue = this.#queue
    try {
      while (this.#head < queue.length) {
        const i = this.#head
        this.#head += 3
        const subscription = queue[i] as Subscription | null
        const item = queue[i + 1]
        const seq = queue[i + 2] as number | undefined
        queue[i + 1] = undefined // let go of delivered messages
        if (subscription === null) this.#deliverLocal(item as LocalPacket)
        else if (subscription.live) this.#fanOut(subscription, item as PubSubMessage, seq!)
      }
    } finally {
      queue.length = 0
      this.#head = 0
      this.#draining = false
      for (const subscription of this.#late) subscription.late = null
      this.#late.length = 0
    }
  }

  #deliverLocal (packet: LocalPacket): void {
    this.#local.emitter.emit(packet) // synchronous: onLocal of every matching pattern
    const handed = packet.handed
    if (handed === undefined) return
    const channel = packet.message.channel
    const done = (err?: Error | null): void => {
      if (err) this.#publishFailed(err, channel)
      handed(!err)
    }
    try {
      this.#external!.emitter.emit(packet.message.toWire(packet.topic, this.id) as unknown as EnginePacket, done)
    } catch (err) {
      done(err as Error)
    }
  }

  #fanOut (subscription: Subscription, msg: PubSubMessage, seq: number): void {
    for (const sub of subscription.subscribers) {
      const late = subscription.late // read each time: a subscriber may be added by the one before
      if (late !== null) {
        const addedAt = late.get(sub)
        if (addedAt !== undefined && seq <= addedAt) continue
      }
      try {
        sub.deliver(msg)
        this.totals.delivered++
      } catch (err) {
        this.#log.error({ err, channel: msg.channel }, 'pub/sub subscriber failed')
        reportError(err, 'subscriber')
      }
    }
  }

  #fromExternal (packet: EnginePacket): PubSubMessage | undefined {
    let msg = received.get(packet)
    if (msg === undefined) {
      msg = PubSubMessage.fromWire(packet.topic.slice(this.#prefix.length), packet as Partial<WirePacket>) ?? null
      if (msg === null) this.#log.warn({ topic: packet.topic }, 'pub/sub: dropped a message in an unknown format')
      received.set(packet, msg)
    }
    return msg ?? undefined
  }

  // An outage is logged once as an error, and its first failed publish once as a warning;
  // repeats (ioredis retries every few seconds, every publish fails) only at debug level
  // until the engine is back.
  #engineError (err: Error, what: string): void {
    this.#lastError = err
    if (this.#closed || this.#engineDown) {
      this.#log.debug({ err }, what)
      return
    }
    this.#engineDown = true
    this.#log.error({ err }, what)
    reportError(err, 'engine')
  }

  #publishFailed (err: Error, channel: string): void {
    const what = 'pub/sub publish failed: subscribers in other processes miss this message'
    if (this.#closed || this.#publishFailing) {
      this.#log.debug({ err, channel }, what)
      return
    }
    this.#publishFailing = true
    this.#log.warn({ err, channel }, what)
  }

  #engineUp (): void {
    if (!this.#engineDown && !this.#publishFailing) return
    this.#engineDown = false
    this.#publishFailing = false
    this.#log.info('pub/sub engine reconnected')
  }
}
