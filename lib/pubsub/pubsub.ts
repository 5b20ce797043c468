// Plezi-style pub/sub over MQEmitter engines. A plain in-process mqemitter always carries local
// delivery; an external engine (Redis or app-supplied) carries the same publishes to other
// processes, and its echo of our own publishes is dropped. So local subscribers never wait for
// a Redis round trip and keep working while Redis is down. The engines see ONE listener per
// pattern per PubSub, whatever the number of subscribers sharing it.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisOptions } from 'ioredis'
import { localEngine, redisEngine, suppliedEngine, type Emitter, type Engine, type EnginePacket } from './engine.js'
import { PubSubMessage, type WirePacket } from './message.js'

export { PubSubMessage } from './message.js'
export type { MessageKind } from './message.js'
export type { Emitter } from './engine.js'

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

/** Local packets carry the already-encoded message, so it is framed once per process. */
interface LocalPacket extends EnginePacket {
  message: PubSubMessage
}

// One engine registration per pattern. `live` guards against mqemitter calling a listener
// in the tick after removeListener.
interface Subscription {
  readonly pattern: string
  readonly subscribers: Set<Subscriber>
  live: boolean
  ready: Promise<void>
  onLocal (packet: EnginePacket, done: () => void): void
  onExternal (packet: EnginePacket, done: () => void): void
}

// The message built from one external packet, shared by every pattern it matches.
const received = new WeakMap<object, PubSubMessage | null>()

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
   * Delivers to local subscribers at once and hands the message to the external engine.
   * Resolves true once both are done, false when the engine could not take it (logged).
   * Rejects only with a TypeError for a bad channel or a message that cannot be encoded.
   */
  async publish (channel: string, message: unknown): Promise<boolean> {
    checkChannel(channel, 'publish', false)
    const msg = PubSubMessage.from(channel, message)
    if (this.#closed) {
      this.#log.debug({ channel }, 'pub/sub: publish after close dropped')
      return false
    }
    const topic = this.#prefix + channel
    const local: LocalPacket = { topic, message: msg }
    this.#local.emitter.emit(local)
    const external = this.#external
    if (external === undefined) return true
    return await new Promise<boolean>((resolve) => {
      const done = (err?: Error | null): void => {
        if (err) this.#publishFailed(err, channel)
        resolve(!err)
      }
      try {
        external.emitter.emit(msg.toWire(topic, this.id) as unknown as EnginePacket, done)
      } catch (err) {
        done(err as Error)
      }
    })
  }

  /** Adds a subscriber to a pattern (`+` one level, `#` the rest); resolves once active. */
  async subscribe (pattern: string, sub: Subscriber): Promise<void> {
    checkChannel(pattern, 'subscribe', true)
    if (this.#closed) throw new Error('pub/sub is closed')
    let subscription = this.#subscriptions.get(pattern)
    if (subscription === undefined) {
      subscription = this.#register(pattern)
      this.#subscriptions.set(pattern, subscription)
    }
    subscription.subscribers.add(sub)
    await subscription.ready
  }

  /**
   * Removes a subscriber; the engine listener goes when the pattern's last subscriber leaves.
   * Delivery to `sub` stops at once; the promise (never rejected, no need to await it) resolves
   * when the engines confirmed the removal.
   */
  async unsubscribe (pattern: string, sub: Subscriber): Promise<void> {
    const subscription = this.#subscriptions.get(pattern)
    if (subscription === undefined || !subscription.subscribers.delete(sub)) return
    if (subscription.subscribers.size === 0) await this.#unregister(subscription)
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
      live: true,
      ready: Promise.resolve(),
      onLocal: (packet, done) => {
        if (subscription.live) this.#fanOut(subscription, (packet as LocalPacket).message)
        done()
      },
      onExternal: (packet, done) => {
        if (subscription.live && packet.origin !== this.id) {
          const msg = this.#fromExternal(packet)
          if (msg !== undefined) this.#fanOut(subscription, msg)
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

  #fanOut (subscription: Subscription, msg: PubSubMessage): void {
    for (const sub of subscription.subscribers) {
      try {
        sub.deliver(msg)
      } catch (err) {
        this.#log.error({ err, channel: msg.channel }, 'pub/sub subscriber failed')
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
    if (this.#closed || this.#engineDown) {
      this.#log.debug({ err }, what)
      return
    }
    this.#engineDown = true
    this.#log.error({ err }, what)
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

function checkChannel (channel: unknown, what: 'publish' | 'subscribe', wildcards: boolean): asserts channel is string {
  if (typeof channel !== 'string' || channel === '') {
    throw new TypeError(`${what}: channel must be a non-empty string, received ${typeof channel}`)
  }
  if (!wildcards && /[+#]/.test(channel)) {
    throw new TypeError(`publish: channel must not contain the wildcards "+" or "#", received ${JSON.stringify(channel)}`)
  }
}
