// The Redis presence layout and its Lua scripts. Per channel (one hash tag, so one slot):
//   P{channel}:p:<pid>  hash  conn → entry, the entries of one process
//   P{channel}:k        hash  key → connections, so `keys` is one HLEN
//   P{channel}:ps       set   processes with entries here
// Per process: P procs (zset pid → expiry, Redis clock), P proc:<pid> (set of its channels).
// An entry is `<UTF-8 length of key>:<key><meta JSON>`, so a script reads the key without
// decoding the meta (cjson refuses deep nesting). Scripts touch one channel's keys only.
import type { ChainableCommander, Redis } from 'ioredis'
import { addMeta, emptyState, listedMeta } from './state.js'
import type { PresenceMeta, PresenceState } from './store.js'

const KEY_OF = `
local function keyOf (v)
  local c = string.find(v, ':', 1, true)
  return string.sub(v, c + 1, c + tonumber(string.sub(v, 1, c - 1)))
end
local function decr (counts, k)
  if redis.call('HINCRBY', counts, k, -1) <= 0 then redis.call('HDEL', counts, k) end
end
`

// KEYS own, keys, pids; ARGV conn, entry, key, pid. 1 when something changed.
const TRACK = KEY_OF + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if old then
  local oldKey = keyOf(old)
  if oldKey == ARGV[3] then return 1 end
  decr(KEYS[2], oldKey)
else
  redis.call('SADD', KEYS[3], ARGV[4])
end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1
`

// KEYS own, keys, pids; ARGV conn, pid.
const UNTRACK = KEY_OF + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
decr(KEYS[2], keyOf(old))
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return 1
`

// KEYS own, keys, pids; ARGV pid. Removes every entry of one process, returns them.
const DROP = KEY_OF + `
local all = redis.call('HGETALL', KEYS[1])
for i = 2, #all, 2 do decr(KEYS[2], keyOf(all[i])) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return all
`

// KEYS pids; ARGV prefix of the per-process hashes (same hash tag). Flat conn, entry, …
const LIST = `
local out = {}
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local all = redis.call('HGETALL', ARGV[1] .. pid)
  for i = 1, #all do out[#out + 1] = all[i] end
end
return out
`

// KEYS keys, pids; ARGV prefix of the per-process hashes. { keys, connections }.
const COUNT = `
local n = 0
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[2])) do n = n + redis.call('HLEN', ARGV[1] .. pid) end
return { redis.call('HLEN', KEYS[1]), n }
`

// KEYS procs; ARGV pid, ttl ms, limit. The heartbeat, on Redis's clock (no skew between
// processes): { 1 if we were missing (Redis restarted, or we were cleaned up), expired pids }.
const BEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return { added, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[3])) }
`

// KEYS lock; ARGV token. Releases the clean-up lock only if it is still ours.
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

const SCRIPTS = {
  plzPresenceTrack: { numberOfKeys: 3, lua: TRACK },
  plzPresenceUntrack: { numberOfKeys: 3, lua: UNTRACK },
  plzPresenceDrop: { numberOfKeys: 3, lua: DROP },
  plzPresenceList: { numberOfKeys: 1, lua: LIST, readOnly: true },
  plzPresenceCount: { numberOfKeys: 2, lua: COUNT, readOnly: true },
  plzPresenceBeat: { numberOfKeys: 1, lua: BEAT },
  plzPresenceUnlock: { numberOfKeys: 1, lua: UNLOCK }
} as const

type Arg = string | number
type ScriptName = keyof typeof SCRIPTS
/** A connection or a pipeline with the scripts defined on it. */
export type WithScripts<T> = T & { [name in ScriptName]: (...args: Arg[]) => T extends Redis ? Promise<unknown> : T }
export type ScriptPipeline = WithScripts<ChainableCommander>

export function defineScripts (conn: Redis): WithScripts<Redis> {
  for (const [name, script] of Object.entries(SCRIPTS)) conn.defineCommand(name, script)
  return conn as WithScripts<Redis>
}

export function pipelineOf (conn: Redis): ScriptPipeline {
  return conn.pipeline() as ScriptPipeline
}

/** The key names of one presence namespace. */
export class PresenceKeys {
  readonly procs: string
  readonly lock: string
  readonly #prefix: string

  constructor (prefix: string) {
    this.#prefix = prefix
    this.procs = `${prefix}procs`
    this.lock = `${prefix}lock`
  }

  /** The set of channels a process has entries on. */
  proc (pid: string): string {
    return `${this.#prefix}proc:${pid}`
  }

  /** The keys of one channel: `own` of `pid`, `keys`, `pids`, and the prefix of per-process hashes. */
  channel (channel: string, pid: string): { own: string, keys: string, pids: string, procPrefix: string } {
    const base = `${this.#prefix}{${channel}}`
    return { own: `${base}:p:${pid}`, keys: `${base}:k`, pids: `${base}:ps`, procPrefix: `${base}:p:` }
  }
}

export function encodeEntry (key: string, json: string): string {
  return `${Buffer.byteLength(key)}:${key}${json}`
}

/** The key and meta JSON of an entry, or undefined for something that is not one. */
export function decodeEntry (value: string): { key: string, json: string } | undefined {
  const colon = value.indexOf(':')
  const bytes = Number(value.slice(0, colon))
  if (colon <= 0 || !Number.isInteger(bytes)) return undefined
  const ascii = value.slice(colon + 1, colon + 1 + bytes)
  if (Buffer.byteLength(ascii) === bytes) return { key: ascii, json: value.slice(colon + 1 + bytes) }
  // Not ASCII: the length counts UTF-8 bytes, so cut the UTF-8 form.
  const raw = Buffer.from(value.slice(colon + 1))
  if (raw.length < bytes) return undefined
  return { key: raw.subarray(0, bytes).toString(), json: raw.subarray(bytes).toString() }
}

/** A state from flat `conn, entry, …` as the scripts return them. */
export function stateOf (flat: string[]): PresenceState {
  const state = emptyState()
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const entry = decodeEntry(flat[i + 1])
    if (entry === undefined) continue
    addMeta(state, entry.key, listedMeta(JSON.parse(entry.json) as PresenceMeta, flat[i]))
  }
  return state
}
