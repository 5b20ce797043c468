// One conformance suite run against both history stores (in-process and Redis), then what only
// Redis has: its keys, the script cache, the published packet, several processes appending at
// once, and a Redis that restarts without persistence or goes down (on a redis-server of our own).
import t from 'tap'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawnSync } from 'node:child_process'
import { Redis } from 'ioredis'
import MQEmitterRedis from 'mqemitter-redis'
import { MemoryHistoryStore } from '../lib/pubsub/history/memory-store.js'
import { RedisHistoryStore, type RedisHistoryStoreOptions } from '../lib/pubsub/history/redis-store.js'
import { recover, toHistoryData, type HistoryData, type HistoryLimits, type HistoryStore, type Position } from '../lib/pubsub/history/store.js'
import { PUBLISH_CONNECTION } from '../lib/pubsub/engine.js'
import { PubSubMessage } from '../lib/pubsub/message.js'
import { PrivateRedis, REDIS_URL, ciRequiresRedis, freePort, redisAnswers, redisCommand, uniqueAppName } from './fixtures/pubsub-helpers.js'

type Test = import('tap').Test

interface Opened {
  store: HistoryStore
  /** Lets `ms` pass for the store (a fake clock in-process; real time for Redis, whose clock it is). */
  advance (ms: number): Promise<void>
  /** Loses everything the store held, as a restart does; returns the store to use afterwards. */
  lose (): Promise<HistoryStore>
}

interface StoreFixture {
  name: string
  open (t: Test, limits?: HistoryLimits): Promise<Opened>
}

const str = (data: string): HistoryData => ({ kind: 'string', data })
const json = (value: unknown): HistoryData => ({ kind: 'json', data: JSON.stringify(value) })

async function appendAll (store: HistoryStore, channel: string, count: number, from = 1): Promise<Position[]> {
  const positions: Position[] = []
  for (let i = from; i < from + count; i++) positions.push(await store.append(channel, str(`m${i}`)))
  return positions
}

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function storeSuite (t: Test, fixture: StoreFixture): void {
  t.test('offsets count 1..n in one epoch; kinds and texts survive', async (t) => {
    const { store } = await fixture.open(t)
    const before = await store.latest('c')
    t.equal(before.offset, 0, 'nothing published yet')
    t.type(before.epoch, 'string')
    const sent: HistoryData[] = [str('hello ✓'), str(''), json({ a: 1, b: [true, null, 'x'] }), json(null), json('a "quoted" string'), str('{"looks":"like json"}')]
    const positions = await Promise.all(sent.map((m) => store.append('c', m)))
    t.same(positions, sent.map((_, i) => ({ epoch: before.epoch, offset: i + 1 })), 'the epoch given before the first append is kept')
    t.same(await store.latest('c'), { epoch: before.epoch, offset: sent.length })
    const page = await store.read('c')
    t.same(page, { epoch: before.epoch, offset: sent.length, messages: sent.map((m, i) => ({ offset: i + 1, kind: m.kind, data: m.data })) })
    t.same((await store.read('other')).messages, [], 'channels are separate')
  })

  t.test('the ring keeps the last `size`; since is exclusive, limit caps', async (t) => {
    const { store } = await fixture.open(t, { size: 3 })
    await appendAll(store, 'r', 5)
    const offsets = async (options?: { since?: number, limit?: number }): Promise<number[]> =>
      (await store.read('r', options)).messages.map((m) => m.offset)
    t.same(await offsets(), [3, 4, 5], 'trimmed to size')
    t.same((await store.read('r')).messages.map((m) => m.data), ['m3', 'm4', 'm5'])
    t.same(await offsets({ since: 0 }), [3, 4, 5], 'since 0: all it still holds')
    t.same(await offsets({ since: 1 }), [3, 4, 5], 'since below the window: from the oldest held')
    t.same(await offsets({ since: 3 }), [4, 5])
    t.same(await offsets({ since: 5 }), [], 'since at the top')
    const beyond = await store.read('r', { since: 99 })
    t.same([beyond.offset, beyond.messages], [5, []], 'since beyond the top: nothing, and the latest offset')
    t.same(await offsets({ limit: 2 }), [4, 5], 'without since: the last `limit`')
    t.same(await offsets({ since: 2, limit: 1 }), [3], 'with since: the first `limit` after it')
    t.same(await offsets({ limit: 0 }), [], 'limit 0: the position only')
    t.same(await offsets({ limit: 10 }), [3, 4, 5])
    await appendAll(store, 'r', 4, 6)
    t.same(await offsets(), [7, 8, 9], 'the ring wraps on')
  })

  t.test('recover() is all or nothing', async (t) => {
    const { store } = await fixture.open(t, { size: 3 })
    const [{ epoch }] = await appendAll(store, 'rc', 5)
    const latest = { epoch, offset: 5 }
    const at = async (offset: number, e = epoch): ReturnType<typeof recover> => await recover(store, 'rc', { epoch: e, offset })
    const got = await at(3)
    t.same(got, { recovered: true, latest, messages: [{ offset: 4, kind: 'string', data: 'm4' }, { offset: 5, kind: 'string', data: 'm5' }] })
    t.same((await at(2)).messages.map((m) => m.offset), [3, 4, 5], 'the whole window')
    t.same(await at(5), { recovered: true, latest, messages: [] }, 'up to date: nothing to replay')
    t.same(await at(1), { recovered: false, latest, messages: [] }, 'trimmed past the position: nothing replayed')
    t.same(await at(0), { recovered: false, latest, messages: [] })
    t.same(await at(6), { recovered: false, latest, messages: [] }, 'a position ahead of the channel')
    t.same(await at(4, 'another epoch'), { recovered: false, latest, messages: [] }, 'another epoch')
    t.same(await at(2 ** 60), { recovered: false, latest, messages: [] }, 'a huge offset is a position that never recovers')
    t.same(await at(1e300), { recovered: false, latest, messages: [] })
    const fresh = await recover(store, 'never', { epoch: 'x', offset: 0 })
    t.same([fresh.recovered, fresh.latest.offset], [false, 0], 'an unknown channel has an epoch of its own')
    t.same(await recover(store, 'never', fresh.latest), { recovered: true, latest: fresh.latest, messages: [] })
    for (const bad of [null, { epoch: 1, offset: 0 }, { epoch: 'e', offset: -1 }, { epoch: 'e', offset: 1.5 }, { epoch: 'e', offset: null }, { epoch: 'e', offset: Infinity }, { epoch: 'e', offset: '3' }]) {
      t.throws(() => recover(store, 'rc', bad as unknown as Position), { code: 'PLZ_ERR_OPTION' }, `bad position ${JSON.stringify(bad)}`)
    }
  })

  t.test('messages expire `ttl` after the last publish, the position `metaTtl` after the last use', async (t) => {
    const { store, advance } = await fixture.open(t, { size: 10, ttl: 150, metaTtl: 1000 })
    const [{ epoch }] = await appendAll(store, 'x', 3)
    await advance(300)
    const expired = await store.read('x')
    t.same(expired, { epoch, offset: 3, messages: [] }, 'messages gone, position kept')
    t.same((await recover(store, 'x', { epoch, offset: 3 })).recovered, true, 'an up-to-date client still recovers')
    t.same((await recover(store, 'x', { epoch, offset: 2 })).recovered, false, 'one that missed an expired message does not')
    t.same(await store.append('x', str('m4')), { epoch, offset: 4 }, 'offsets go on in the same epoch')
    t.same((await store.read('x')).messages.map((m) => m.offset), [4])

    const short = await fixture.open(t, { size: 10, ttl: 100, metaTtl: 200 })
    const [first] = await appendAll(short.store, 'y', 2)
    await short.advance(400)
    const after = await short.store.latest('y')
    t.equal(after.offset, 0, 'the position expired too')
    t.not(after.epoch, first.epoch, 'so the channel starts a new epoch')
    t.same(await short.store.append('y', str('again')), { epoch: after.epoch, offset: 1 })
  })

  t.test('a store that lost its data starts a new epoch', async (t) => {
    const opened = await fixture.open(t)
    const [old] = await appendAll(opened.store, 'lost', 3)
    const store = await opened.lose()
    const now = await store.latest('lost')
    t.not(now.epoch, old.epoch)
    t.equal(now.offset, 0)
    t.same(await store.append('lost', str('new')), { epoch: now.epoch, offset: 1 })
    t.same((await recover(store, 'lost', { epoch: old.epoch, offset: 3 })).recovered, false)
  })

  t.test('hostile channel names are just names', async (t) => {
    const { store } = await fixture.open(t)
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a}b{c', '{tag}', '}', ':meta', 'x y\n\t"', 'ünï/cødé ✓', 'a'.repeat(20_000)]
    for (const [i, name] of names.entries()) t.same((await store.append(name, str(`for ${i}`))).offset, 1, `${name.slice(0, 20)}: its own offsets`)
    for (const [i, name] of names.entries()) {
      t.same((await store.read(name)).messages.map((m) => m.data), [`for ${i}`], `${name.slice(0, 20)}: only its own message`)
    }
    t.equal(({} as Record<string, unknown>).offset, undefined, 'Object.prototype untouched')
  })

  t.test('bad input throws at the call, with a code', async (t) => {
    const { store } = await fixture.open(t)
    for (const channel of ['', 5, null, 'a/+', 'a/#', '#']) {
      t.throws(() => store.append(channel as string, str('x')), { code: 'PLZ_ERR_CHANNEL' }, `append to ${JSON.stringify(channel)}`)
      t.throws(() => store.read(channel as string), { code: 'PLZ_ERR_CHANNEL' })
      t.throws(() => store.latest(channel as string), { code: 'PLZ_ERR_CHANNEL' })
    }
    t.type(thrown(() => store.append('', str('x'))), TypeError, 'a TypeError')
    const buffer = { kind: 'buffer', data: Buffer.from('x') }
    t.throws(() => store.append('c', buffer as unknown as HistoryData), { code: 'PLZ_ERR_MESSAGE', message: /Buffer/ })
    t.throws(() => store.append('c', { kind: 'json', data: 5 } as unknown as HistoryData), { code: 'PLZ_ERR_MESSAGE' })
    t.throws(() => store.append('c', { kind: 'number', data: '5' } as unknown as HistoryData), { code: 'PLZ_ERR_MESSAGE' })
    for (const notAMessage of [null, undefined, 'text', 5]) {
      t.throws(() => store.append('c', notAMessage as unknown as HistoryData), { code: 'PLZ_ERR_MESSAGE' }, `message ${String(notAMessage)}`)
    }
    t.same(await store.append('c', toHistoryData(PubSubMessage.from('c', { a: 1 }))), await store.latest('c'), 'a PubSubMessage converts')
    t.throws(() => toHistoryData(PubSubMessage.from('c', Buffer.from('x'))), { code: 'PLZ_ERR_MESSAGE' })
    for (const since of [-1, 1.5, '3', Number.NaN, 2 ** 60]) {
      t.throws(() => store.read('c', { since: since as number }), { code: 'PLZ_ERR_OPTION', message: /"since"/ }, `since ${String(since)}`)
    }
    t.throws(() => store.read('c', { limit: -1 }), { code: 'PLZ_ERR_OPTION', message: /"limit"/ })
    t.throws(() => store.read('c', 'x' as unknown as { limit: number }), { code: 'PLZ_ERR_OPTION' })
    t.same((await store.read('c', { since: Number.MAX_SAFE_INTEGER })).messages, [], 'the largest since is fine')
  })

  t.test('calls after close() reject', async (t) => {
    const { store } = await fixture.open(t)
    await store.close()
    await t.rejects(store.append('c', str('x')), /closed/)
    await t.rejects(store.read('c'), /closed/)
    await t.rejects(store.latest('c'), /closed/)
    await t.rejects(store.ready(), /closed/)
    await store.close()
  })
}

t.test('limits are checked and name the option', async (t) => {
  for (const [limits, option] of [
    [{ size: 0 }, 'history.size'], [{ size: 1.5 }, 'history.size'], [{ size: '100' }, 'history.size'],
    [{ ttl: 0 }, 'history.ttl'], [{ ttl: Infinity }, 'history.ttl'],
    [{ ttl: 1000, metaTtl: 999 }, 'history.metaTtl'], [{ metaTtl: -1 }, 'history.metaTtl']
  ] as Array<[Record<string, unknown>, string]>) {
    t.throws(() => new MemoryHistoryStore(limits), { code: 'PLZ_ERR_OPTION', message: new RegExp(`"${option.replace('.', '\\.')}"`) }, JSON.stringify(limits))
  }
  t.throws(() => new MemoryHistoryStore({ sweepInterval: 0 }), { code: 'PLZ_ERR_OPTION', message: /sweepInterval/ })
  t.throws(() => new MemoryHistoryStore(null as unknown as HistoryLimits), { code: 'PLZ_ERR_OPTION', message: /"history": must be an object/ })
  t.throws(() => new RedisHistoryStore({ redis: REDIS_URL, prefix: 'a{b' }), { code: 'PLZ_ERR_OPTION', message: /"history\.prefix"/ })
  const store = new MemoryHistoryStore({ ttl: 200_000_000 })
  t.teardown(() => store.close())
  t.same(store.limits, { size: 100, ttl: 200_000_000, metaTtl: 200_000_000 }, 'metaTtl is at least ttl by default')
})

t.test('in-process store', async (t) => {
  const open = async (t: Test, limits: HistoryLimits = {}): Promise<Opened & { store: MemoryHistoryStore }> => {
    let now = 0
    const create = (): MemoryHistoryStore => {
      const store = new MemoryHistoryStore({ ...limits, now: () => now })
      t.teardown(() => store.close())
      return store
    }
    const store = create()
    return { store, advance: async (ms) => { now += ms }, lose: async () => { await store.close(); return create() } }
  }
  storeSuite(t, { name: 'memory', open })

  t.test('memory stays bounded: the sweep drops expired messages, then idle channels', async (t) => {
    const { store, advance } = await open(t, { size: 5, ttl: 100, metaTtl: 1000 })
    for (let c = 0; c < 50; c++) await appendAll(store, `c${c}`, 20)
    t.same(store.stats(), { channels: 50, messages: 250 }, 'at most `size` per channel')
    await advance(100)
    await store.latest('c0')
    store.sweep()
    t.same(store.stats(), { channels: 50, messages: 0 }, 'messages gone, positions kept')
    await advance(950)
    store.sweep()
    t.same(store.stats(), { channels: 1, messages: 0 }, 'only the channel used 950 ms ago is left')
  })

  t.test('the sweep runs by itself on an unref\'d timer, and stops at close', async (t) => {
    let now = 0
    const store = new MemoryHistoryStore({ ttl: 10, metaTtl: 10, sweepInterval: 5, now: () => now })
    t.teardown(() => store.close())
    await store.append('c', str('x'))
    now = 10
    while (store.stats().channels > 0) await sleep(5)
    t.pass('swept')
    await store.close()
    t.same(store.stats(), { channels: 0, messages: 0 })
  })

  t.test('appendSync gives the position at the call, in call order with append()', async (t) => {
    const { store } = await open(t)
    const a = store.append('s', str('a'))
    const b = store.appendSync('s', str('b'))
    t.same([(await a).offset, b.offset], [1, 2])
    t.throws(() => store.appendSync('s', { kind: 'buffer', data: Buffer.alloc(1) } as unknown as HistoryData), { code: 'PLZ_ERR_MESSAGE' })
    await store.close()
    t.throws(() => store.appendSync('s', str('c')), /closed/)
  })

  t.test('every store starts its own epoch', async (t) => {
    const a = (await open(t)).store
    const b = (await open(t)).store
    t.not((await a.latest('c')).epoch, (await b.latest('c')).epoch)
  })
})

// ---------------------------------------------------------------------------------------------
// Redis

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail('Redis is required under CI but does not answer at 127.0.0.1:6379')
const redisSkip = redisUp ? false : 'REDIS NOT RUNNING at 127.0.0.1:6379: the Redis history suite is SKIPPED (under CI=true this fails)'
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
if (!hasRedisServer && ciRequiresRedis()) t.fail('redis-server is required under CI but is not installed')
const privateSkip = hasRedisServer ? false : 'REDIS-SERVER NOT INSTALLED: the Redis restart tests are SKIPPED (under CI=true this fails)'

/** A plain client for looking at Redis from outside the store. */
function inspector (t: Test, url = REDIS_URL): Redis {
  const conn = new Redis(url)
  conn.on('error', () => {})
  t.teardown(() => { conn.disconnect() })
  return conn
}

// SCAN to the end: one call with COUNT n looks at about n keys of the whole (shared) database.
async function keysOf (conn: Redis, prefix: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await conn.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000)
    found.push(...keys)
    cursor = next
  } while (cursor !== '0')
  return found
}

async function dropKeys (conn: Redis, prefix: string): Promise<void> {
  const keys = await keysOf(conn, prefix)
  if (keys.length > 0) await conn.del(...keys)
}

async function openRedis (t: Test, options: Partial<RedisHistoryStoreOptions> = {}): Promise<RedisHistoryStore> {
  const store = new RedisHistoryStore({ redis: REDIS_URL, prefix: `${uniqueAppName('history')}:`, ...options })
  t.teardown(() => store.close())
  await store.ready()
  return store
}

t.test('Redis store (127.0.0.1:6379)', { skip: redisSkip }, async (t) => {
  const conn = inspector(t)
  storeSuite(t, {
    name: 'redis',
    open: async (t, limits = {}) => {
      const store = await openRedis(t, limits)
      t.teardown(() => dropKeys(conn, store.prefix))
      return {
        store,
        // Expiry runs on Redis's clock: only real time makes it pass.
        advance: async (ms) => { await sleep(ms) },
        lose: async () => { await dropKeys(conn, store.prefix); return store }
      }
    }
  })

  t.test('keys: one hash tag per channel, the stream trimmed with offsets as ids, both with TTLs', async (t) => {
    const store = await openRedis(t, { size: 3, ttl: 60_000, metaTtl: 120_000 })
    t.teardown(() => dropKeys(conn, store.prefix))
    await appendAll(store, 'room/1', 5)
    const { meta, stream } = store.keys('room/1')
    t.equal(meta, `${store.prefix}{room/1}:meta`)
    t.equal(stream, `${store.prefix}{room/1}:stream`)
    t.same((await keysOf(conn, store.prefix)).sort(), [meta, stream], 'no other key')
    t.same([await conn.type(meta), await conn.type(stream)], ['hash', 'stream'])
    const ids = (await conn.xrange(stream, '-', '+')).map(([id]) => id)
    t.same(ids.slice(-3), ['3-0', '4-0', '5-0'], 'entry ids are the offsets')
    t.equal(await conn.hget(meta, 's'), '5')
    const [streamTtl, metaTtl] = [await conn.pttl(stream), await conn.pttl(meta)]
    t.ok(streamTtl > 50_000 && streamTtl <= 60_000, `stream PTTL ${streamTtl}`)
    t.ok(metaTtl > 110_000 && metaTtl <= 120_000, `meta PTTL ${metaTtl}`)
    // Trimming is approximate (whole stream nodes): Redis keeps at most one node beyond `size`.
    const [, nodeEntries] = await conn.config('GET', 'stream-node-max-entries') as [string, string]
    await Promise.all(Array.from({ length: 1000 }, (_, i) => store.append('room/1', str(`more ${i}`))))
    const held = await conn.xlen(stream)
    t.ok(held >= 3 && held <= 3 + Number(nodeEntries), `${held} entries held for size 3`)
    t.same((await store.read('room/1', { since: 0 })).messages.map((m) => m.offset), [1003, 1004, 1005], 'reads show exactly the last `size`')
  })

  t.test('a meta hash lost on its own (eviction) starts a new epoch and drops the old stream', async (t) => {
    const store = await openRedis(t)
    t.teardown(() => dropKeys(conn, store.prefix))
    const [old] = await appendAll(store, 'a', 3)
    await conn.del(store.keys('a').meta)
    const fresh = await store.append('a', str('new'))
    t.not(fresh.epoch, old.epoch)
    t.equal(fresh.offset, 1)
    t.same((await store.read('a')).messages, [{ offset: 1, kind: 'string', data: 'new' }], 'nothing of the old epoch')

    await appendAll(store, 'b', 3)
    await conn.del(store.keys('b').meta)
    const page = await store.read('b')
    t.same([page.offset, page.messages], [0, []], 'a read of a channel without meta sees a new, empty epoch')
    t.equal(await conn.exists(store.keys('b').stream), 0, 'and removes the stale stream')
  })

  t.test('each append is published as an mqemitter-redis packet with its position', async (t) => {
    const topicPrefix = `${uniqueAppName('topic')}/`
    const store = await openRedis(t, { publish: { topicPrefix, origin: 'me' } })
    t.teardown(() => dropKeys(conn, store.prefix))
    const mq = MQEmitterRedis({ subConn: new Redis(REDIS_URL), pubConn: new Redis(REDIS_URL) })
    t.teardown(() => new Promise<void>((resolve) => { mq.close(resolve) }))
    const packets: Array<Record<string, unknown>> = []
    const arrived = new Promise<void>((resolve) => {
      const listener = (packet: Record<string, unknown>, done: () => void): void => {
        packets.push(packet)
        done()
        if (packets.length === 3) resolve()
      }
      mq.on(`${topicPrefix}+`, listener as never)
    })
    await new Promise<void>((resolve) => { mq.on(`${topicPrefix}chat`, (_p: unknown, done: () => void) => { done() }, resolve) })
    const sent = [str('hi'), json({ event: 'x', n: 1 }), str('')]
    const positions = await Promise.all(sent.map((m) => store.append('chat', m)))
    await arrived
    t.same(packets, sent.map((m, i) => ({ topic: `${topicPrefix}chat`, origin: 'me', kind: m.kind, data: m.data, epoch: positions[i].epoch, offset: i + 1 })))
    const msg = PubSubMessage.fromWire('chat', packets[1])
    t.same(msg?.value, { event: 'x', n: 1 }, 'PubSub reads the packet as one of its own')
  })

  t.test('two processes appending at once: one gapless order, each publisher\'s order kept', async (t) => {
    const prefix = `${uniqueAppName('concurrent')}:`
    const topicPrefix = `${uniqueAppName('topic')}/`
    const a = await openRedis(t, { prefix, size: 2000, publish: { topicPrefix, origin: 'a' } })
    const b = await openRedis(t, { prefix, size: 2000, publish: { topicPrefix, origin: 'b' } })
    t.teardown(() => dropKeys(conn, prefix))
    const mq = MQEmitterRedis({ subConn: new Redis(REDIS_URL), pubConn: new Redis(REDIS_URL) })
    t.teardown(() => new Promise<void>((resolve) => { mq.close(resolve) }))
    const live: Array<{ offset: number, origin: string, data: string }> = []
    const N = 500
    const allLive = new Promise<void>((resolve) => {
      const listener = (packet: { offset: number, origin: string, data: string }, done: () => void): void => {
        live.push({ offset: packet.offset, origin: packet.origin, data: packet.data })
        done()
        if (live.length === 2 * N) resolve()
      }
      mq.on(`${topicPrefix}race`, listener as never)
    })
    await new Promise<void>((resolve) => { mq.on(`${topicPrefix}fence`, (_p: unknown, done: () => void) => { done() }, resolve) })
    const sends: Array<Promise<Position>> = []
    for (let i = 0; i < N; i++) sends.push(a.append('race', str(`a${i}`)), b.append('race', str(`b${i}`)))
    const positions = await Promise.all(sends)
    const ofA = positions.filter((_, i) => i % 2 === 0).map((p) => p.offset)
    const ofB = positions.filter((_, i) => i % 2 === 1).map((p) => p.offset)
    t.same([...ofA, ...ofB].sort((x, y) => x - y), Array.from({ length: 2 * N }, (_, i) => i + 1), 'every offset once, no gap')
    t.ok(ofA.every((o, i) => i === 0 || o > ofA[i - 1]) && ofB.every((o, i) => i === 0 || o > ofB[i - 1]), 'each store\'s offsets follow its call order')
    t.equal(new Set(positions.map((p) => p.epoch)).size, 1, 'one epoch')
    const page = await a.read('race')
    t.same(page.messages.map((m) => m.offset), Array.from({ length: 2 * N }, (_, i) => i + 1))
    const byOffset = new Map(positions.map((p, i) => [p.offset, i % 2 === 0 ? `a${i / 2}` : `b${(i - 1) / 2}`]))
    t.ok(page.messages.every((m) => byOffset.get(m.offset) === m.data), 'history holds each message at the offset its append returned')
    await allLive
    t.same(live.map((m) => m.offset), page.messages.map((m) => m.offset), 'subscribers see the same order as history')
    t.ok(live.every((m) => m.data.startsWith(m.origin)), 'with the publisher\'s origin')
  })

  t.test('sharing mqemitter-redis\'s publish connection keeps one order with its other publishes', async (t) => {
    const topicPrefix = `${uniqueAppName('mixed')}/`
    const pubConn = new Redis(REDIS_URL, PUBLISH_CONNECTION)
    const publisher = MQEmitterRedis({ subConn: new Redis(REDIS_URL), pubConn })
    const listener = MQEmitterRedis({ subConn: new Redis(REDIS_URL), pubConn: new Redis(REDIS_URL) })
    t.teardown(() => Promise.all([publisher, listener].map((mq) => new Promise<void>((resolve) => { mq.close(resolve) }))))
    // With a connection of its own (redis: REDIS_URL) this order is lost: checked.
    const store = await openRedis(t, { redis: pubConn, publish: { topicPrefix, origin: 'p' } })
    t.teardown(() => dropKeys(conn, store.prefix))
    const N = 300
    const seen: string[] = []
    const all = new Promise<void>((resolve) => {
      listener.on(`${topicPrefix}#`, ((packet: { data: string }, done: () => void) => {
        seen.push(packet.data)
        done()
        if (seen.length === 2 * N) resolve()
      }) as never)
    })
    await new Promise<void>((resolve) => { listener.on(`${topicPrefix}fence`, (_p: unknown, done: () => void) => { done() }, resolve) })
    const sent: string[] = []
    const pending: Array<Promise<unknown>> = []
    for (let i = 0; i < N; i++) {
      sent.push(`history ${i}`, `plain ${i}`)
      pending.push(store.append(`h/${i % 3}`, str(`history ${i}`)))
      pending.push(new Promise<void>((resolve, reject) => {
        publisher.emit({ topic: `${topicPrefix}plain`, kind: 'string', data: `plain ${i}` }, (err?: Error) => { if (err) reject(err); else resolve() })
      }))
    }
    await Promise.all(pending)
    await all
    t.same(seen, sent, 'a subscriber to both sees this publisher\'s order')
  })

  t.test('a shared connection is used, not closed', async (t) => {
    const shared = new Redis(REDIS_URL, PUBLISH_CONNECTION)
    t.teardown(() => { shared.disconnect() })
    const store = await openRedis(t, { redis: shared })
    t.teardown(() => dropKeys(conn, store.prefix))
    t.equal((await store.append('c', str('x'))).offset, 1)
    await store.close()
    t.equal(await shared.ping(), 'PONG', 'still open')
    await t.rejects(store.append('c', str('y')), /closed/)
  })
})

t.test('Redis store on a redis-server of our own', { skip: privateSkip }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  await redis.start()

  t.test('scripts run with EVALSHA; after SCRIPT FLUSH, EVAL loads them again', async (t) => {
    const conn = inspector(t, redis.url)
    const store = await openRedis(t, { redis: redis.url })
    const calls = async (command: string): Promise<number> => Number(/calls=(\d+)/.exec((await conn.info('commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`)) ?? '')?.[1] ?? 0)
    await conn.config('RESETSTAT')
    await appendAll(store, 'c', 3)
    await store.read('c')
    t.same([await calls('evalsha'), await calls('eval')], [4, 0], 'one EVALSHA per call')
    await conn.script('FLUSH')
    t.equal((await store.append('c', str('after flush'))).offset, 4)
    t.same((await store.read('c', { since: 3 })).messages.map((m) => m.data), ['after flush'])
    t.same([await calls('evalsha'), await calls('eval')], [6, 2], 'NOSCRIPT once per script, then EVAL')
    t.equal((await store.append('c', str('then'))).offset, 5)
    t.equal(await calls('evalsha'), 7, 'and EVALSHA again')
  })

  t.test('SHUTDOWN NOSAVE and a restart: a new epoch, offsets from 1', async (t) => {
    const conn = new Redis(redis.url, PUBLISH_CONNECTION)
    conn.on('error', () => {})
    t.teardown(() => { conn.disconnect() })
    const store = await openRedis(t, { redis: conn })
    const [old] = await appendAll(store, 'r', 3)
    const closed = once(conn, 'close')
    await redisCommand('SHUTDOWN NOSAVE', redis.port)
    await closed
    await redis.stop()
    await redis.start()
    await store.ready()
    const latest = await store.latest('r')
    t.not(latest.epoch, old.epoch)
    t.same(latest.offset, 0)
    t.same(await store.append('r', str('first again')), { epoch: latest.epoch, offset: 1 })
    t.same((await store.read('r')).messages.map((m) => m.data), ['first again'])
    t.same((await recover(store, 'r', { epoch: old.epoch, offset: 3 })).recovered, false)
  })

  t.test('while Redis is down calls reject at once, nothing is unhandled, and it comes back', async (t) => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    t.teardown(() => { process.removeListener('unhandledRejection', onUnhandled) })
    const errors: Error[] = []
    let sawError: () => void = () => {}
    const firstError = new Promise<void>((resolve) => { sawError = resolve })
    const store = await openRedis(t, { redis: redis.url, closeTimeout: 300, onError: (err) => { errors.push(err); sawError() } })
    const [before] = await appendAll(store, 'd', 2)

    await redis.stop()
    await firstError
    const started = performance.now()
    const failures = await Promise.allSettled([store.append('d', str('lost')), store.read('d'), store.latest('d'), store.append('d', str('lost too'))])
    t.ok(failures.every((f) => f.status === 'rejected' && f.reason instanceof Error && !('code' in f.reason && String(f.reason.code).startsWith('PLZ_'))), 'rejected with Redis\'s error, not a TypeError')
    t.ok(performance.now() - started < 1000, 'fast, not queued until Redis returns')
    const append = store.append('d', str('not awaited'))
    append.catch(() => {})
    t.ok(errors.length > 0, 'connection errors go to onError')

    await redis.start()
    await store.ready()
    const after = await store.append('d', str('back'))
    t.equal(after.offset, 1, 'Redis lost everything: a new epoch')
    t.not(after.epoch, before.epoch)
    await redis.stop()
    const closing = performance.now()
    await store.close()
    t.ok(performance.now() - closing < 1500, 'close() is bounded while Redis is down')
    t.same(unhandled, [], 'no unhandled rejection')
  })
})
