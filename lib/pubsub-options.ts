// Validation of the engine options (`redis`, `emitter`, `appName`), called once at register.
import { basename, extname } from 'node:path'
import type { RedisOptions } from 'ioredis'
import type { Emitter } from './pubsub-engine.js'

export interface EngineOptionsInput {
  /** Redis URL or ioredis options; `false` ignores PL_REDIS_URL / REDIS_URL. */
  redis?: string | RedisOptions | false | null
  /** Any MQEmitter-compatible instance; the app owns its life cycle. */
  emitter?: Emitter | null
  /** Scope of every channel; default: the main script's name plus `_app`. */
  appName?: string
}

export interface EngineOptions {
  appName: string
  redis?: string | RedisOptions
  emitter?: Emitter
}

// `/`, `+`, `#` would change what the scope matches; `*?[]\` are glob characters in the Redis
// patterns that mqemitter-redis derives from wildcard subscriptions.
const APP_NAME_FORBIDDEN = /[/+#*?[\]\\\s]/

/** Picks and checks the engine options; env vars are used only when neither `redis` nor `emitter` is set. */
export function resolveEngineOptions (opts: EngineOptionsInput, env: NodeJS.ProcessEnv = process.env): EngineOptions {
  const appName = opts.appName ?? defaultAppName(process.argv[1])
  checkAppName(appName)
  const emitter = opts.emitter ?? undefined
  if (emitter !== undefined) checkEmitter(emitter)
  const redisOption = opts.redis ?? undefined
  if (redisOption !== undefined && redisOption !== false) checkRedis(redisOption)
  if (emitter !== undefined) {
    if (redisOption !== undefined && redisOption !== false) {
      throw new TypeError('options "redis" and "emitter" exclude each other: pass one engine')
    }
    return { appName, emitter }
  }
  if (redisOption === false) return { appName }
  const redis = redisOption ?? envUrl(env)
  return redis === undefined ? { appName } : { appName, redis }
}

/** Plezi's default: the main script's file name without extension, plus `_app`. */
export function defaultAppName (script: string | undefined): string {
  const name = script === undefined ? '' : basename(script, extname(script))
  const safe = name.replace(new RegExp(APP_NAME_FORBIDDEN.source, 'g'), '_')
  return `${safe === '' ? 'plezi' : safe}_app`
}

function envUrl (env: NodeJS.ProcessEnv): string | undefined {
  for (const key of ['PL_REDIS_URL', 'REDIS_URL']) {
    const value = env[key]
    if (value !== undefined && value !== '') return value
  }
  return undefined
}

function checkAppName (appName: unknown): asserts appName is string {
  if (typeof appName !== 'string' || appName === '' || APP_NAME_FORBIDDEN.test(appName)) {
    throw new TypeError(`option "appName" must be a non-empty string without "/", "+", "#", "*", "?", "[", "]", "\\" or spaces, received ${describe(appName)}`)
  }
}

function checkEmitter (emitter: unknown): void {
  const e = emitter as Partial<Record<'on' | 'emit' | 'removeListener', unknown>> | null
  if (typeof e !== 'object' || e === null ||
    typeof e.on !== 'function' || typeof e.emit !== 'function' || typeof e.removeListener !== 'function') {
    throw new TypeError(`option "emitter" must be an MQEmitter-compatible object (on, emit, removeListener), received ${describe(emitter)}`)
  }
}

function checkRedis (redis: unknown): void {
  if (typeof redis === 'string' && redis !== '') return
  if (typeof redis === 'object' && redis !== null && !Array.isArray(redis)) return
  throw new TypeError(`option "redis" must be a Redis URL, an ioredis options object or false, received ${describe(redis)}`)
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
