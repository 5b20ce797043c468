// The periodic position check (history on Redis). Every `interval` ms, what this process saw of
// the channels it hears is compared with their latest positions in Redis, read for all of them in
// one round trip. It catches messages that history holds but that the subscribe connection never
// delivered and that nothing else reveals: no later message came (its offset would show the skip)
// and the connection never dropped (the probe after a re-subscription would read them). A Redis
// Sentinel failover can do that (centrifugo #1189).
//
// A channel is behind only when a message that history already held at the PREVIOUS check has
// still not arrived: a message in flight between its append and its delivery is never a gap.
import type { PubSubLog } from '../pubsub.js'
import type { Seen } from './history.js'
import type { Position } from './store.js'

/** What the check needs of its PubSub. */
export interface CheckTarget {
  /** What this process saw of each channel it tracks. */
  readonly seen: ReadonlyMap<string, Seen>
  /** The channels' latest positions in the store (null: gone), in one round trip. */
  positions (channels: readonly string[]): Promise<Array<Position | null>>
  /** Whether a channel has subscribers in this process (made once per check). */
  listening (): (channel: string) => boolean
  /** Reads what `seen` misses from history and delivers it, once for all, in order. */
  heal (channel: string, seen: Seen): void
}

/** What the previous check read of a channel, for the tracking `seen` it was compared with. */
interface Mark {
  readonly seen: Seen
  readonly epoch: string
  readonly offset: number
}

export class PositionCheck {
  readonly #target: CheckTarget
  readonly #log: PubSubLog
  readonly #timer: NodeJS.Timeout
  #marks = new Map<string, Mark>()
  /** The store offset each tracking was last healed towards: a gap history cannot fill is read once. */
  readonly #healed = new WeakMap<Seen, number>()
  #running = false
  #failing = false
  #closed = false
  /** Checks that read the store; for tests. */
  reads = 0

  constructor (interval: number, target: CheckTarget, log: PubSubLog) {
    this.#target = target
    this.#log = log
    this.#timer = setInterval(() => { void this.run() }, interval).unref()
  }

  /** One check; a tick that comes while the previous check is still reading is skipped. Never rejects. */
  async run (): Promise<void> {
    if (this.#running || this.#closed) return
    this.#running = true
    try {
      await this.#check()
    } catch (err) {
      this.#log.error({ err }, 'pub/sub: the history position check failed')
    } finally {
      this.#running = false
    }
  }

  close (): void {
    this.#closed = true
    clearInterval(this.#timer)
    this.#marks.clear()
  }

  async #check (): Promise<void> {
    const listening = this.#target.listening()
    const channels: string[] = []
    const tracked: Seen[] = []
    for (const [channel, seen] of this.#target.seen) {
      if (seen.held === null && listening(channel)) {
        channels.push(channel)
        tracked.push(seen)
      }
    }
    if (channels.length === 0) {
      this.#marks.clear()
      return
    }
    this.reads++
    let positions: Array<Position | null>
    try {
      positions = await this.#target.positions(channels)
    } catch (err) {
      if (this.#closed) return
      // Redis is down: the engine logs the outage, and its probe reads what was missed once back.
      this.#log[this.#failing ? 'debug' : 'warn']({ err }, 'pub/sub: the history position check could not read Redis')
      this.#failing = true
      return
    }
    this.#failing = false
    if (this.#closed) return
    const marks = new Map<string, Mark>()
    for (const [i, channel] of channels.entries()) {
      const seen = tracked[i]
      const latest = positions[i]
      // Untracked meanwhile (unsubscribed), or gone from Redis: nothing to compare.
      if (latest === null || this.#target.seen.get(channel) !== seen) continue
      if (latest.epoch !== seen.epoch) {
        // Redis lost the channel; its next message announces the new epoch (recovered: false).
        this.#log.debug({ channel, epoch: seen.epoch, now: latest.epoch }, 'pub/sub: position check: the channel has a new epoch in Redis')
        continue
      }
      marks.set(channel, { seen, epoch: latest.epoch, offset: latest.offset })
      const mark = this.#marks.get(channel)
      if (mark === undefined || mark.seen !== seen || mark.epoch !== seen.epoch || seen.held !== null) continue
      if (seen.last >= mark.offset || (this.#healed.get(seen) ?? 0) >= mark.offset) continue
      this.#healed.set(seen, latest.offset)
      this.#log.info({ channel, from: seen.last, to: latest.offset }, 'pub/sub: position check: history holds messages this process never received (lost upstream); delivering them from history')
      this.#target.heal(channel, seen)
    }
    this.#marks = marks
  }
}
