// The Redis presence store. Each process keeps its own entries in memory too, writes each
// change to Redis (a Lua script per channel, atomic with the channel's counters) and sends it
// to the others; every ttl/3 it refreshes ONE heartbeat (a zset score on Redis's clock), in one
// round trip whatever its number of entries. A process whose heartbeat is older than ttl is
// dead: one survivor (a short lock) removes its entries and sends the leaves. A heartbeat that
// finds us missing (Redis restarted, or we were taken for dead) re-writes all our entries.
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { Entries, Listeners } from './entries.js'
import { addMeta, emptyState, listedMeta } from './state.js'
import { capturePresenceMeta, checkPresenceKey } from './validate.js'
import { decodeChanges, redisTransport, type PresenceTransport } from './transport.js'
import { Outgoing } from './outgoing.js'
import { PresenceKeys, defineScripts, encodeEntry, stateOf, type ScriptPipeline, type WithScripts } from './redis-scripts.js'
import { Batch, type Reply } from './redis-batch.js'
import { cleanUp, type Cleaner } from './redis-cleanup.js'
import { closeConnections, connect, noop, whenReady, within } from './redis-connection.js'
import type { PresenceChange, PresenceCount, PresenceListener, PresenceLog, PresenceState, PresenceStore } from './store.js'

export interface RedisPresenceOptions {
  /** Redis URL or ioredis options. */
  redis: string | RedisOptions
  /** Namespace of every key and Redis channel, e.g. `plezi:presence:<appName>:`. */
  prefix: string
  /** Milliseconds after which a silent process's entries are removed (default 30000). */
  ttl?: number
  /** How changes reach other processes; default: Redis pub/sub on a connection of the store's own. */
  transport?: PresenceTransport
  log: PresenceLog
  /** Upper bound (ms) on close() while Redis does not answer (default 2000). */
  closeTimeout?: number
  processId?: string
}

export interface RedisPresenceStats {
  /** Heartbeats that reached Redis: one round trip each, whatever the number of entries. */
  refreshes: number
  /** Round trips of heartbeats, clean-ups and re-writes (not of track/untrack/list). */
  roundTrips: number
  /** Times this process re-wrote all its entries. */
  resyncs: number
  /** Dead processes this one cleaned up, and their entries. */
  cleanups: number
  cleanedEntries: number
}

export const DEFAULT_PRESENCE_TTL = 30_000
const DEAD_PER_REFRESH = 16

// Writes must keep their order and survive an outage: no retry limit, the offline queue on.
const COMMAND_CONNECTION: RedisOptions = { maxRetriesPerRequest: null }

/** Emits 'refresh' ({ resynced, dead }), 'cleanup' ({ processId, entries }) and 'resync'. */
export class RedisPresenceStore extends EventEmitter implements PresenceStore {
  readonly processId: string
  readonly ttl: number
  readonly stats: RedisPresenceStats = { refreshes: 0, roundTrips: 0, resyncs: 0, cleanups: 0, cleanedEntries: 0 }
  readonly #cmd: WithScripts<Redis>
  /** Every command goes through it: one pipeline per turn, one order. */
  readonly #batch: Batch
  readonly #sub: Redis | undefined
  readonly #transport: PresenceTransport
  readonly #keys: PresenceKeys
  readonly #entries = new Entries()
  readonly #listeners: Listeners
  readonly #log: PresenceLog
  readonly #closeTimeout: number
  readonly #started: Promise<void>
  /** Transport subscriptions, one per channel with listeners. */
  readonly #remote = new Map<string, Promise<() => void>>()
  /** Writes whose change is not yet published (close waits for them). */
  readonly #writes = new Set<Promise<void>>()
  readonly #cleaner: Cleaner
  readonly #outgoing: Outgoing
  #timer: NodeJS.Timeout | undefined
  #registered = false
  #beating = false
  #cleaning = false
  #resyncQueued = false
  #down = false
  #closing: Promise<void> | undefined
  #beatChecked: Promise<Reply[]> | undefined

  constructor (opts: RedisPresenceOptions) {
    super()
    this.processId = opts.processId ?? randomBytes(9).toString('base64url')
    // It is part of key names: no hash-tag braces, no separators.
    if (!/^[\w-]{1,64}$/.test(this.processId)) throw new TypeError(`presence processId must be 1 to 64 letters, digits, _ or -, received ${JSON.stringify(this.processId)}`)
    this.ttl = opts.ttl ?? DEFAULT_PRESENCE_TTL
    if (!Number.isFinite(this.ttl) || this.ttl < 30) throw new TypeError(`presence ttl must be at least 30 ms, received ${String(opts.ttl)}`)
    this.#log = opts.log
    this.#closeTimeout = opts.closeTimeout ?? 2000
    this.#keys = new PresenceKeys(opts.prefix)
    this.#listeners = new Listeners(opts.log)
    this.#cmd = defineScripts(connect(opts.redis, COMMAND_CONNECTION))
    this.#cmd.on('error', (err: Error) => { this.#connectionError(err) })
    this.#cmd.on('ready', () => { this.#connectionUp() })
    this.#batch = new Batch(this.#cmd)
    const batch = this.#batch
    if (opts.transport === undefined) {
      this.#sub = connect(opts.redis, {})
      this.#sub.on('error', noop) // reported through the command connection
      this.#transport = redisTransport((name, payload) => batch.values((p) => p.publish(name, payload)), this.#sub, opts.prefix)
    } else {
      this.#transport = opts.transport
    }
    this.#outgoing = new Outgoing(this.processId, this.#transport, this.#log)
    this.#cleaner = {
      batch,
      keys: this.#keys,
      processId: this.processId,
      ttl: this.ttl,
      stats: this.stats,
      log: this.#log,
      report: async (changes) => {
        for (const change of changes) this.#listeners.emit(change)
        await Promise.all(changes.map((change) => this.#publish(change)))
      },
      cleaned: (processId, entries) => { this.emit('cleanup', { processId, entries }) }
    }
    this.#started = this.#start()
    this.#started.catch(noop) // ready() reports it
  }

  get local (): { channels: number, entries: number } {
    return { channels: this.#entries.channelCount, entries: this.#entries.size }
  }

  ready (): Promise<void> {
    return this.#started
  }

  track (channel: string, conn: string, key: string, meta?: unknown): Promise<void> {
    checkPresenceKey(key)
    const captured = capturePresenceMeta(meta)
    if (this.#closing !== undefined) return Promise.resolve()
    const firstHere = !this.#entries.has(channel)
    const change = this.#entries.set(channel, conn, { key, ...captured })
    if (change === undefined) return Promise.resolve()
    this.#listeners.emit(change)
    const k = this.#keys.channel(channel, this.processId)
    this.#beatWithTracks()
    const sent = this.#batch.add((p) => {
      p.plzPresenceTrack(k.own, k.keys, k.pids, conn, encodeEntry(key, captured.json), key, this.processId)
      if (firstHere) p.sadd(this.#keys.proc(this.processId), channel)
    })
    return this.#written(sent, [change])
  }

  untrack (channel: string, conn: string): Promise<void> {
    const change = this.#entries.delete(channel, conn)
    if (change === undefined) return Promise.resolve()
    this.#listeners.emit(change)
    return this.#written(this.#batch.add((p) => { this.#untrackInto(p, channel, conn) }), [change])
  }

  untrackAll (conn: string): Promise<void> {
    const changes: PresenceChange[] = []
    for (const channel of this.#entries.channelsOf(conn)) {
      const change = this.#entries.delete(channel, conn)!
      this.#listeners.emit(change)
      changes.push(change)
    }
    if (changes.length === 0) return Promise.resolve()
    const sent = this.#batch.add((p) => { for (const { channel } of changes) this.#untrackInto(p, channel, conn) })
    return this.#written(sent, changes)
  }

  async list (channel: string): Promise<PresenceState> {
    this.#checkAnswering()
    const k = this.#keys.channel(channel, this.processId)
    const [flat] = await this.#batch.values((p) => p.plzPresenceList(k.pids, k.procPrefix))
    return stateOf(flat as string[])
  }

  async count (channel: string): Promise<PresenceCount> {
    this.#checkAnswering()
    const k = this.#keys.channel(channel, this.processId)
    const [[keys, connections]] = await this.#batch.values((p) => p.plzPresenceCount(k.keys, k.pids, k.procPrefix)) as Array<[number, number]>
    return { keys, connections }
  }

  async subscribe (channel: string, listener: PresenceListener): Promise<() => void> {
    if (this.#closing !== undefined) throw new Error('presence store is closed')
    const own: PresenceListener = (change) => { listener(change) }
    this.#listeners.add(channel, own)
    let remote = this.#remote.get(channel)
    if (remote === undefined) {
      remote = this.#transport.subscribe(channel, (payload) => { this.#receive(channel, payload) })
      this.#remote.set(channel, remote)
    }
    const stop = (): void => {
      if (!this.#listeners.remove(channel, own)) return
      const last = this.#remote.get(channel)
      this.#remote.delete(channel)
      last?.then((unsubscribe) => { unsubscribe() }, noop)
    }
    try {
      await remote
    } catch (err) {
      stop()
      throw err
    }
    return stop
  }

  close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #start (): Promise<void> {
    await Promise.all([whenReady(this.#cmd), this.#sub === undefined ? undefined : whenReady(this.#sub)])
    if (this.#closing !== undefined) return
    await this.#refresh()
    if (!this.#registered) throw new Error('presence: the first heartbeat did not reach Redis')
    if (this.#closing !== undefined) return // closed while the first heartbeat was out: no timer
    this.#timer = setInterval(() => { void this.#refresh() }, Math.max(10, Math.floor(this.ttl / 3)))
    this.#timer.unref()
  }

  /** The commands of an untrack whose entry is already gone from this.#entries. */
  #untrackInto (p: ScriptPipeline, channel: string, conn: string): void {
    const k = this.#keys.channel(channel, this.processId)
    p.plzPresenceUntrack(k.own, k.keys, k.pids, conn, this.processId)
    if (!this.#entries.has(channel)) p.srem(this.#keys.proc(this.processId), channel)
  }

  // A heartbeat ahead of each turn's tracks: an entry never sits in Redis without one (nobody
  // would clean it up), and finding ourselves missing means our entries may be gone: re-write.
  #beatWithTracks (): void {
    const first = this.#batch.once('beat', (p) => p.plzPresenceBeat(this.#keys.procs, this.processId, this.ttl, 0))
    if (this.#beatChecked === first) return
    this.#beatChecked = first
    first.then(([[err, reply]]) => {
      if (err === null && (reply as [number])[0] === 1 && this.#registered) this.#queueResync()
    }, noop)
  }

  // Sends after the write reached Redis, so whoever hears the change can list it. Never rejects.
  #written (sent: Promise<Reply[]>, changes: PresenceChange[]): Promise<void> {
    const done = sent.then(async (results) => {
      const failed = results.find(([err]) => err !== null)?.[0]
      if (failed) throw failed
      await Promise.all(changes.map((change) => this.#publish(change)))
    }).catch((err: unknown) => {
      if (this.#closing !== undefined) return
      this.#log.warn({ err }, 'presence: a write to Redis failed; re-writing this process\'s entries')
      this.#queueResync()
    }).finally(() => { this.#writes.delete(done) })
    this.#writes.add(done)
    return done
  }

  #publish (change: PresenceChange): Promise<void> {
    return this.#outgoing.send(change)
  }

  #receive (channel: string, payload: string): void {
    const decoded = decodeChanges(channel, payload)
    if (decoded === undefined) {
      this.#log.warn({ channel }, 'presence: malformed change from another process dropped')
      return
    }
    if (decoded.origin === this.processId) return
    for (const change of decoded.changes) this.#listeners.emit(change)
  }

  async #refresh (): Promise<void> {
    if (this.#beating || this.#cmd.status !== 'ready' || (this.#closing !== undefined && this.#registered)) return
    this.#beating = true
    let resynced: boolean
    let others: string[]
    try {
      const [[added, dead]] = await this.#batch.values((p) => p.plzPresenceBeat(this.#keys.procs, this.processId, this.ttl, DEAD_PER_REFRESH)) as Array<[number, string[]]>
      this.stats.refreshes++
      this.stats.roundTrips++
      resynced = added === 1 && this.#registered
      this.#registered = true
      if (resynced) await this.#resync()
      others = dead.filter((pid) => pid !== this.processId)
    } catch (err) {
      this.#log.warn({ err }, 'presence: refresh failed')
      return
    } finally {
      this.#beating = false
    }
    // Cleaning up after dead processes may take many round trips: the next heartbeats go out
    // meanwhile (a long clean-up must not make this process look dead too), one clean-up at a time.
    if (others.length > 0 && !this.#cleaning) {
      this.#cleaning = true
      try {
        await cleanUp(this.#cleaner, others)
      } catch (err) {
        this.#log.warn({ err }, 'presence: cleaning up after a dead process failed')
      } finally {
        this.#cleaning = false
      }
    }
    this.emit('refresh', { resynced, dead: others })
  }

  #queueResync (): void {
    if (this.#resyncQueued || this.#closing !== undefined) return
    this.#resyncQueued = true
    queueMicrotask(() => {
      this.#resyncQueued = false
      this.#resync().catch((err: unknown) => { this.#log.warn({ err }, 'presence: re-writing entries failed') })
    })
  }

  // Built from the entries as they are now (synchronously): later writes queue behind it.
  async #resync (): Promise<void> {
    this.stats.resyncs++
    const pid = this.processId
    const changes: PresenceChange[] = []
    const sent = this.#batch.values((p) => {
      p.plzPresenceBeat(this.#keys.procs, pid, this.ttl, 0)
      for (const [channel, conns] of this.#entries.channels()) {
        p.sadd(this.#keys.proc(pid), channel)
        const k = this.#keys.channel(channel, pid)
        const joins = emptyState()
        for (const [conn, e] of conns) {
          p.plzPresenceTrack(k.own, k.keys, k.pids, conn, encodeEntry(e.key, e.json), e.key, pid)
          addMeta(joins, e.key, listedMeta(e.meta, conn))
        }
        changes.push({ channel, joins, leaves: emptyState() })
      }
    })
    await sent
    this.stats.roundTrips++
    // Others may have sent leaves for them (we were taken for dead): join again.
    await Promise.all(changes.map((change) => this.#publish(change)))
    this.emit('resync', { channels: changes.length })
  }

  async #shutdown (): Promise<void> {
    clearInterval(this.#timer)
    const leaves = this.#entries.drain()
    for (const change of leaves) this.#listeners.emit(change)
    if (this.#cmd.status === 'ready') {
      await within(this.#removeOwn(leaves), this.#closeTimeout)
    }
    for (const remote of this.#remote.values()) remote.then((unsubscribe) => { unsubscribe() }, noop)
    this.#remote.clear()
    await closeConnections(this.#sub === undefined ? [this.#cmd] : [this.#cmd, this.#sub], this.#closeTimeout)
  }

  // Graceful: our entries go at once (not after ttl), after the writes still in flight.
  async #removeOwn (leaves: PresenceChange[]): Promise<void> {
    await Promise.allSettled([...this.#writes])
    const pid = this.processId
    try {
      await this.#batch.values((p) => {
        for (const { channel } of leaves) {
          const k = this.#keys.channel(channel, pid)
          p.plzPresenceDrop(k.own, k.keys, k.pids, pid)
        }
        p.del(this.#keys.proc(pid)).zrem(this.#keys.procs, pid)
      })
      await Promise.all(leaves.map((change) => this.#publish(change)))
    } catch (err) {
      this.#log.warn({ err }, 'presence: could not remove this process\'s entries at close; others remove them after ttl')
    }
  }

  #checkAnswering (): void {
    if (this.#closing !== undefined) throw new Error('presence store is closed')
    if (this.#cmd.status !== 'ready') throw new Error(`presence: Redis is not connected (${this.#cmd.status})`)
  }

  #connectionError (err: Error): void {
    if (this.#down || this.#closing !== undefined) return
    this.#down = true
    this.#log.error({ err }, 'presence: Redis connection error; changes wait for the reconnect')
  }

  #connectionUp (): void {
    if (this.#down) this.#log.info('presence: Redis reconnected')
    this.#down = false
    // Redis may have restarted empty: the heartbeat tells, and re-writes if so.
    if (this.#registered) void this.#refresh()
  }
}
