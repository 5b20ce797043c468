// Live presence for subscribers: one `_presence_` state each, then the changes of the channel
// coalesced into one `_presence_diff_` per interval, its frame built once for all of them.
//
// Never a diff before the state, and nothing lost between them: a new subscriber's changes are
// logged from the moment it asks, its state is the store's list plus that log, and only then
// does it get diffs.
//
// A diff carries the last state of each connection touched in the interval (a join of its
// meta, or a leave), so a join and leave of one connection cost one entry, an update one join.
// It never drops a join+leave pair altogether: a subscriber's state can already hold a join
// that reaches this process later (another process wrote it before our list read it, and its
// message arrives after), and only the leave tells that subscriber it is gone. Every entry is
// idempotent for a client that applies leaves, then joins, by connection.
import { diffFrame, stateFrame, type PresenceDiff } from './frames.js'
import { addMeta, applyChange, emptyState, isEmptyState } from './state.js'
import type { ListedMeta, PresenceChange, PresenceLog, PresenceStore } from './store.js'

export const DEFAULT_PRESENCE_INTERVAL = 100

/** The changes of one channel since the last flush, per key and connection. */
export class ChannelDiff {
  /** key → conn → the meta now (null: gone) and the last meta seen. */
  readonly #slots = new Map<string, Map<string, { now: ListedMeta | null, last: ListedMeta }>>()

  get empty (): boolean {
    return this.#slots.size === 0
  }

  /** Applies a change: leaves first, then joins, as clients do. */
  add (change: PresenceChange): void {
    for (const key in change.leaves) for (const meta of change.leaves[key].metas) this.#set(key, meta, null)
    for (const key in change.joins) for (const meta of change.joins[key].metas) this.#set(key, meta, meta)
  }

  /** The last state of every connection touched. */
  diff (): PresenceDiff {
    const diff = { joins: emptyState(), leaves: emptyState() }
    for (const [key, conns] of this.#slots) {
      for (const slot of conns.values()) {
        if (slot.now !== null) addMeta(diff.joins, key, slot.now)
        else addMeta(diff.leaves, key, slot.last)
      }
    }
    return diff
  }

  clear (): void {
    this.#slots.clear()
  }

  #set (key: string, meta: ListedMeta, now: ListedMeta | null): void {
    let conns = this.#slots.get(key)
    if (conns === undefined) this.#slots.set(key, conns = new Map())
    conns.set(meta.conn, { now, last: meta })
  }
}

export function isEmptyDiff (diff: PresenceDiff): boolean {
  return isEmptyState(diff.joins) && isEmptyState(diff.leaves)
}

export interface PresenceFeedOptions<S> {
  store: PresenceStore
  /** Milliseconds changes of one channel are gathered into one diff (default 100). */
  interval?: number
  /** Writes one frame, built once, to each of `subscribers`. */
  write: (subscribers: readonly S[], frame: string) => void
  log?: PresenceLog
}

interface Room<S> {
  readonly channel: string
  /** Have their state: get the diffs. */
  readonly live: Set<S>
  /** Waiting for their state, each with where its part of the log starts. */
  readonly pending: Map<S, { from: number }>
  log: PresenceChange[]
  readonly diff: ChannelDiff
  timer: NodeJS.Timeout | undefined
  readonly subscribed: Promise<() => void>
}

/** Presence subscribers of every channel, fed from one store. `S` is whatever `write` takes. */
export class PresenceFeed<S> {
  readonly #store: PresenceStore
  readonly #interval: number
  readonly #write: (subscribers: readonly S[], frame: string) => void
  readonly #log: PresenceLog | undefined
  readonly #rooms = new Map<string, Room<S>>()
  #closed = false

  constructor (opts: PresenceFeedOptions<S>) {
    this.#store = opts.store
    this.#interval = opts.interval ?? DEFAULT_PRESENCE_INTERVAL
    this.#write = opts.write
    this.#log = opts.log
  }

  /**
   * Sends `sub` the state of `channel`, then its diffs; resolves once the state was written.
   * Subscribing `sub` again sends a fresh state (an earlier call still waiting gives way).
   * Rejects, leaving `sub` unsubscribed, when the store cannot list or the write throws.
   */
  async subscribe (channel: string, sub: S): Promise<void> {
    if (this.#closed) throw new Error('presence feed is closed')
    const room = this.#rooms.get(channel) ?? this.#open(channel)
    room.live.delete(sub)
    const mark = { from: room.log.length }
    room.pending.set(sub, mark)
    try {
      await room.subscribed
      const state = await this.#store.list(channel)
      if (room.pending.get(sub) !== mark) return // unsubscribed (or subscribed again) meanwhile
      for (let i = mark.from; i < room.log.length; i++) applyChange(state, room.log[i])
      this.#write([sub], stateFrame(channel, state))
      room.pending.delete(sub)
      if (room.pending.size === 0) room.log = []
      room.live.add(sub)
    } catch (err) {
      if (room.pending.get(sub) === mark) this.unsubscribe(channel, sub)
      throw err
    }
  }

  unsubscribe (channel: string, sub: S): void {
    const room = this.#rooms.get(channel)
    if (room === undefined) return
    room.live.delete(sub)
    room.pending.delete(sub)
    if (room.pending.size === 0) room.log = []
    if (room.live.size + room.pending.size === 0) this.#release(room)
  }

  /** Channels with presence subscribers (for tests and metrics). */
  get channels (): number {
    return this.#rooms.size
  }

  close (): void {
    this.#closed = true
    for (const room of [...this.#rooms.values()]) this.#release(room)
  }

  #open (channel: string): Room<S> {
    const room: Room<S> = {
      channel,
      live: new Set(),
      pending: new Map(),
      log: [],
      diff: new ChannelDiff(),
      timer: undefined,
      subscribed: this.#store.subscribe(channel, (change) => { this.#push(room, change) })
    }
    room.subscribed.catch(noop) // the subscriber that opened the room gets the error
    this.#rooms.set(channel, room)
    return room
  }

  #release (room: Room<S>): void {
    clearTimeout(room.timer)
    if (this.#rooms.get(room.channel) === room) this.#rooms.delete(room.channel)
    room.subscribed.then((stop) => { stop() }, noop)
  }

  #push (room: Room<S>, change: PresenceChange): void {
    if (room.pending.size > 0) room.log.push(change)
    if (room.live.size === 0) return
    room.diff.add(change)
    // Not unref'd: a diff due is work to do; close() clears it.
    room.timer ??= setTimeout(() => { this.#flush(room) }, this.#interval)
  }

  #flush (room: Room<S>): void {
    room.timer = undefined
    const diff = room.diff.diff()
    room.diff.clear()
    if (room.live.size === 0 || isEmptyDiff(diff)) return
    try {
      this.#write([...room.live], diffFrame(room.channel, diff))
    } catch (err) {
      this.#log?.error({ err, channel: room.channel }, 'presence: writing a diff failed')
    }
  }
}

function noop (): void {}
