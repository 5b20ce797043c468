// Engines behind PubSub: the in-process mqemitter, mqemitter-redis, or an app-supplied emitter,
// all seen through the same small MQEmitter interface plus ready/close.
import type { EventEmitter } from 'node:events'
import mqemitter from 'mqemitter'
import MQEmitterRedis from 'mqemitter-redis'
import { Redis, type RedisOptions } from 'ioredis'

export interface EnginePacket {
  topic: string
  [field: string]: unknown
}

export type EngineListener = (packet: EnginePacket, done: () => void) => void

/** What PubSub needs from an MQEmitter-compatible instance. */
export interface Emitter {
  on (topic: string, listener: EngineListener, callback?: () => void): unknown
  emit (packet: EnginePacket, callback?: (err?: Error) => void): unknown
  removeListener (topic: string, listener: EngineListener, callback?: () => void): unknown
  close? (callback: () => void): unknown
  /** mqemitter-redis reports backend trouble here; an unheard 'error' crashes the process. */
  state?: EventEmitter
}

export interface Engine {
  emitter: Emitter
  /** Resolves once the engine can take publishes. */
  ready (): Promise<void>
  /** Releases what this engine created (nothing for an app-supplied emitter). */
  close (): Promise<void>
  /** What it connects to, for error messages (no passwords). */
  describe (): string
  /** Redis: the publish connection, for stores whose writes must keep one order with publishes. */
  connection?: Redis
}

export interface EngineEvents {
  error (err: Error): void
  /** The engine is connected again (Redis 'ready'). */
  up (): void
  /** Redis: the subscribe connection is back and its subscriptions are active again. */
  resubscribed? (): void
}

export function localEngine (): Engine {
  const emitter = mqemitter() as unknown as Emitter
  return {
    emitter,
    ready: () => Promise.resolve(),
    close: () => new Promise<void>((resolve) => { emitter.close!(resolve) }),
    describe: () => 'the in-process mqemitter'
  }
}

/** An app-supplied emitter: used, listened to for errors, never closed. */
export function suppliedEngine (emitter: Emitter, events: EngineEvents): Engine {
  emitter.state?.on('error', events.error)
  return {
    emitter,
    ready: () => Promise.resolve(),
    close: () => {
      emitter.state?.removeListener('error', events.error)
      return Promise.resolve()
    },
    describe: () => 'the supplied emitter'
  }
}

// Publishes fail fast during an outage instead of queueing (no offline queue), and one lost
// connection rejects the publishes in flight rather than replaying them after a reconnect.
// Only on the publish connection: the subscribe connection needs its queue for the first
// subscribes and re-subscribes by itself after a reconnect.
export const PUBLISH_CONNECTION: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  enableAutoPipelining: true
}

// ioredis's disconnect() arms a timer of `disconnectTimeout` (default 2 s) even for a socket
// that is already closed (Redis down): keep it short, so a failed start leaves nothing behind
// for long. We only disconnect after QUIT had its chance (closeTimeout).
const OUR_DEFAULTS: RedisOptions = { disconnectTimeout: 100 }

export function redisEngine (redis: string | RedisOptions, events: EngineEvents, closeTimeout: number): Engine {
  const subConn = typeof redis === 'string' ? new Redis(redis, OUR_DEFAULTS) : new Redis({ ...OUR_DEFAULTS, ...redis })
  const pubConn = typeof redis === 'string' ? new Redis(redis, { ...OUR_DEFAULTS, ...PUBLISH_CONNECTION }) : new Redis({ ...OUR_DEFAULTS, ...redis, ...PUBLISH_CONNECTION })
  const emitter = MQEmitterRedis({ subConn, pubConn }) as unknown as Emitter
  escapeGlobs(emitter as unknown as RedisPatterns)
  emitter.state!.on('error', events.error)
  pubConn.on('ready', events.up)
  // ioredis emits 'ready' before it sends the re-subscriptions: a PING queued behind them is
  // answered once they are active (replies keep the order of commands).
  if (events.resubscribed !== undefined) {
    const resubscribed = events.resubscribed
    // a fault in the probe goes to the engine's error event, never an unhandled rejection
    subConn.on('ready', () => { queueMicrotask(() => { subConn.ping().then(resubscribed, noop).catch(events.error) }) })
  }
  // close() settles a pending ready(): a reconnecting ioredis that is disconnected never ends.
  let abort!: (err: Error) => void
  const aborted = new Promise<never>((_resolve, reject) => { abort = reject })
  aborted.catch(noop)
  return {
    emitter,
    // Asked afresh each time: after an outage, "ready" means connected again.
    ready: () => Promise.race([Promise.all([whenReady(pubConn), whenReady(subConn)]), aborted]).then(noop),
    close: () => {
      abort(new Error('Redis connection closed before it was ready'))
      return closeConnections([subConn, pubConn], closeTimeout)
    },
    describe: () => `Redis at ${describeRedis(redis)}`,
    connection: pubConn
  }
}

/** Where `redis` points, with any password hidden (URL or ioredis options). */
export function describeRedis (redis: string | RedisOptions): string {
  if (typeof redis !== 'string') {
    if (typeof redis.path === 'string') return redis.path
    return `${redis.host ?? 'localhost'}:${redis.port ?? 6379}`
  }
  let url: URL
  try {
    url = new URL(redis)
  } catch {
    return redis.replace(/\/\/[^@/]*@/, '//***@')
  }
  if (url.password !== '') url.password = '***'
  if (url.searchParams.has('password')) url.searchParams.set('password', '***')
  return url.toString()
}

// mqemitter-redis turns a wildcard subscription into a Redis glob pattern without escaping the
// glob characters already in it: `room[1]/+` would PSUBSCRIBE `room[1]/*`, which never sees
// `room[1]/x`. Escape them (its own matcher still filters what Redis sends).
interface RedisPatterns {
  _subTopic? (topic: string): string
  _containsWildcard (topic: string): boolean
}

function escapeGlobs (emitter: RedisPatterns): void {
  const subTopic = emitter._subTopic
  if (typeof subTopic !== 'function') return
  emitter._subTopic = function (topic: string): string {
    const escaped = this._containsWildcard(topic) ? topic.replace(/[*?[\]\\]/g, '\\$&') : topic
    return subTopic.call(this, escaped)
  }
}

export function whenReady (conn: Redis): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      conn.removeListener('end', onEnd)
      resolve()
    }
    const onEnd = (): void => {
      conn.removeListener('ready', onReady)
      reject(new Error('Redis connection closed before it was ready'))
    }
    conn.once('ready', onReady)
    conn.once('end', onEnd)
  })
}

// Not mqemitter-redis's close(): it never calls back while Redis is down, and its unhandled
// quit() rejections would crash the process. QUIT lets publishes in flight finish; the timeout
// bounds it, and disconnect() stops ioredis from reconnecting forever. A connection that is
// not up (never was, or is reconnecting) has nothing to finish: it is disconnected at once,
// without waiting for an 'end' that a reconnecting ioredis never emits.
export async function closeConnections (conns: Redis[], timeout: number): Promise<void> {
  const up = conns.filter((conn) => conn.status === 'ready')
  for (const conn of conns) if (conn.status !== 'ready' && conn.status !== 'end') conn.disconnect()
  let timer: NodeJS.Timeout | undefined
  const ended = up.map(async (conn) => {
    // Not events.once(): it rejects on the 'error' events ioredis emits while reconnecting.
    const end = new Promise((resolve) => conn.once('end', resolve))
    conn.quit().catch(noop)
    await end
  })
  await Promise.race([
    Promise.all(ended),
    new Promise((resolve) => { timer = setTimeout(resolve, timeout) })
  ])
  clearTimeout(timer)
  for (const conn of up) if (conn.status !== 'end') conn.disconnect()
}

function noop (): void {}
