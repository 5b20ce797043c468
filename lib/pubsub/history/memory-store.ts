// In-process history: a ring of `size` messages per channel. Each channel gets its epoch when it
// is first seen (random per store, so every start is a new epoch). Its messages are dropped `ttl`
// ms after its last publish, but its position (epoch, latest offset) is kept `metaTtl` ms after
// its last use, so offsets never restart within an epoch and an up-to-date client still
// recovers after a quiet spell. Expiry is checked on every access, and one unref'd sweep
// reclaims what nobody touches; no timer per channel.
import {
  IdSource, checkRead, resolveLimits, toHistoryData,
  type HistoryData, type HistoryEntry, type HistoryLimits, type HistoryPage, type HistoryStore, type Position, type ReadOptions, type ResolvedLimits
} from './store.js'
import { checkChannel } from '../channel.js'
import { PLZ_ERR_OPTION } from '../../errors.js'

export interface MemoryHistoryStoreOptions extends HistoryLimits {
  /** How often (ms) channels nobody touches are reclaimed; default `ttl` within 1 s … 60 s. */
  sweepInterval?: number
  /** A monotonic clock in ms (tests pass their own); default `performance.now`. */
  now?: () => number
}

interface ChannelHistory {
  readonly epoch: string
  /** The latest offset: 0 until the first append. */
  top: number
  /** The held messages, offsets `top - ring.length + 1` … `top`; the oldest at `start`. */
  ring: HistoryEntry[]
  start: number
  lastPublish: number
  lastUse: number
}

export class MemoryHistoryStore implements HistoryStore {
  readonly limits: ResolvedLimits
  readonly #channels = new Map<string, ChannelHistory>()
  readonly #epochs = new IdSource()
  readonly #now: () => number
  readonly #timer: NodeJS.Timeout
  #closed = false

  constructor (options: MemoryHistoryStoreOptions = {}) {
    this.limits = resolveLimits(options)
    this.#now = options.now ?? (() => performance.now())
    const every = options.sweepInterval ?? Math.min(Math.max(this.limits.ttl, 1000), 60_000)
    if (!Number.isInteger(every) || every < 1) throw new PLZ_ERR_OPTION('history.sweepInterval', `must be an integer ≥ 1, received ${String(every)}`)
    this.#timer = setInterval(() => { this.sweep() }, every).unref()
  }

  ready (): Promise<void> {
    return this.#closed ? closed() : Promise.resolve()
  }

  append (channel: string, message: HistoryData): Promise<Position> {
    checkChannel(channel, 'history')
    const data = toHistoryData(message)
    if (this.#closed) return closed()
    return Promise.resolve(this.#append(channel, data))
  }

  /** append() without the promise: the position is known at the call (for in-order local delivery). */
  appendSync (channel: string, message: HistoryData): Position {
    checkChannel(channel, 'history')
    const data = toHistoryData(message)
    if (this.#closed) throw closedError()
    return this.#append(channel, data)
  }

  read (channel: string, options?: ReadOptions): Promise<HistoryPage> {
    checkChannel(channel, 'history')
    const { since, limit } = checkRead(options, this.limits.size)
    if (this.#closed) return closed()
    const history = this.#touch(channel)
    const { epoch, top, ring } = history
    const oldest = top - ring.length + 1
    const first = Math.max(oldest, since === undefined ? top - limit + 1 : since + 1)
    const last = since === undefined ? top : Math.min(top, first + limit - 1)
    const messages: HistoryEntry[] = []
    for (let offset = first; offset <= last; offset++) messages.push(ring[(history.start + offset - oldest) % ring.length])
    return Promise.resolve({ epoch, offset: top, messages })
  }

  latest (channel: string): Promise<Position> {
    checkChannel(channel, 'history')
    if (this.#closed) return closed()
    return Promise.resolve(this.latestSync(channel))
  }

  /** latest() without the promise. */
  latestSync (channel: string): Position {
    checkChannel(channel, 'history')
    if (this.#closed) throw closedError()
    const { epoch, top } = this.#touch(channel)
    return { epoch, offset: top }
  }

  /** Drops now what expired: the messages `ttl` after the last publish, the channel `metaTtl` after its last use. */
  sweep (): void {
    const now = this.#now()
    for (const [channel, history] of this.#channels) this.#expire(channel, history, now)
  }

  /** What the store holds, to check its memory bound. */
  /** Channels held (with messages, or a position only). */
  get channelCount (): number {
    return this.#channels.size
  }

  stats (): { channels: number, messages: number } {
    let messages = 0
    for (const history of this.#channels.values()) messages += history.ring.length
    return { channels: this.#channels.size, messages }
  }

  close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#channels.clear()
    return Promise.resolve()
  }

  #append (channel: string, data: HistoryData): Position {
    const history = this.#touch(channel)
    const entry: HistoryEntry = Object.freeze({ offset: ++history.top, kind: data.kind, data: data.data })
    const { ring } = history
    if (ring.length < this.limits.size) {
      ring.push(entry)
    } else {
      ring[history.start] = entry
      history.start = (history.start + 1) % ring.length
    }
    history.lastPublish = history.lastUse
    return { epoch: history.epoch, offset: entry.offset }
  }

  // The channel's live history, created (with a new epoch) when it was never seen or expired.
  #touch (channel: string): ChannelHistory {
    const now = this.#now()
    let history = this.#channels.get(channel)
    if (history === undefined || !this.#expire(channel, history, now)) {
      history = { epoch: this.#epochs.next(), top: 0, ring: [], start: 0, lastPublish: now, lastUse: now }
      this.#channels.set(channel, history)
    }
    history.lastUse = now
    return history
  }

  // False when the whole channel is gone.
  #expire (channel: string, history: ChannelHistory, now: number): boolean {
    if (now - history.lastUse >= this.limits.metaTtl) {
      this.#channels.delete(channel)
      return false
    }
    if (history.ring.length > 0 && now - history.lastPublish >= this.limits.ttl) {
      history.ring = []
      history.start = 0
    }
    return true
  }
}

function closedError (): Error {
  return new Error('fastify-plezi: the history store is closed')
}

function closed (): Promise<never> {
  return Promise.reject(closedError())
}
