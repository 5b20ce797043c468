// The two Lua scripts of the Redis history store, and how they are run: EVALSHA of a script
// loaded once, EVAL when Redis forgot it (restart, SCRIPT FLUSH), which loads it again.
// Redis runs a script atomically, so offsets, the stream and the PUBLISH follow one order.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

// KEYS: meta hash (e = epoch, s = latest offset), stream. ARGV: kind, data, size, ttl ms,
// metaTtl ms, epoch to use if the meta hash is gone, topic ('' = no publish), packet id, origin.
// A lost meta hash (restart without persistence, eviction) starts a new epoch at offset 1, and
// the stream left from the old one goes. Trimming is approximate (`~`: whole stream nodes
// only), several times cheaper than exact trimming, which rescans a node on every append; the
// few older entries it leaves are never read (READ starts at top - size + 1). The published
// packet is mqemitter-redis's own (msgpack of { id, msg }), so it reaches subscribers through
// its subscription, in offset order.
const APPEND = `
local meta, stream = KEYS[1], KEYS[2]
local epoch = redis.call('hget', meta, 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('hset', meta, 'e', epoch)
end
local offset = redis.call('hincrby', meta, 's', 1)
redis.call('pexpire', meta, ARGV[5])
if offset == 1 then redis.call('del', stream) end
redis.call('xadd', stream, 'MAXLEN', '~', ARGV[3], offset .. '-0', 'k', ARGV[1], 'd', ARGV[2])
redis.call('pexpire', stream, ARGV[4])
if ARGV[7] ~= '' then
  redis.call('publish', ARGV[7], cmsgpack.pack({ id = ARGV[8], msg = {
    topic = ARGV[7], origin = ARGV[9], kind = ARGV[1], data = ARGV[2], epoch = epoch, offset = offset } }))
end
return { offset, epoch }
`

// KEYS: meta hash, stream. ARGV: since ('' = the last messages), limit (≤ size), metaTtl ms,
// epoch to use if the meta hash is gone, size. A channel never seen gets its epoch here, so the first append
// keeps the epoch its subscribers were told; a stream without meta is from a lost epoch.
// Reply: epoch, latest offset, then offset, kind, data of each message, oldest first.
const READ = `
local meta, stream = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[2])
local values = redis.call('hmget', meta, 'e', 's')
local epoch, top = values[1], tonumber(values[2]) or 0
if not epoch then
  epoch = ARGV[4]
  redis.call('hset', meta, 'e', epoch)
  redis.call('del', stream)
end
redis.call('pexpire', meta, ARGV[3])
local reply = { epoch, top }
if limit == 0 then return reply end
local entries, first, last, step
if ARGV[1] == '' then
  entries = redis.call('xrevrange', stream, '+', '-', 'COUNT', limit)
  first, last, step = #entries, 1, -1
else
  local from = math.max(tonumber(ARGV[1]) + 1, top - tonumber(ARGV[5]) + 1)
  if from > top then return reply end
  entries = redis.call('xrange', stream, from, '+', 'COUNT', limit)
  first, last, step = 1, #entries, 1
end
for i = first, last, step do
  local entry = entries[i]
  reply[#reply + 1] = tonumber(string.match(entry[1], '^%d+'))
  reply[#reply + 1] = entry[2][2]
  reply[#reply + 1] = entry[2][4]
end
return reply
`

export class LuaScript {
  readonly source: string
  readonly sha: string

  constructor (source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async load (conn: Redis): Promise<void> {
    const sha = await conn.script('LOAD', this.source)
    if (sha !== this.sha) throw new Error(`Redis loaded the history script as ${String(sha)}, expected ${this.sha}`)
  }

  async run (conn: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await conn.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return await conn.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

export const appendScript = new LuaScript(APPEND)
export const readScript = new LuaScript(READ)
