// Options of `app.register(plezi, options)`: defaults, and validation that names the bad option.
import { basename, extname } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisOptions } from 'ioredis'
import { PLZ_ERR_OPTION } from './errors.js'
import { HistoryChannels } from './pubsub/history/channels.js'
import { HISTORY_DEFAULTS, MAX_INTERVAL, resolveLimits, type ResolvedLimits } from './pubsub/history/store.js'
import { describe } from './describe.js'

/** Decides whether a browser `Origin` may open a websocket. */
export type OriginCheck = (origin: string) => boolean

/** Anything that quacks like an MQEmitter (mqemitter, mqemitter-redis, …). */
export interface MQEmitterLike {
  on (topic: string, listener: (message: any, done: () => void) => void, callback?: () => void): unknown
  removeListener (topic: string, listener: (message: any, done: () => void) => void, callback?: () => void): unknown
  emit (message: { topic: string, [key: string]: unknown }, callback?: (err?: Error) => void): unknown
  close (callback: () => void): void
}

export interface PleziOptions {
  /** Redis URL or ioredis options: use mqemitter-redis as the pub/sub engine; `false` ignores PL_REDIS_URL / REDIS_URL. */
  redis?: string | RedisOptions | false
  /** Any MQEmitter-compatible instance as the pub/sub engine (the app owns its life cycle). */
  emitter?: MQEmitterLike
  /** Namespace of every channel (default: main script name + `_app`). */
  appName?: string
  /** Where the browser bundle of PleziClient is served (default `/client.js`); `false` disables it. */
  clientPath?: string | false
  /** Largest accepted websocket frame, in bytes (default 1 MiB); larger ones close with 1009. */
  maxPayload?: number
  /** Ping period in ms (default 30000); 0 disables pings. A connection that misses a pong is ended. */
  pingInterval?: number
  /** Unsent bytes above which a connection is closed with 1013 "slow consumer" (default 8 MiB). */
  maxBufferedAmount?: number
  /**
   * Browser origins allowed to open websockets and send AJAJ events: an array of origins
   * (`scheme://host[:port]`, e.g. `'https://app.example'`), or a function given the raw `Origin` header.
   */
  allowedOrigins?: string[] | OriginCheck
  /** How long, in ms, `onShutdown` handlers and flushing may take on `app.close()` (default 5000). */
  shutdownTimeout?: number
  /** Messages of one connection waiting for its handlers before its socket stops being read (default 1000). */
  maxBacklog?: number
  /** permessage-deflate, a published message compressed once for all its subscribers (default off). */
  compression?: CompressionOptions | false
  /** Channels that keep their last messages, so reconnecting clients miss nothing (default: none). */
  history?: HistoryOptions
  /** Presence (who is tracked on a channel): how long a crashed process's entries last, how diffs are coalesced. */
  presence?: PresenceOptions
}

export interface PresenceOptions {
  /** ms after which the entries of a process that stopped refreshing are removed (Redis; default 30000). */
  ttl?: number
  /** ms the changes of one channel are gathered into one `_presence_diff_` (default 100). */
  interval?: number
}

export interface HistoryOptions {
  /** The channels that keep history: literal names or patterns (`+` one level, `#` the rest). */
  channels: string[]
  /** Messages kept per channel (default 100). */
  size?: number
  /** How long (ms) a channel's messages are kept after its last publish (default 300000). */
  ttl?: number
  /** How long (ms) a channel's position (epoch, offset) is kept after its last use (default 24 h, at least `ttl`). */
  metaTtl?: number
  /**
   * ms between position checks (default 10000; `0` or `false`: none). Redis only: every interval
   * each process reads the latest positions of the history channels it hears, in one round trip,
   * and delivers from history what Redis's pub/sub lost without the connection dropping.
   */
  checkInterval?: number | false
}

export interface ResolvedHistory extends ResolvedLimits {
  channels: HistoryChannels
  /** ms between position checks; 0 when there are none. */
  checkInterval: number
}

export interface CompressionOptions {
  /** Messages of at least this many bytes are compressed (default 1024); smaller ones go as they are. */
  threshold?: number
}

export interface ResolvedOptions {
  redis: string | Record<string, unknown> | undefined
  emitter: MQEmitterLike | undefined
  appName: string
  clientPath: string | false
  maxPayload: number
  pingInterval: number
  maxBufferedAmount: number
  allowedOrigins: OriginCheck | undefined
  shutdownTimeout: number
  maxBacklog: number
  /** Compression threshold in bytes, or false when compression is off. */
  compression: { threshold: number } | false
  /** History channels and limits, or undefined when no channel keeps history. */
  history: ResolvedHistory | undefined
  presence: { ttl: number, interval: number }
}

const KNOWN = new Set([
  'redis', 'emitter', 'appName', 'clientPath', 'maxPayload', 'pingInterval',
  'maxBufferedAmount', 'allowedOrigins', 'shutdownTimeout', 'maxBacklog', 'compression', 'history', 'presence'
])

// Fastify passes these to every plugin; they are not ours to reject.
const FASTIFY_OWN = new Set(['prefix', 'logLevel', 'logSerializers'])

export const DEFAULTS = {
  clientPath: '/client.js',
  maxPayload: 1024 * 1024,
  pingInterval: 30_000,
  maxBufferedAmount: 8 * 1024 * 1024,
  shutdownTimeout: 5000,
  maxBacklog: 1000,
  compressionThreshold: 1024,
  presenceTtl: 30_000,
  presenceInterval: 100
} as const

function fail (option: string, message: string): never {
  throw new PLZ_ERR_OPTION(option, message)
}


function integer (option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(option, `expected an integer >= ${min}, received ${describe(value)}`)
  }
  return value
}

// `/`, `+`, `#` would change what the scope matches; `*?[]\` are glob characters in the Redis
// patterns that mqemitter-redis derives from wildcard subscriptions.
const APP_NAME_FORBIDDEN = /[/+#*?[\]\\\s\0]/

/** Plezi's default: the main script's file name without extension, plus `_app`. */
export function defaultAppName (mainScript: string | undefined = process.argv[1]): string {
  if (!mainScript) return 'plezi_app'
  const name = basename(mainScript, extname(mainScript)).replace(new RegExp(APP_NAME_FORBIDDEN.source, 'g'), '_')
  return `${name || 'plezi'}_app`
}

function appName (value: unknown): string {
  if (value === undefined) return defaultAppName()
  if (typeof value !== 'string' || value.length === 0 || APP_NAME_FORBIDDEN.test(value)) {
    fail('appName', `expected a non-empty string without "/", "+", "#", "*", "?", "[", "]", "\\" or spaces, received ${describe(value)}`)
  }
  return value
}

function clientPath (value: unknown): string | false {
  if (value === undefined) return DEFAULTS.clientPath
  if (value === false) return false
  if (typeof value !== 'string' || !value.startsWith('/')) {
    fail('clientPath', `expected a path starting with "/" or false, received ${describe(value)}`)
  }
  return value
}

function redis (value: unknown, env: NodeJS.ProcessEnv): string | Record<string, unknown> | undefined {
  if (value === false) return undefined
  if (value === undefined) return env.PL_REDIS_URL || env.REDIS_URL || undefined
  if (typeof value === 'string' && /^rediss?:\/\//.test(value)) return value
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
  return fail('redis', `expected a redis:// URL, an ioredis options object or false, received ${describe(value)}`)
}

function emitter (value: unknown): MQEmitterLike | undefined {
  if (value === undefined) return undefined
  const e = value as Partial<MQEmitterLike> | null
  if (e === null || typeof e !== 'object' || typeof e.on !== 'function' || typeof e.emit !== 'function' ||
      typeof e.removeListener !== 'function' || typeof e.close !== 'function') {
    fail('emitter', `expected an MQEmitter-compatible object (on, emit, removeListener, close), received ${describe(value)}`)
  }
  return e as MQEmitterLike
}

/**
 * `scheme://host[:port]` as a browser serialises it in `Origin` (lower case, no default port,
 * no trailing slash), or null when `value` is not an origin: no scheme or host, or a path,
 * query, fragment, credentials or `*`. `new URL().origin` alone would be 'null' for the schemes of
 * browser extensions (`chrome-extension://<id>`), which browsers do send as they are.
 */
export function normalizeOrigin (value: string): string | null {
  // URL accepts `*` in a host; as an entry it would read as a wildcard that never matches
  if (value.includes('*')) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.host === '' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' ||
      (url.pathname !== '' && url.pathname !== '/')) return null
  return `${url.protocol}//${url.host}`.toLowerCase()
}

function allowedOrigins (value: unknown): OriginCheck | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'function') return value as OriginCheck
  if (!Array.isArray(value)) {
    return fail('allowedOrigins', `expected an array of origins or a function, received ${describe(value)}`)
  }
  const allowed = new Set<string>()
  for (const [i, entry] of value.entries()) {
    const origin = typeof entry === 'string' ? normalizeOrigin(entry) : null
    if (origin === null) {
      // 'null' is what sandboxed iframes and file: pages of any site send: never a safe entry
      fail('allowedOrigins', `entry ${i} is not an origin (scheme://host[:port], e.g. "https://app.example"; no path, no "null", no "*"), received ${describe(entry)}`)
    }
    allowed.add(origin)
  }
  return (origin) => allowed.has(origin) || allowed.has(normalizeOrigin(origin) ?? '')
}

function compression (value: unknown): { threshold: number } | false {
  if (value === undefined || value === false) return false
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('compression', `expected an object ({ threshold }) or false, received ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (key !== 'threshold') fail('compression', `unknown key "${key}"; known keys are threshold`)
  }
  return { threshold: integer('compression.threshold', (value as { threshold?: unknown }).threshold, DEFAULTS.compressionThreshold, 0) }
}

const HISTORY_KEYS = new Set(['channels', 'size', 'ttl', 'metaTtl', 'checkInterval'])

function checkInterval (value: unknown): number {
  if (value === undefined) return HISTORY_DEFAULTS.checkInterval
  if (value === false) return 0
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_INTERVAL) {
    fail('history.checkInterval', `expected an integer from 0 to ${MAX_INTERVAL} (ms; 0 or false: no check), received ${describe(value)}`)
  }
  return value
}

function history (value: unknown, withEmitter: boolean): ResolvedHistory | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('history', `expected an object ({ channels, size, ttl }), received ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (!HISTORY_KEYS.has(key)) fail('history', `unknown key "${key}"; known keys are ${[...HISTORY_KEYS].join(', ')}`)
  }
  // History lives in the engine's backend (the process, or Redis): a supplied emitter has none.
  if (withEmitter) fail('history', 'needs the in-process engine or Redis ("redis"); an app-supplied "emitter" has no history store')
  const { channels, checkInterval: interval, ...limits } = value as HistoryOptions
  return { channels: new HistoryChannels(channels), ...resolveLimits(limits), checkInterval: checkInterval(interval) }
}

const PRESENCE_KEYS = new Set(['ttl', 'interval'])

function presence (value: unknown): { ttl: number, interval: number } {
  if (value === undefined) return { ttl: DEFAULTS.presenceTtl, interval: DEFAULTS.presenceInterval }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('presence', `expected an object ({ ttl, interval }), received ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (!PRESENCE_KEYS.has(key)) fail('presence', `unknown key "${key}"; known keys are ttl, interval`)
  }
  const { ttl, interval } = value as PresenceOptions
  // Below 30 ms a refresh (every ttl / 3) could not reach Redis in time.
  return { ttl: integer('presence.ttl', ttl, DEFAULTS.presenceTtl, 30), interval: integer('presence.interval', interval, DEFAULTS.presenceInterval, 1) }
}

/** Validates `options` (never mutating them) and fills in the defaults. */
export function resolveOptions (options: unknown, log?: FastifyBaseLogger, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('options', `expected an object, received ${describe(options)}`)
  }
  const opts = options as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key) && !FASTIFY_OWN.has(key)) fail(key, `unknown option; known options are ${[...KNOWN].join(', ')}`)
  }
  if (opts.redis !== undefined && opts.redis !== false && opts.emitter !== undefined) {
    fail('emitter', 'give either "redis" or "emitter", not both')
  }
  const resolved: ResolvedOptions = {
    redis: opts.emitter === undefined ? redis(opts.redis, env) : undefined,
    emitter: emitter(opts.emitter),
    appName: appName(opts.appName),
    clientPath: clientPath(opts.clientPath),
    maxPayload: integer('maxPayload', opts.maxPayload, DEFAULTS.maxPayload, 1),
    pingInterval: integer('pingInterval', opts.pingInterval, DEFAULTS.pingInterval, 0),
    maxBufferedAmount: integer('maxBufferedAmount', opts.maxBufferedAmount, DEFAULTS.maxBufferedAmount, 1),
    allowedOrigins: allowedOrigins(opts.allowedOrigins),
    shutdownTimeout: integer('shutdownTimeout', opts.shutdownTimeout, DEFAULTS.shutdownTimeout, 0),
    maxBacklog: integer('maxBacklog', opts.maxBacklog, DEFAULTS.maxBacklog, 1),
    compression: compression(opts.compression),
    history: history(opts.history, opts.emitter !== undefined),
    presence: presence(opts.presence)
  }
  if (log && resolved.pingInterval > 0 && resolved.pingInterval < 1000) {
    log.warn({ pingInterval: resolved.pingInterval }, 'fastify-plezi: pingInterval below 1000 ms ends connections that are merely slow')
  }
  return resolved
}
