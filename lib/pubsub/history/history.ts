// The history side of one PubSub: which channels keep history, their store, what this process
// has seen of each (Redis), and positions and recoveries for subscribers. The store is keyed by
// the scoped channel (`<appName>/<channel>`), so apps sharing a Redis never share history.
//
// Positions without a read: with Redis, `seen` holds per channel the last position this
// process delivered (or queued). Every message after it is still to come by the engine, so a
// new subscriber may start there without asking Redis; recoveries read once and are shared by
// every client recovering from the same position while nothing newer was delivered.
import type { Redis } from 'ioredis'
import { PubSubMessage } from '../message.js'
import { MemoryHistoryStore } from './memory-store.js'
import { RedisHistoryStore } from './redis-store.js'
import { recover, type HistoryEntry, type HistoryPage, type HistoryStore, type Position, type ReadOptions, type ResolvedLimits } from './store.js'
import type { HistoryChannels } from './channels.js'

export interface HistoryConfig extends ResolvedLimits {
  channels: HistoryChannels
  /** ms between position checks (Redis only; 0: none); default HISTORY_DEFAULTS.checkInterval. */
  checkInterval?: number
}

/** What a subscriber recovering from a position gets. */
export interface Recovered {
  readonly recovered: boolean
  /** The messages after the position, with their positions (frames shared by every recovering client). */
  readonly messages: readonly PubSubMessage[]
  readonly latest: Position
}

/** What this process has seen of a channel on the engine (Redis only). */
export interface Seen {
  epoch: string
  /** The last offset delivered or queued; every later message is still to come. */
  last: number
  /** False while `last` came from a read (a seed): messages up to it may still arrive, and pass. */
  delivered: boolean
  /** Arrivals held while the missing range is fetched: subscription, message, … pairs. */
  held: unknown[] | null
  /** The message seen last and whether it passed: the engine hands one message to every matching pattern. */
  lastMessage: PubSubMessage | undefined
  lastPassed: boolean
}

// Bounds: channels tracked (the oldest go first; a channel that comes back is read again) and
// recoveries kept for sharing, each for a short while (a reconnect storm lasts seconds).
const SEEN_LIMIT = 10_000
const RECOVERIES_LIMIT = 64
const RECOVERY_SHARE_MS = 2000

interface SharedRecovery {
  readonly at: number
  readonly result: Promise<Recovered>
}

export class History {
  readonly channels: HistoryChannels
  readonly store: HistoryStore
  /** The in-process store (positions at the call), or undefined with Redis. */
  readonly memory: MemoryHistoryStore | undefined
  readonly seen = new Map<string, Seen>()
  readonly #scope: string
  readonly #recoveries = new Map<string, SharedRecovery>()
  readonly #subscribed: (channel: string) => boolean
  readonly #redis: RedisHistoryStore | undefined

  /**
   * `connection`: the Redis engine's publish connection, shared so history and publishes keep
   * one order. `subscribed`: whether this process listens to a literal channel (only those are
   * tracked from reads: a position kept for a channel nobody hears would soon be stale).
   */
  constructor (config: HistoryConfig, scope: string, origin: string, connection: Redis | undefined, subscribed: (channel: string) => boolean) {
    this.channels = config.channels
    this.#scope = scope
    this.#subscribed = subscribed
    const limits = { size: config.size, ttl: config.ttl, metaTtl: config.metaTtl }
    if (connection === undefined) {
      this.memory = new MemoryHistoryStore(limits)
      this.store = this.memory
    } else {
      this.memory = undefined
      this.#redis = new RedisHistoryStore({ ...limits, redis: connection, publish: { topicPrefix: '', origin } })
      this.store = this.#redis
    }
  }

  /** In the process: the channels the store holds; on Redis: the channels this process follows. */
  get channelCount (): number {
    return this.memory !== undefined ? this.memory.channelCount : this.seen.size
  }

  get size (): number {
    return (this.store as MemoryHistoryStore | RedisHistoryStore).limits.size
  }

  /** The store's key of a channel. */
  key (channel: string): string {
    return this.#scope + channel
  }

  read (channel: string, options?: ReadOptions): Promise<HistoryPage> {
    return this.store.read(this.key(channel), options)
  }

  /** The latest positions of `channels`, one round trip (null: the channel is gone); Redis only. */
  positions (channels: readonly string[]): Promise<Array<Position | null>> {
    return this.#redis!.positions(channels.map((channel) => this.key(channel)))
  }

  /** Where a new subscriber starts: what this process delivered last, else the store's latest. */
  position (channel: string): Promise<Position> {
    if (this.memory !== undefined) return Promise.resolve(this.memory.latestSync(this.key(channel)))
    const seen = this.seen.get(channel)
    if (seen !== undefined) return Promise.resolve({ epoch: seen.epoch, offset: seen.last })
    return this.store.latest(this.key(channel)).then((latest) => {
      this.seed(channel, latest)
      return latest
    })
  }

  /**
   * All or nothing (see store.ts), shared by the clients recovering from the same position: a
   * result is reused only while it reaches what this process delivered last, so a client that
   * joins it misses nothing published in between.
   */
  recover (channel: string, since: Position): Promise<Recovered> {
    const id = `${channel}\n${since.epoch}\n${since.offset}`
    const shared = this.#recoveries.get(id)
    const mark = this.#mark(channel)
    if (shared === undefined || performance.now() - shared.at > RECOVERY_SHARE_MS || mark === undefined) return this.#recover(id, channel, since)
    return shared.result.then((result) => reaches(result.latest, mark) ? result : this.#recover(id, channel, since))
  }

  /** Remembers a position read from the store, unless the engine already told more. */
  seed (channel: string, position: Position): void {
    if (this.memory !== undefined || this.seen.has(channel) || !this.#subscribed(channel)) return
    this.track(channel, { epoch: position.epoch, last: position.offset, delivered: false, held: null, lastMessage: undefined, lastPassed: false })
  }

  track (channel: string, seen: Seen): void {
    if (this.seen.size >= SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value!)
    this.seen.set(channel, seen)
  }

  close (): Promise<void> {
    this.seen.clear()
    this.#recoveries.clear()
    return this.store.close()
  }

  // What a shared result must reach: the latest position delivered here.
  #mark (channel: string): Position | undefined {
    if (this.memory !== undefined) return this.memory.latestSync(this.key(channel))
    const seen = this.seen.get(channel)
    return seen === undefined ? undefined : { epoch: seen.epoch, offset: seen.last }
  }

  #recover (id: string, channel: string, since: Position): Promise<Recovered> {
    const result = recover(this.store, this.key(channel), since).then(({ recovered, messages, latest }) => {
      this.seed(channel, latest)
      return { recovered, messages: messages.map((entry) => atPosition(channel, entry, latest.epoch)), latest }
    })
    if (this.#recoveries.size >= RECOVERIES_LIMIT) this.#recoveries.delete(this.#recoveries.keys().next().value!)
    this.#recoveries.delete(id)
    this.#recoveries.set(id, { at: performance.now(), result })
    result.catch(() => { if (this.#recoveries.get(id)?.result === result) this.#recoveries.delete(id) })
    return result
  }
}

/** A stored message as a message of its channel, with its position. */
export function atPosition (channel: string, entry: HistoryEntry, epoch: string): PubSubMessage {
  return new PubSubMessage(channel, entry.kind, entry.data, { epoch, offset: entry.offset })
}

function reaches (latest: Position, mark: Position): boolean {
  return latest.epoch === mark.epoch && latest.offset >= mark.offset
}
