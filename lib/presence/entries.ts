// The bookkeeping both stores share: entries per channel and connection (all of them in the
// in-process store, this process's own in the Redis store), and listeners per channel.
import { changeOf, emptyState, listedMeta, addMeta } from './state.js'
import type { PresenceChange, PresenceCount, PresenceListener, PresenceLog, PresenceMeta, PresenceState } from './store.js'

export interface Entry {
  readonly key: string
  readonly meta: PresenceMeta
  readonly json: string
}

interface Channel {
  readonly conns: Map<string, Entry>
  /** Connections per key, for counts without a walk. */
  readonly keys: Map<string, number>
}

export class Entries {
  readonly #channels = new Map<string, Channel>()
  readonly #byConn = new Map<string, Set<string>>()
  #size = 0

  /** Entries over every channel, kept as they change (stats are read every second). */
  get size (): number {
    return this.#size
  }

  /** Channels with entries. */
  get channelCount (): number {
    return this.#channels.size
  }

  /** Sets an entry; the change it makes, or undefined when it changes nothing. */
  set (channel: string, conn: string, entry: Entry): PresenceChange | undefined {
    let ch = this.#channels.get(channel)
    if (ch === undefined) this.#channels.set(channel, ch = { conns: new Map(), keys: new Map() })
    const old = ch.conns.get(conn)
    if (old !== undefined && old.key === entry.key && old.json === entry.json) return undefined
    ch.conns.set(conn, entry)
    if (old === undefined) {
      this.#size++
      let channels = this.#byConn.get(conn)
      if (channels === undefined) this.#byConn.set(conn, channels = new Set())
      channels.add(channel)
    }
    if (old?.key !== entry.key) {
      if (old !== undefined) decrement(ch.keys, old.key)
      ch.keys.set(entry.key, (ch.keys.get(entry.key) ?? 0) + 1)
    }
    const left = old === undefined ? undefined : listedMeta(old.meta, conn)
    return changeOf(channel, entry.key, listedMeta(entry.meta, conn), left, old?.key)
  }

  /** Removes an entry; the leave it makes, or undefined when there was none. */
  delete (channel: string, conn: string): PresenceChange | undefined {
    const ch = this.#channels.get(channel)
    const old = ch?.conns.get(conn)
    if (ch === undefined || old === undefined) return undefined
    ch.conns.delete(conn)
    this.#size--
    decrement(ch.keys, old.key)
    if (ch.conns.size === 0) this.#channels.delete(channel)
    const channels = this.#byConn.get(conn)!
    channels.delete(channel)
    if (channels.size === 0) this.#byConn.delete(conn)
    return changeOf(channel, old.key, undefined, listedMeta(old.meta, conn))
  }

  get (channel: string, conn: string): Entry | undefined {
    return this.#channels.get(channel)?.conns.get(conn)
  }

  /** The channels `conn` is tracked on. */
  channelsOf (conn: string): string[] {
    return [...(this.#byConn.get(conn) ?? [])]
  }

  /** Every channel with entries, with its entries by connection. */
  * channels (): IterableIterator<[string, ReadonlyMap<string, Entry>]> {
    for (const [channel, ch] of this.#channels) yield [channel, ch.conns]
  }

  has (channel: string): boolean {
    return this.#channels.has(channel)
  }

  count (channel: string): PresenceCount {
    const ch = this.#channels.get(channel)
    return { keys: ch?.keys.size ?? 0, connections: ch?.conns.size ?? 0 }
  }

  /** A fresh copy of the channel's state (callers may change it). */
  list (channel: string): PresenceState {
    const state = emptyState()
    const ch = this.#channels.get(channel)
    if (ch !== undefined) {
      for (const [conn, entry] of ch.conns) addMeta(state, entry.key, listedMeta(JSON.parse(entry.json) as PresenceMeta, conn))
    }
    return state
  }

  /** All leaves of every entry, channel by channel, and forgets them. */
  drain (): PresenceChange[] {
    const changes: PresenceChange[] = []
    for (const [channel, ch] of this.#channels) {
      const change = changeOf(channel, '', undefined, undefined)
      for (const [conn, entry] of ch.conns) {
        (change.leaves[entry.key] ??= { metas: [] }).metas.push(listedMeta(entry.meta, conn))
      }
      changes.push(change)
    }
    this.#channels.clear()
    this.#byConn.clear()
    this.#size = 0
    return changes
  }
}

function decrement (counts: Map<string, number>, key: string): void {
  const n = counts.get(key)! - 1
  if (n === 0) counts.delete(key)
  else counts.set(key, n)
}

/** Listeners per channel; a listener that throws is logged and the others still run. */
export class Listeners {
  readonly #byChannel = new Map<string, Set<PresenceListener>>()
  readonly #log: PresenceLog | undefined

  constructor (log?: PresenceLog) {
    this.#log = log
  }

  /** Adds a listener; true when it is the channel's first. */
  add (channel: string, listener: PresenceListener): boolean {
    let set = this.#byChannel.get(channel)
    const first = set === undefined
    if (set === undefined) this.#byChannel.set(channel, set = new Set())
    set.add(listener)
    return first
  }

  /** Removes a listener; true when it was the channel's last. */
  remove (channel: string, listener: PresenceListener): boolean {
    const set = this.#byChannel.get(channel)
    if (set === undefined || !set.delete(listener)) return false
    if (set.size > 0) return false
    this.#byChannel.delete(channel)
    return true
  }

  has (channel: string): boolean {
    return this.#byChannel.has(channel)
  }

  emit (change: PresenceChange): void {
    const set = this.#byChannel.get(change.channel)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        listener(change)
      } catch (err) {
        this.#log?.error({ err, channel: change.channel }, 'presence: a listener threw')
      }
    }
  }
}
