// What only the Redis presence store does, past the conformance suite: a process taken for
// dead (SIGSTOP) that comes back re-writes its entries; an outage (list/count refuse, writes
// wait, close is bounded); a transport of the wiring's choice; malformed messages.
import t from 'tap'
import { EventEmitter, once } from 'node:events'
import { fork, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { RedisPresenceStore } from '../lib/presence/redis-store.js'
import type { PresenceTransport } from '../lib/presence/transport.js'
import { applyChange, emptyState } from '../lib/presence/state.js'
import type { PresenceChange, PresenceState } from '../lib/presence/store.js'
import { PrivateRedis, RecordingLog, ciRequiresRedis, freePort } from './fixtures/pubsub-helpers.js'
import type { PresenceChildReport } from './fixtures/presence-child.js'

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
if (!hasRedisServer && ciRequiresRedis()) t.fail('redis-server is required under CI but is not installed')
const skip = hasRedisServer ? false : 'REDIS-SERVER NOT INSTALLED: the Redis presence tests are SKIPPED (under CI=true this fails)'
const uid = (): string => randomBytes(4).toString('hex')

function normal (state: PresenceState): string {
  return JSON.stringify(Object.keys(state).sort().map((k) => [k, [...state[k].metas].sort((a, b) => a.conn < b.conn ? -1 : 1)]))
}

class Recorder extends EventEmitter {
  readonly state = emptyState()
  readonly changes: PresenceChange[] = []
  readonly listener = (change: PresenceChange): void => {
    this.changes.push(change)
    applyChange(this.state, change)
    this.emit('change')
  }

  async until (done: (state: PresenceState) => boolean): Promise<void> {
    while (!done(this.state)) await once(this, 'change')
  }
}

const connsOf = (state: PresenceState): string[] => Object.values(state).flatMap((e) => e.metas.map((m) => m.conn)).sort()

t.test('a process taken for dead that comes back re-writes its entries, which join again', { skip }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  await redis.start()
  const ttl = 900
  const prefix = `test:${uid()}:`
  const ch = `room-${uid()}`
  const survivor = new RedisPresenceStore({ redis: redis.url, prefix, ttl, log: new RecordingLog().log, closeTimeout: 300 })
  t.teardown(() => survivor.close())
  await survivor.ready()
  const rec = new Recorder()
  await survivor.subscribe(ch, rec.listener)

  const child = fork(fileURLToPath(new URL('fixtures/presence-child.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('@tapjs/typescript/import')],
    env: { ...process.env, PRESENCE_REDIS: redis.url, PRESENCE_PREFIX: prefix, PRESENCE_TTL: String(ttl), PRESENCE_CHANNEL: ch, PRESENCE_COUNT: '5' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const [report] = await once(child, 'message') as [PresenceChildReport]
  const five = ['child-0', 'child-1', 'child-2', 'child-3', 'child-4']
  await rec.until((s) => connsOf(s).length === 5)

  child.kill('SIGSTOP') // alive, but silent: like a long GC pause or a network partition
  const [{ processId }] = await once(survivor, 'cleanup') as [{ processId: string }]
  t.equal(processId, report.processId, 'the silent process was taken for dead')
  await rec.until((s) => connsOf(s).length === 0)
  t.same(connsOf(await survivor.list(ch)), [], 'its entries were removed, with leaves')

  child.kill('SIGCONT')
  await rec.until((s) => connsOf(s).length === 5)
  t.same(connsOf(await survivor.list(ch)), five, 'its next refresh re-wrote them, and they joined again')
  t.same(await survivor.count(ch), { keys: 5, connections: 5 })
})

t.test('an outage: list and count refuse, writes wait and land, close is bounded', { skip }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  await redis.start()
  const prefix = `test:${uid()}:`
  const log = new RecordingLog()
  const store = new RedisPresenceStore({ redis: redis.url, prefix, ttl: 600, log: log.log, closeTimeout: 300 })
  const other = new RedisPresenceStore({ redis: redis.url, prefix, ttl: 600, log: new RecordingLog().log, closeTimeout: 300 })
  t.teardown(() => Promise.all([store.close(), other.close()]))
  await Promise.all([store.ready(), other.ready()])
  await store.track('room', 'a', 'alice', {})
  await store.track('room', 'b', 'bob', {})

  await redis.stop()
  await log.waitFor('error', 'Redis connection error')
  await t.rejects(store.list('room'), /Redis is not connected/, 'list refuses at once while Redis is down')
  await t.rejects(store.count('room'), /Redis is not connected/)
  const during = [store.track('room', 'c', 'carol', { late: true }), store.untrack('room', 'a')]
  await redis.start()
  await Promise.all(during)
  await log.waitFor('info', 'Redis reconnected')
  const rebuilt = (s: RedisPresenceStore): Promise<unknown> => new Promise((resolve) => {
    if (s.stats.resyncs > 0) resolve(undefined)
    else s.once('resync', resolve)
  })
  await Promise.all([rebuilt(store), rebuilt(other)])
  const wanted = ['b', 'c']
  t.same(connsOf(await other.list('room')), wanted, 'what changed during the outage is in Redis after it')
  t.same(await other.count('room'), { keys: 2, connections: 2 })

  await redis.stop()
  const started = Date.now()
  await store.close()
  t.ok(Date.now() - started < 1500, 'close while Redis is down is bounded by closeTimeout')
  await t.rejects(store.list('room'), /closed/)
  await t.rejects(store.subscribe('room', () => {}), /closed/)
})

t.test('a transport of the wiring\'s choice carries the changes; malformed ones are dropped', { skip }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  await redis.start()
  // An in-process bus standing in for the app's pub/sub engine.
  const bus = new EventEmitter()
  const transport: PresenceTransport = {
    publish: async (channel, payload) => { bus.emit(channel, payload) },
    subscribe: async (channel, receive) => {
      bus.on(channel, receive)
      return () => { bus.removeListener(channel, receive) }
    }
  }
  const prefix = `test:${uid()}:`
  const log = new RecordingLog()
  const [a, b] = [0, 1].map(() => new RedisPresenceStore({ redis: redis.url, prefix, transport, log: log.log, closeTimeout: 300 }))
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await Promise.all([a.ready(), b.ready()])
  const rec = new Recorder()
  const stop = await b.subscribe('room', rec.listener)
  t.equal(bus.listenerCount('room'), 1)
  await a.track('room', 'a1', 'alice', { x: 1 })
  await rec.until((s) => connsOf(s).length === 1)
  t.same(JSON.parse(JSON.stringify(rec.state)), { alice: { metas: [{ x: 1, conn: 'a1' }] } }, 'a change from a reached b')

  const junk = ['not json', '42', 'null', '{"o":1,"c":[]}', '{"o":"x"}', '{"o":"x","c":[null]}', '{"o":"x","c":[{"j":[],"l":{}}]}', '{"o":"x","c":[{"j":{"k":{"metas":"no"}},"l":{}}]}']
  for (const payload of junk) bus.emit('room', payload)
  await log.waitFor('warn', 'malformed change')
  t.equal(log.at('warn').filter((e) => e.msg?.includes('malformed')).length, junk.length, 'each malformed message is dropped with a warning')
  bus.emit('room', JSON.stringify({ o: 'other', c: [{ j: { k: { metas: [{ conn: 'ok' }, { bad: true }, null] } }, l: {} }] }))
  await rec.until((s) => 'k' in s)
  t.same(rec.state.k.metas, [{ conn: 'ok' }], 'metas without a conn are left out')
  const throwing = await b.subscribe('room', () => { throw new Error('listener bug') })
  await a.untrack('room', 'a1')
  await log.waitFor('error', 'a listener threw')
  await rec.until((s) => !('alice' in s))
  t.pass('a throwing listener is logged and the others still hear')
  throwing()
  stop()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(bus.listenerCount('room'), 0, 'the last stop releases the transport subscription')
})

t.test('options are checked', async (t) => {
  t.throws(() => new RedisPresenceStore({ redis: 'redis://127.0.0.1:1', prefix: 'x:', ttl: 0, log: new RecordingLog().log }), /ttl must be at least 30 ms/)
  t.throws(() => new RedisPresenceStore({ redis: 'redis://127.0.0.1:1', prefix: 'x:', processId: 'a}b', log: new RecordingLog().log }), /processId must be/)
  const never = new RedisPresenceStore({ redis: { port: await freePort(), host: '127.0.0.1', retryStrategy: () => null }, prefix: 'x:', log: new RecordingLog().log, closeTimeout: 200 })
  await t.rejects(never.ready(), /closed before it was ready/, 'ready() rejects when Redis never answers')
  await never.close()
})
