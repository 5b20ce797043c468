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
import { checkChannel, hasWildcards, isPattern, type SubscribeOptions } from './channel.js'
import { PLZ_ERR_CHANNEL, PLZ_ERR_ENGINE } from '../errors.js'
import { publishChannel, reportError } from '../diagnostics.js'
import { History, atPosition, type HistoryConfig, type Recovered, type Seen } from './history/history.js'
import { matchPattern } from './history/channels.js'
import { PositionCheck } from './history/position-check.js'
import { HISTORY_DEFAULTS, toHistoryData, type HistoryData, type HistoryEntry, type HistoryPage, type Position, type ReadOptions } from './history/store.js'

export { PubSubMessage } from './message.js'
export type { MessageKind, MessagePosition } from './message.js'
export type { Recovered } from './history/history.js'
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
  /** History channels and limits: a store in the process, or in Redis with the Redis engine. */
  history?: HistoryConfig
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
  /** Has wildcards (literal channel names cannot). */
  readonly isPattern: boolean
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

/** The messages of `page` that follow `from` one by one in `epoch` (none when the first does not). */
function contiguous (page: HistoryPage, epoch: string, from: number): HistoryEntry[] {
  if (page.epoch !== epoch) return []
  const entries: HistoryEntry[] = []
  for (const entry of page.messages) {
    if (entry.offset !== from + entries.length + 1) break
    entries.push(entry)
  }
  return entries
}

/** The subscriptions that heard the first held message. */
function targetsOf (held: unknown[]): Subscription[] {
  const targets: Subscription[] = []
  for (let i = 0; i < held.length && held[i + 1] === held[1]; i += 2) targets.push(held[i] as Subscription)
  return targets
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
  readonly #history: History | undefined
  readonly #check: PositionCheck | undefined
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
    const events = {
      error: (err: Error) => { this.#engineError(err, 'pub/sub engine error') },
      up: () => { this.#engineUp() },
      resubscribed: () => { this.#probe() }
    }
    if (opts.emitter !== undefined) this.#external = suppliedEngine(opts.emitter, events)
    else if (opts.redis !== undefined) this.#external = redisEngine(opts.redis, events, opts.closeTimeout ?? 2000)
    if (opts.history !== undefined) {
      if (this.#external !== undefined && this.#external.connection === undefined) throw new TypeError('fastify-plezi: history needs the in-process engine or Redis')
      this.#history = new History(opts.history, this.#prefix, this.id, this.#external?.connection, (channel) => this.#subscriptions.has(channel))
      // In the process nothing is lost between history and delivery: no check.
      const interval = opts.history.checkInterval ?? HISTORY_DEFAULTS.checkInterval
      if (this.#history.memory === undefined && interval > 0) this.#check = this.#positionCheck(this.#history, interval)
    }
  }

  /** Resolves once the engine is connected (Redis: both connections ready, the history scripts loaded). */
  async ready (): Promise<void> {
    await this.#external?.ready()
    await this.#history?.store.ready()
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
      if (await Promise.race([this.ready(), expired]) !== 'timeout') return
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
    const history = this.#history
    // On a history channel a Buffer throws here, at the call.
    const data = history !== undefined && history.channels.matches(channel) ? toHistoryData(msg) : undefined
    if (this.#closed) {
      this.#log.debug({ channel }, 'pub/sub: publish after close dropped')
      return DROPPED
    }
    this.totals.published++
    if (publishChannel.hasSubscribers) publishChannel.publish({ channel, kind: msg.kind })
    if (data !== undefined) return this.#publishHistory(history!, msg, data)
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
  /** History channels: held in the process, or followed on Redis (0 without history). */
  get historyChannels (): number {
    return this.#history?.channelCount ?? 0
  }

  get channels (): number {
    return this.#subscriptions.size
  }

  /** `'local'` without an external engine; else whether it is reachable now. */
  get engineState (): 'local' | 'up' | 'down' {
    if (this.#external === undefined) return 'local'
    return this.#engineDown ? 'down' : 'up'
  }

  /** Whether `channel` (literal) keeps history (option `history.channels`). */
  isHistory (channel: string): boolean {
    return this.#history !== undefined && this.#history.channels.matches(channel)
  }

  /**
   * Where a new subscriber of a history channel starts (the latest position this process knows
   * of); rejects when the store cannot be reached.
   */
  position (channel: string): Promise<Position> {
    return this.#historyOf(channel, 'position').position(channel)
  }

  /** The messages after `since` that history still holds, all or nothing (see History.recover). */
  recover (channel: string, since: Position): Promise<Recovered> {
    return this.#historyOf(channel, 'recover').recover(channel, since)
  }

  /** A page of a history channel's messages (see HistoryStore.read); bad options throw at the call. */
  readHistory (channel: string, options?: ReadOptions): Promise<HistoryPage> {
    return this.#historyOf(channel, 'history').read(channel, options)
  }

  #historyOf (channel: string, what: string): History {
    checkChannel(channel, what)
    if (!this.isHistory(channel)) throw new PLZ_ERR_CHANNEL(`${what}: ${JSON.stringify(channel)} is not a history channel (option history.channels)`)
    return this.#history!
  }

  /** Position checks that read Redis so far (undefined: no check runs); for tests. */
  get positionChecks (): number | undefined {
    return this.#check?.reads
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
    this.#check?.close()
    await this.#history?.close()
    await Promise.all([this.#local.close(), this.#external?.close()])
  }

  #register (pattern: string): Subscription {
    const topic = this.#prefix + pattern
    const subscription: Subscription = {
      pattern,
      isPattern: hasWildcards(pattern),
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
      // Messages of history channels come with their position, our own included: on Redis
      // every process, this one too, delivers them in the order Redis gave them offsets.
      onExternal: (packet, done) => {
        if (subscription.live && (packet.origin !== this.id || packet.offset !== undefined)) {
          const msg = this.#fromExternal(packet)
          if (msg !== undefined) {
            if (msg.position !== undefined && this.#history !== undefined) this.#arrive(this.#history, subscription, msg)
            else this.#enqueue(subscription, msg, ++this.#seq)
            this.#drainSoon()
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
    // Channels nobody here hears any more: what this process saw of them no longer tells what
    // comes next. Those still heard (another subscription) or being healed keep their place.
    const seen = this.#history?.seen
    if (seen !== undefined && seen.size > 0) {
      const hears = this.#listening()
      const forget = (channel: string): void => {
        if (seen.get(channel)?.held === null && !hears(channel)) seen.delete(channel)
      }
      if (subscription.isPattern) for (const channel of [...seen.keys()]) forget(channel)
      else forget(subscription.pattern)
    }
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

  #drainSoon (): void {
    if (!this.#draining && !this.#drainScheduled) {
      this.#drainScheduled = true
      queueMicrotask(this.#drainLater)
    }
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

  // A publish on a history channel. In the process, the store gives the position at the call
  // and delivery goes on as for any publish. On Redis, the store's script gives the offset and
  // publishes, and every process, this one included, delivers from Redis, in offset order; only
  // when Redis cannot take it is it delivered here at once, with `offset: null`.
  #publishHistory (history: History, msg: PubSubMessage, data: HistoryData): Promise<boolean> {
    const key = history.key(msg.channel)
    if (history.memory !== undefined) {
      msg.position = history.memory.appendSync(key, data)
      this.#enqueue(null, { topic: key, message: msg, seq: ++this.#seq, handed: undefined }, undefined)
      if (!this.#draining) this.#drain()
      return DELIVERED
    }
    return history.store.append(key, data).then(() => true, (err: Error) => {
      this.#publishFailed(err, msg.channel)
      if (this.#closed) return false
      msg.position = { epoch: history.seen.get(msg.channel)?.epoch ?? null, offset: null }
      this.#enqueue(null, { topic: key, message: msg, seq: ++this.#seq, handed: undefined }, undefined)
      if (!this.#draining) this.#drain()
      return false
    })
  }

  // A history message from Redis, once per subscription it matched (the engine hands them over in
  // one go). It is queued when it follows what this process saw of its channel. When its offset
  // skips ahead (the subscribe connection lost some), it and every later message of the channel
  // are held while the missing ones are read from history, then delivered first, once for all.
  #arrive (history: History, subscription: Subscription, msg: PubSubMessage): void {
    const { epoch, offset } = msg.position as Position
    const channel = msg.channel
    let seen = history.seen.get(channel)
    if (seen === undefined) {
      seen = { epoch, last: offset, delivered: true, held: null, lastMessage: msg, lastPassed: true }
      history.track(channel, seen)
    } else if (seen.held !== null) {
      seen.held.push(subscription, msg)
      return
    } else if (seen.lastMessage !== msg) {
      seen.lastMessage = msg
      seen.lastPassed = true
      if (epoch !== seen.epoch) {
        // A new epoch (Redis lost the channel): subscribers learn it from the message itself.
        seen.epoch = epoch
        seen.last = offset
      } else if (offset === seen.last + 1 || (offset <= seen.last && !seen.delivered)) {
        if (offset > seen.last) seen.last = offset
      } else if (offset <= seen.last) {
        seen.lastPassed = false // delivered already (healed or probed before it came)
      } else {
        seen.held = [subscription, msg]
        this.#heal(history, channel, seen, epoch, offset)
        return
      }
      // after a seed, what was read may still be arriving: until its top came, let it pass
      seen.delivered = offset >= seen.last
    }
    if (seen.lastPassed) this.#enqueue(subscription, msg, ++this.#seq)
  }

  // Reads what lies between `seen.last` and `upTo` (exclusive; undefined: up to the latest) and
  // queues it for `targets` — the subscriptions that heard the message that revealed the gap, or
  // every subscription of the channel — then lets the held arrivals through again. All or
  // nothing: when history no longer has them all, the subscribers see the skip (direct ones get
  // a `_sub_` with recovered: false).
  #heal (history: History, channel: string, seen: Seen, epoch: string, upTo: number | undefined): void {
    const from = seen.last
    const limit = upTo === undefined ? history.size : upTo - from - 1
    let reading: Promise<HistoryPage>
    try {
      reading = history.read(channel, { since: from, limit })
    } catch (err) {
      reading = Promise.reject(err)
    }
    reading.then((page) => {
      const entries = contiguous(page, epoch, from)
      return upTo === undefined || entries.length === limit ? entries : null
    }, (err: unknown) => {
      this.#log.warn({ err, channel }, 'pub/sub: history could not be read to fill a gap')
      return null
    }).then((entries) => {
      const held = seen.held!
      seen.held = null
      if (upTo !== undefined) {
        if (entries === null) this.#log.warn({ channel, from, to: upTo }, 'pub/sub: missed history messages that history no longer holds; direct subscribers are told recovered: false')
        seen.last = upTo - 1
      }
      if (this.#closed) return
      if (entries !== null && entries.length > 0) {
        const targets = upTo === undefined ? this.#subscriptionsOf(channel) : targetsOf(held)
        for (const entry of entries) {
          const msg = atPosition(channel, entry, epoch)
          for (const subscription of targets) this.#enqueue(subscription, msg, ++this.#seq)
        }
        seen.last = entries[entries.length - 1].offset
        seen.delivered = true
        this.#log.debug({ channel, from, count: entries.length }, 'pub/sub: filled a gap from history')
      }
      seen.lastMessage = undefined
      for (let i = 0; i < held.length; i += 2) this.#arrive(history, held[i] as Subscription, held[i + 1] as PubSubMessage)
      // unsubscribed while it was healed: forgotten now, as #unregister would have done
      if (history.seen.get(channel) === seen && !this.#listening()(channel)) history.seen.delete(channel)
      this.#drainSoon()
    }).catch((err: unknown) => {
      // nobody awaits this chain: a fault in it is logged, never an unhandled rejection
      this.#log.error({ err, channel }, 'pub/sub: filling a history gap failed')
    })
  }

  // After the subscribe connection came back (and re-subscribed), what was published meanwhile
  // never reached us: read each tracked channel from where we were, as for a gap.
  #probe (): void {
    const history = this.#history
    if (history === undefined || this.#closed) return
    for (const [channel, seen] of history.seen) {
      if (seen.held !== null) continue
      seen.held = []
      this.#heal(history, channel, seen, seen.epoch, undefined)
    }
  }

  // Every `interval` ms, the tracked channels against Redis: what history holds that never
  // arrived is healed as after a reconnect (see position-check.ts).
  #positionCheck (history: History, interval: number): PositionCheck {
    return new PositionCheck(interval, {
      seen: history.seen,
      positions: (channels) => history.positions(channels),
      listening: () => this.#listening(),
      heal: (channel, seen) => {
        seen.held = []
        this.#heal(history, channel, seen, seen.epoch, undefined)
      }
    }, this.#log)
  }

  /** Whether a channel has a subscription in this process (literal or pattern), as of now. */
  #listening (): (channel: string) => boolean {
    const patterns: string[] = []
    for (const subscription of this.#subscriptions.values()) if (subscription.isPattern) patterns.push(subscription.pattern)
    return (channel) => this.#subscriptions.has(channel) || patterns.some((pattern) => matchPattern(pattern, channel))
  }

  #subscriptionsOf (channel: string): Subscription[] {
    const found: Subscription[] = []
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.isPattern ? matchPattern(subscription.pattern, channel) : subscription.pattern === channel) found.push(subscription)
    }
    return found
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
