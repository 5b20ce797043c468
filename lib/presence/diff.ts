// Live presence for subscribers: one `_presence_` state each, then the changes of the channel
// coalesced into one `_presence_diff_` per interval, its frame built once for all of them.
//
// Never a diff before the state, and nothing lost between them: a new subscriber's changes are
// logged from the moment it asks, its state is the store's list plus that log, and only then
// does it get diffs. A subscriber whose state was taken while the interval already had changes
// gets, once, the final state of every connection touched in it (the net diff of the others is
// relative to a state it never had: a join and leave that cancel out would leave it stale).
import { diffFrame, stateFrame, type PresenceDiff } from './frames.js'
import { addMeta, applyChange, emptyState, isEmptyState } from './state.js'
import type { ListedMeta, PresenceChange, PresenceLog, PresenceStore } from './store.js'

export const DEFAULT_PRESENCE_INTERVAL = 100

interface Slot {
  /** The meta before the interval (null: absent), the meta now (null: gone), the last seen. */
  before: ListedMeta | null
  after: ListedMeta | null
  last: ListedMeta
}

/** The changes of one channel since the last flush, netted per key and connection. */
export class ChannelDiff {
  readonly #slots = new Map<string, Map<string, Slot>>()

  get empty (): boolean {
    return this.#slots.size === 0
  }

  /** Applies a change: leaves first, then joins, as clients do. */
  add (change: PresenceChange): void {
    for (const key in change.leaves) for (const meta of change.leaves[key].metas) this.#set(key, meta, null)
    for (const key in change.joins) for (const meta of change.joins[key].metas) this.#set(key, meta, meta)
  }

  /** From the state at the interval's start: a join and leave of one connection cancel out. */
  net (): PresenceDiff {
    const diff = { joins: emptyState(), leaves: emptyState() }
    for (const [key, slot] of this.#each()) {
      if (slot.before !== null && slot.after !== null && sameMeta(slot.before, slot.after)) continue
      if (slot.before !== null) addMeta(diff.leaves, key, slot.before)
      if (slot.after !== null) addMeta(diff.joins, key, slot.after)
    }
    return diff
  }

  /** The final state of every connection touched, right from any state taken in the interval. */
  full (): PresenceDiff {
    const diff = { joins: emptyState(), leaves: emptyState() }
    for (const [key, slot] of this.#each()) {
      if (slot.after !== null) addMeta(diff.joins, key, slot.after)
      else addMeta(diff.leaves, key, slot.last)
    }
    return diff
  }

  clear (): void {
    this.#slots.clear()
  }

  #set (key: string, meta: ListedMeta, after: ListedMeta | null): void {
    let conns = this.#slots.get(key)
    if (conns === undefined) this.#slots.set(key, conns = new Map())
    const slot = conns.get(meta.conn)
    if (slot === undefined) conns.set(meta.conn, { before: after === null ? meta : null, after, last: meta })
    else {
      slot.after = after
      slot.last = meta
    }
  }

  * #each (): IterableIterator<[string, Slot]> {
    for (const [key, conns] of this.#slots) for (const slot of conns.values()) yield [key, slot]
  }
}

function sameMeta (a: ListedMeta, b: ListedMeta): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
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
  /** Had their state before this interval's first change. */
  readonly live: Set<S>
  /** Got their state during this interval: the full form, once. */
  readonly late: Set<S>
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

  /** Sends `sub` the state of `channel`, then its diffs. Resolves once the state was written. */
  async subscribe (channel: string, sub: S): Promise<void> {
    if (this.#closed) throw new Error('presence feed is closed')
    const room = this.#rooms.get(channel) ?? this.#open(channel)
    room.live.delete(sub)
    room.late.delete(sub)
    const mark = { from: room.log.length }
    room.pending.set(sub, mark)
    try {
      await room.subscribed
      const state = await this.#store.list(channel)
      if (room.pending.get(sub) !== mark) return // unsubscribed (or subscribed again) meanwhile
      for (let i = mark.from; i < room.log.length; i++) applyChange(state, room.log[i])
      room.pending.delete(sub)
      if (room.pending.size === 0) room.log = []
      this.#write([sub], stateFrame(channel, state))
      ;(room.diff.empty ? room.live : room.late).add(sub)
    } catch (err) {
      if (room.pending.get(sub) === mark) this.unsubscribe(channel, sub)
      throw err
    }
  }

  unsubscribe (channel: string, sub: S): void {
    const room = this.#rooms.get(channel)
    if (room === undefined) return
    room.live.delete(sub)
    room.late.delete(sub)
    room.pending.delete(sub)
    if (room.pending.size === 0) room.log = []
    if (room.live.size + room.late.size + room.pending.size === 0) this.#release(room)
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
      late: new Set(),
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
    if (room.live.size + room.late.size === 0) return
    room.diff.add(change)
    if (room.timer === undefined) {
      room.timer = setTimeout(() => { this.#flush(room) }, this.#interval)
      room.timer.unref()
    }
  }

  #flush (room: Room<S>): void {
    room.timer = undefined
    try {
      if (room.live.size > 0) {
        const net = room.diff.net()
        if (!isEmptyDiff(net)) this.#write([...room.live], diffFrame(room.channel, net))
      }
      if (room.late.size > 0) {
        const full = room.diff.full()
        const late = [...room.late]
        room.late.clear()
        for (const sub of late) room.live.add(sub)
        if (!isEmptyDiff(full)) this.#write(late, diffFrame(room.channel, full))
      }
    } catch (err) {
      this.#log?.error({ err, channel: room.channel }, 'presence: writing a diff failed')
    } finally {
      room.diff.clear()
    }
  }
}

function noop (): void {}
