// What a presence store is: who is tracked on which channel, in this process and (for Redis)
// in every process sharing the backend. The in-process and Redis stores both implement it and
// pass one conformance suite (test/presence-store.test.ts).
//
// Entries are per connection: `conn` (unique across processes: the caller picks it) is present
// on `channel` under `key` with `meta`. A key with two connections has two metas. Every
// change is reported as a PresenceChange of one channel; a diff is applied leaves first, then
// joins, both by `conn` (an updated meta is a leave of the old meta plus a join of the new).
import type { FastifyBaseLogger } from 'fastify'

/** A plain JSON object, captured (deep-frozen copy) by `capturePresenceMeta`. */
export type PresenceMeta = Readonly<Record<string, unknown>>

/** A meta as listed: the tracked meta plus the connection it belongs to. */
export type ListedMeta = PresenceMeta & { readonly conn: string }

/** `{ [key]: { metas } }`, always a null-prototype object, so any key is an ordinary key. */
export type PresenceState = Record<string, { metas: ListedMeta[] }>

export interface PresenceChange {
  readonly channel: string
  readonly joins: PresenceState
  readonly leaves: PresenceState
}

export interface PresenceCount {
  /** Distinct keys (e.g. users). */
  keys: number
  /** Tracked connections (a user with two tabs counts twice). */
  connections: number
}

export type PresenceListener = (change: PresenceChange) => void

export type PresenceLog = Pick<FastifyBaseLogger, 'error' | 'warn' | 'info' | 'debug'>

export interface PresenceStore {
  /** This process's id; every entry it writes carries it. */
  readonly processId: string
  /** This process's own entries and the channels they are on, read in O(1) (for stats). */
  readonly local: { readonly channels: number, readonly entries: number }
  /** Resolves once the store can take changes (Redis: connected and registered). */
  ready (): Promise<void>
  /**
   * `conn` is present on `channel` under `key` with `meta`; tracking again updates.
   * Throws a TypeError (PLZ_ERR_PRESENCE) at the call for a bad key or meta; the promise never
   * rejects (a Redis failure is logged and healed by the next refresh).
   */
  track (channel: string, conn: string, key: string, meta?: unknown): Promise<void>
  /** Removes `conn` from `channel`; nothing happens if it was not tracked there. Never rejects. */
  untrack (channel: string, conn: string): Promise<void>
  /** Removes `conn` from every channel (the connection closed). Never rejects. */
  untrackAll (conn: string): Promise<void>
  /** The state of `channel` over every process. Rejects when the backend cannot answer. */
  list (channel: string): Promise<PresenceState>
  /** Keys and connections of `channel` without loading its state. Rejects like list(). */
  count (channel: string): Promise<PresenceCount>
  /**
   * Calls `listener` with every change of `channel` (this process's at once, others' as they
   * arrive); resolves, once changes from other processes flow, to a function that stops it.
   */
  subscribe (channel: string, listener: PresenceListener): Promise<() => void>
  /** Removes this process's entries at once (with their leaves) and releases the backend. */
  close (): Promise<void>
}
