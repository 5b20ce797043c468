// Redis history: per channel a meta hash (epoch, latest offset) and a stream trimmed to `size`
// whose entry ids are the offsets, `<prefix>{<channel>}:meta` and `…:stream` (one hash tag, so
// one Redis Cluster slot). Offsets are assigned inside Redis by one script that also publishes,
// so every process sees one order. See docs/history-design.md.
import { Redis, type RedisOptions } from 'ioredis'
import { PUBLISH_CONNECTION, closeConnections, whenReady } from '../engine.js'
import { PLZ_ERR_OPTION } from '../../errors.js'
import { appendScript, readScript } from './redis-scripts.js'
import {
  IdSource, checkRead, resolveLimits, toHistoryData,
  type HistoryData, type HistoryEntry, type HistoryKind, type HistoryLimits, type HistoryPage, type HistoryStore, type Position, type ReadOptions, type ResolvedLimits
} from './store.js'
import { checkChannel } from '../channel.js'

export interface HistoryPublish {
  /** The mqemitter-redis topic of a channel is `topicPrefix + channel` (PubSub: `<appName>/`). */
  topicPrefix: string
  /** Carried in the packet as `origin`, so the publishing PubSub can drop its own echo. */
  origin: string
}

export interface RedisHistoryStoreOptions extends HistoryLimits {
  /**
   * An ioredis client to share — the engine's publish connection, so that history and other
   * publishes of this process keep one order; close() leaves it open — or a URL / ioredis
   * options for a connection of the store's own, which fails fast while Redis is down.
   */
  redis: Redis | string | RedisOptions
  /** Start of every key; no braces (they would move the hash tag). Default `plezi:history:`. */
  prefix?: string
  /** Publish each appended message, with its epoch and offset, as an mqemitter-redis packet. */
  publish?: HistoryPublish
  /** Errors of the store's own connection (ioredis reports each failed reconnect). */
  onError?: (err: Error) => void
  /** Upper bound (ms) on closing its own connection while Redis is down; default 2000. */
  closeTimeout?: number
}

export class RedisHistoryStore implements HistoryStore {
  readonly limits: ResolvedLimits
  readonly prefix: string
  readonly #conn: Redis
  readonly #owned: boolean
  readonly #publish: HistoryPublish | undefined
  readonly #closeTimeout: number
  readonly #ids = new IdSource()
  #closed = false

  constructor (options: RedisHistoryStoreOptions) {
    this.limits = resolveLimits(options)
    const prefix = options.prefix ?? 'plezi:history:'
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
      throw new PLZ_ERR_OPTION('history.prefix', 'must be a string without "{" or "}"')
    }
    this.prefix = prefix
    this.#publish = options.publish
    this.#closeTimeout = options.closeTimeout ?? 2000
    const { redis } = options
    this.#owned = !(redis instanceof Redis)
    if (redis instanceof Redis) {
      this.#conn = redis
    } else {
      this.#conn = typeof redis === 'string' ? new Redis(redis, PUBLISH_CONNECTION) : new Redis({ ...redis, ...PUBLISH_CONNECTION })
      this.#conn.on('error', options.onError ?? noop)
    }
  }

  /** The keys of one channel. */
  keys (channel: string): { meta: string, stream: string } {
    const tagged = `${this.prefix}{${channel}}`
    return { meta: `${tagged}:meta`, stream: `${tagged}:stream` }
  }

  async ready (): Promise<void> {
    if (this.#closed) throw closedError()
    await whenReady(this.#conn)
    await Promise.all([appendScript.load(this.#conn), readScript.load(this.#conn)])
  }

  append (channel: string, message: HistoryData): Promise<Position> {
    checkChannel(channel, 'history')
    const { kind, data } = toHistoryData(message)
    if (this.#closed) return Promise.reject(closedError())
    const { meta, stream } = this.keys(channel)
    const { size, ttl, metaTtl } = this.limits
    const publish = this.#publish
    const args = publish === undefined
      ? [kind, data, size, ttl, metaTtl, this.#ids.next(), '', '', '']
      : [kind, data, size, ttl, metaTtl, this.#ids.next(), publish.topicPrefix + channel, this.#ids.next(), publish.origin]
    return appendScript.run(this.#conn, [meta, stream], args).then(toPosition)
  }

  read (channel: string, options?: ReadOptions): Promise<HistoryPage> {
    checkChannel(channel, 'history')
    const { since, limit } = checkRead(options, this.limits.size)
    return this.#read(channel, since, limit)
  }

  latest (channel: string): Promise<Position> {
    checkChannel(channel, 'history')
    return this.#read(channel, undefined, 0).then(({ epoch, offset }) => ({ epoch, offset }))
  }

  /**
   * The latest positions of many channels in one round trip (one pipeline of HMGET, no script,
   * no TTL refreshed): null for a channel whose meta hash is gone. Rejects when Redis cannot
   * answer; one failed command fails the whole read.
   */
  async positions (channels: readonly string[]): Promise<Array<Position | null>> {
    if (this.#closed) throw closedError()
    const pipeline = this.#conn.pipeline()
    for (const channel of channels) pipeline.hmget(this.keys(channel).meta, 'e', 's')
    const replies = (await pipeline.exec())!
    return replies.map(([err, reply]) => {
      if (err) throw err
      const [epoch, offset] = reply as [string | null, string | null]
      return epoch === null ? null : { epoch, offset: Number(offset ?? 0) }
    })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#owned) await closeConnections([this.#conn], this.#closeTimeout)
  }

  #read (channel: string, since: number | undefined, limit: number): Promise<HistoryPage> {
    if (this.#closed) return Promise.reject(closedError())
    const { meta, stream } = this.keys(channel)
    const args = [since === undefined ? '' : since, limit, this.limits.metaTtl, this.#ids.next(), this.limits.size]
    return readScript.run(this.#conn, [meta, stream], args).then(toPage)
  }
}

function toPosition (reply: unknown): Position {
  const [offset, epoch] = reply as [number, string]
  return { epoch, offset }
}

function toPage (reply: unknown): HistoryPage {
  const values = reply as [string, number, ...Array<number | string>]
  const messages: HistoryEntry[] = []
  for (let i = 2; i < values.length; i += 3) {
    messages.push({ offset: values[i] as number, kind: values[i + 1] as HistoryKind, data: values[i + 2] as string })
  }
  return { epoch: values[0], offset: values[1], messages }
}

function closedError (): Error {
  return new Error('fastify-plezi: the history store is closed')
}

function noop (): void {}
