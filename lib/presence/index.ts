// Presence for the wiring: pick the store that matches the pub/sub engine, feed subscribers.
import type { RedisOptions } from 'ioredis'
import { MemoryPresenceStore } from './memory-store.js'
import { RedisPresenceStore } from './redis-store.js'
import type { PresenceTransport } from './transport.js'
import type { PresenceLog, PresenceStore } from './store.js'

export type { PresenceStore, PresenceState, PresenceChange, PresenceCount, PresenceMeta, ListedMeta, PresenceListener, PresenceLog } from './store.js'
export type { PresenceTransport } from './transport.js'
export type { PresenceDiff } from './frames.js'
export { MemoryPresenceStore } from './memory-store.js'
export { RedisPresenceStore, DEFAULT_PRESENCE_TTL } from './redis-store.js'
export { PresenceFeed, ChannelDiff, DEFAULT_PRESENCE_INTERVAL } from './diff.js'
export { stateFrame, diffFrame } from './frames.js'
export { checkPresenceKey, capturePresenceMeta, MAX_PRESENCE_KEY_LENGTH, MAX_PRESENCE_META_BYTES } from './validate.js'

export interface PresenceStoreOptions {
  appName: string
  log: PresenceLog
  /** With the Redis engine: the same URL or options; without: the in-process store. */
  redis?: string | RedisOptions
  ttl?: number
  closeTimeout?: number
  transport?: PresenceTransport
}

/** The in-process store, or with `redis` a Redis store namespaced by `appName`. */
export function createPresenceStore (opts: PresenceStoreOptions): PresenceStore {
  if (opts.redis === undefined) return new MemoryPresenceStore({ log: opts.log })
  return new RedisPresenceStore({
    redis: opts.redis,
    prefix: `plezi:presence:${opts.appName}:`,
    ttl: opts.ttl,
    log: opts.log,
    closeTimeout: opts.closeTimeout,
    transport: opts.transport
  })
}
