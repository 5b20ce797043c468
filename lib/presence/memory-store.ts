// The in-process presence store (with the in-process pub/sub engine): one process, so its
// entries are the whole truth and every change is reported at once.
import { randomBytes } from 'node:crypto'
import { Entries, Listeners } from './entries.js'
import { capturePresenceMeta, checkPresenceKey } from './validate.js'
import type { PresenceChange, PresenceCount, PresenceListener, PresenceLog, PresenceState, PresenceStore } from './store.js'

export interface MemoryPresenceOptions {
  log?: PresenceLog
  processId?: string
}

export class MemoryPresenceStore implements PresenceStore {
  readonly processId: string
  readonly #entries = new Entries()
  readonly #listeners: Listeners
  #closed = false

  constructor (opts: MemoryPresenceOptions = {}) {
    this.processId = opts.processId ?? randomBytes(9).toString('base64url')
    this.#listeners = new Listeners(opts.log)
  }

  get local (): { channels: number, entries: number } {
    return { channels: this.#entries.channelCount, entries: this.#entries.size }
  }

  ready (): Promise<void> {
    return Promise.resolve()
  }

  track (channel: string, conn: string, key: string, meta?: unknown): Promise<void> {
    checkPresenceKey(key)
    const captured = capturePresenceMeta(meta)
    if (!this.#closed) this.#report(this.#entries.set(channel, conn, { key, ...captured }))
    return Promise.resolve()
  }

  untrack (channel: string, conn: string): Promise<void> {
    this.#report(this.#entries.delete(channel, conn))
    return Promise.resolve()
  }

  untrackAll (conn: string): Promise<void> {
    for (const channel of this.#entries.channelsOf(conn)) this.#report(this.#entries.delete(channel, conn))
    return Promise.resolve()
  }

  list (channel: string): Promise<PresenceState> {
    return Promise.resolve(this.#entries.list(channel))
  }

  count (channel: string): Promise<PresenceCount> {
    return Promise.resolve(this.#entries.count(channel))
  }

  subscribe (channel: string, listener: PresenceListener): Promise<() => void> {
    // A fresh function per call, so subscribing one listener twice needs two stops.
    const own: PresenceListener = (change) => { listener(change) }
    this.#listeners.add(channel, own)
    return Promise.resolve(() => { this.#listeners.remove(channel, own) })
  }

  close (): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#closed = true
    for (const change of this.#entries.drain()) this.#listeners.emit(change)
    return Promise.resolve()
  }

  #report (change: PresenceChange | undefined): void {
    if (change !== undefined) this.#listeners.emit(change)
  }
}
