// The periodic position check (option history.checkInterval, Redis only): messages history holds
// that the pub/sub never delivered — no later message reveals them, no reconnect happened — are
// delivered from history, once for all subscribers, in order; messages in flight are never taken
// for a gap; checks never overlap; a failing read is logged and the server keeps serving; no
// check runs in the process or when disabled. Appends that publish nothing (a RedisHistoryStore
// without `publish`: the same script, minus its PUBLISH) stand for pub/sub messages Redis lost.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { Redis } from 'ioredis'
import { RedisHistoryStore } from '../lib/pubsub/history/redis-store.js'
import { PositionCheck, type CheckTarget } from '../lib/pubsub/history/position-check.js'
import type { Seen } from '../lib/pubsub/history/history.js'
import type { Position } from '../lib/pubsub/history/store.js'
import { resolveOptions } from '../lib/options.js'
import { contextOf } from '../lib/context.js'
import { build, connect, deferred, logCapture } from './helpers.js'
import { PrivateRedis, REDIS_URL, RecordingLog, freePort, uniqueAppName } from './fixtures/pubsub-helpers.js'
import { HistoryRoom, nextSub, pubs, range, historyRedis } from './fixtures/history-helpers.js'

const { skip: redisSkip, appNameFor } = await historyRedis(t, 'hcheck')
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
const serverSkip = hasRedisServer ? false : 'REDIS-SERVER NOT INSTALLED: SKIPPED'

const HEALS = /position check: history holds messages/

function seenAt (epoch: string, last: number): Seen {
  return { epoch, last, delivered: true, held: null, lastMessage: undefined, lastPassed: true }
}

/** A PositionCheck over channels of our own, its reads answered by `answer` (run by hand: the timer is far off). */
function fakeCheck (t: { teardown (fn: () => unknown): void }, seen: Map<string, Seen>, answer: (channels: readonly string[]) => Promise<Array<Position | null>>) {
  const log = new RecordingLog()
  const healed: Array<[string, number]> = []
  const reads: string[][] = []
  const target: CheckTarget = {
    seen,
    positions: (channels) => {
      reads.push([...channels])
      return answer(channels)
    },
    listening: () => (channel) => !channel.startsWith('unheard'),
    heal: (channel, s) => { healed.push([channel, s.last]) }
  }
  const check = new PositionCheck(1_000_000, target, log.log)
  t.teardown(() => { check.close() })
  return { check, log, healed, reads }
}

t.test('history.checkInterval: default, 0 and false disable, bad values name the option', async (t) => {
  t.equal(resolveOptions({ history: { channels: ['chat'] } }).history!.checkInterval, 10_000)
  t.equal(resolveOptions({ history: { channels: ['chat'], checkInterval: 0 } }).history!.checkInterval, 0)
  t.equal(resolveOptions({ history: { channels: ['chat'], checkInterval: false } }).history!.checkInterval, 0)
  t.equal(resolveOptions({ history: { channels: ['chat'], checkInterval: 250 } }).history!.checkInterval, 250)
  for (const bad of [-1, 1.5, '1000', true, null, 2 ** 31, Number.NaN]) {
    t.throws(() => resolveOptions({ history: { channels: ['chat'], checkInterval: bad } }), {
      code: 'PLZ_ERR_OPTION',
      message: /"history\.checkInterval": expected an integer from 0 to 2147483647 \(ms; 0 or false: no check\), received/
    }, `checkInterval: ${String(bad)}`)
  }
  t.throws(() => resolveOptions({ history: { channels: ['chat'], checkIntervall: 5 } }), { message: /known keys are channels, size, ttl, metaTtl, checkInterval/ })
})

t.test('the check, by hand: a gap only when what the previous check read has not arrived', async (t) => {
  const seen = new Map([['a', seenAt('E', 3)], ['b', seenAt('E', 5)], ['unheard', seenAt('E', 0)], ['held', { ...seenAt('E', 0), held: [] }]])
  let store: Record<string, Position | null> = { a: { epoch: 'E', offset: 5 }, b: { epoch: 'E', offset: 5 } }
  const { check, log, healed, reads } = fakeCheck(t, seen, async (channels) => channels.map((c) => store[c] ?? null))
  await check.run()
  t.same(reads, [['a', 'b']], 'one read for the channels heard and not being healed')
  t.same(healed, [], 'the first check only marks')
  seen.get('a')!.last = 4 // 5 still in flight
  store = { a: { epoch: 'E', offset: 7 }, b: { epoch: 'E', offset: 5 } }
  await check.run()
  t.same(healed, [['a', 4]], 'a: 5 was in history at the previous check and has not arrived')
  await check.run()
  t.same(healed, [['a', 4]], 'a gap history could not fill is not read again at every check')
  store = { a: { epoch: 'E', offset: 8 }, b: { epoch: 'E', offset: 5 } }
  await check.run()
  await check.run()
  t.same(healed, [['a', 4], ['a', 4]], '…until something newer than what was healed went missing too')
  seen.get('a')!.last = 8
  store = { a: { epoch: 'E2', offset: 0 }, b: null }
  await check.run()
  await check.run()
  t.same(healed.length, 2, 'a new epoch or a channel gone from Redis is left to the next message')
  t.ok(log.entries.some((e) => e.level === 'debug' && e.msg!.includes('new epoch')))
  t.equal(log.at('info').filter((e) => HEALS.test(e.msg!)).length, 2, 'each heal is logged at info')
  seen.clear()
  await check.run()
  t.equal(check.reads, 7, 'nothing tracked: nothing read')
})

t.test('the check, by hand: never overlaps itself; a failing read warns once, then debug', async (t) => {
  const seen = new Map([['a', seenAt('E', 1)]])
  let reply = deferred<Array<Position | null>>()
  let fail = false
  const { check, log, reads } = fakeCheck(t, seen, async () => {
    if (fail) throw new Error('Connection is closed.')
    return await reply.promise
  })
  const first = check.run()
  await check.run()
  t.equal(reads.length, 1, 'a tick during a read is skipped')
  reply.resolve([{ epoch: 'E', offset: 1 }])
  await first
  fail = true
  await check.run()
  await check.run()
  t.match(log.at('warn'), [{ msg: /position check could not read Redis/, obj: { err: { message: 'Connection is closed.' } } }])
  t.equal(log.at('debug').filter((e) => /could not read Redis/.test(e.msg!)).length, 1, 'repeats at debug')
  fail = false
  reply = deferred()
  const pending = check.run()
  check.close()
  reply.resolve([{ epoch: 'E', offset: 9 }])
  await pending
  await check.run()
  t.equal(reads.length, 4, 'closed: no more reads, and a reply after close is ignored')
})

t.test('the check, by hand: a fault while healing is logged, never unhandled', async (t) => {
  const log = new RecordingLog()
  const seen = new Map([['a', seenAt('E', 1)]])
  const check = new PositionCheck(1_000_000, {
    seen,
    positions: async () => [{ epoch: 'E', offset: 2 }],
    listening: () => () => true,
    heal: () => { throw new Error('boom') }
  }, log.log)
  t.teardown(() => { check.close() })
  await check.run()
  await check.run()
  t.match(log.at('error'), [{ msg: /position check failed/, obj: { err: { message: 'boom' } } }])
})

t.test('RedisHistoryStore.positions: many channels in one pipeline, null for a channel not in Redis', { skip: redisSkip }, async (t) => {
  const prefix = `plezi:checktest:${appNameFor()}:`
  const store = new RedisHistoryStore({ redis: REDIS_URL, prefix })
  t.teardown(() => store.close())
  await store.ready()
  const inspect = new Redis(REDIS_URL)
  t.teardown(async () => {
    const keys = await inspect.keys(`${prefix}*`)
    if (keys.length > 0) await inspect.del(...keys)
    inspect.disconnect()
  })
  const one = await store.append('c1', { kind: 'string', data: 'x' })
  await store.append('c1', { kind: 'string', data: 'y' })
  const { epoch } = await store.latest('c2')
  t.same(await store.positions(['c1', 'c2', 'c3']), [{ epoch: one.epoch, offset: 2 }, { epoch, offset: 0 }, null])
  t.equal(await inspect.exists(store.keys('c3').meta), 0, 'reading positions creates nothing')
  await inspect.set(store.keys('c4').meta, 'not a hash')
  await t.rejects(store.positions(['c1', 'c4']), /WRONGTYPE/, 'one failed command fails the read')
  await store.close()
  await t.rejects(store.positions(['c1']), /closed/)
})

t.test('Redis: messages in history that pub/sub never delivered reach every subscriber, once, in order', { skip: redisSkip }, async (t) => {
  const logs = logCapture('debug')
  const appName = appNameFor()
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) },
    // long enough that a message in flight under a loaded machine has arrived by the next check
    { redis: REDIS_URL, appName, history: { channels: ['chat/#'], checkInterval: 200 } }, { logger: logs.logger })
  const silent = new RedisHistoryStore({ redis: REDIS_URL })
  t.teardown(() => silent.close())
  await silent.ready()
  const key = `${appName}/chat/1`
  const clients = await Promise.all([1, 2].map(() => connect(t, `${wsUrl}/room?channels=chat/1`)))
  const subs = await Promise.all(clients.map(nextSub))
  const handled: unknown[] = []
  await app.plezi.subscribe('chat/1', (message, _channel, position) => { handled.push([position?.offset, message]) })
  const patterned: unknown[] = []
  await app.plezi.subscribe('chat/+', (message, _channel, position) => { patterned.push([position?.offset, message]) }, { pattern: true })

  await app.plezi.publish('chat/1', 1)
  // History advances, the pub/sub message is lost, and nothing comes after it.
  for (const n of [2, 3]) await silent.append(key, { kind: 'json', data: JSON.stringify(n) })
  for (const [i, c] of clients.entries()) {
    const got = await pubs(c, 3)
    t.same(got.map((m) => [m.epoch, m.offset, m.data]), [1, 2, 3].map((n) => [subs[i].epoch, n, n]), `client ${i}: 2 and 3 from history, in order`)
  }
  await logs.waitFor(/filled a gap/)
  t.equal(logs.lines.filter((l) => HEALS.test(l.msg)).length, 1, 'one heal, logged at info')
  t.equal(logs.lines.find((l) => HEALS.test(l.msg))!.level, 30)
  t.equal(logs.lines.filter((l) => /filled a gap/.test(l.msg)).length, 1, 'one read for all the subscribers')

  // Normal publishes across several checks: whatever is in flight at a check is not a gap.
  const pubsub = contextOf(app)!.pubsub
  const until = pubsub.positionChecks! + 5
  let last = 3
  while (pubsub.positionChecks! < until && last < 2000) {
    await app.plezi.publish('chat/1', ++last)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await app.plezi.publish('chat/1', ++last)
  for (const [i, c] of clients.entries()) {
    const got = await pubs(c, last - 3)
    t.same(got.map((m) => m.offset), range(4, last), `client ${i}: 4–${last}, none missing, none twice`)
    t.same(got.map((m) => m.data), range(4, last))
  }
  const all = range(1, last).map((n) => [n, n])
  t.same(handled, all, 'handler subscriptions too')
  t.same(patterned, all, 'and pattern subscriptions')
  t.equal(logs.lines.filter((l) => HEALS.test(l.msg)).length, 1, 'no message in flight was taken for a gap')
})

t.test('Redis: a channel that lost its position (new epoch) without a message is left to the next message', { skip: redisSkip }, async (t) => {
  const logs = logCapture('debug')
  const appName = appNameFor()
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) },
    { redis: REDIS_URL, appName, history: { channels: ['chat/#'], checkInterval: 30 } }, { logger: logs.logger })
  const c = await connect(t, `${wsUrl}/room?channels=chat/1`)
  const { epoch } = await nextSub(c)
  await app.plezi.publish('chat/1', 1)
  t.match(await pubs(c, 1), [{ offset: 1, epoch }])
  const inspect = new Redis(REDIS_URL)
  t.teardown(() => { inspect.disconnect() })
  const silent = new RedisHistoryStore({ redis: REDIS_URL })
  t.teardown(() => silent.close())
  await silent.ready()
  await inspect.del(silent.keys(`${appName}/chat/1`).meta, silent.keys(`${appName}/chat/1`).stream)
  await silent.latest(`${appName}/chat/1`) // a new epoch, as after a Redis restart without persistence
  await logs.waitFor(/new epoch/)
  await app.plezi.publish('chat/1', 'after')
  const resync = await nextSub(c)
  t.match(resync, { recovered: false, wasRecovering: true, offset: 0 }, 'the next message tells the subscriber')
  t.not(resync.epoch, epoch)
  t.match(await pubs(c, 1), [{ offset: 1, data: 'after', epoch: resync.epoch }])
  t.equal(logs.lines.filter((l) => HEALS.test(l.msg)).length, 0, 'nothing healed')
})

t.test('no check without Redis or when disabled', { skip: redisSkip }, async (t) => {
  const inProcess = await build(t, () => {}, { history: { channels: ['chat/#'], checkInterval: 1 } })
  t.equal(contextOf(inProcess.app)!.pubsub.positionChecks, undefined, 'in the process nothing can be lost: no check')
  for (const checkInterval of [0, false] as const) {
    const off = await build(t, () => {}, { redis: REDIS_URL, appName: appNameFor(), history: { channels: ['chat/#'], checkInterval } })
    t.equal(contextOf(off.app)!.pubsub.positionChecks, undefined, `checkInterval: ${String(checkInterval)}`)
  }
  const plain = await build(t, () => {}, { redis: REDIS_URL, appName: appNameFor() })
  t.equal(contextOf(plain.app)!.pubsub.positionChecks, undefined, 'no history, no check')
  const on = await build(t, () => {}, { redis: REDIS_URL, appName: appNameFor(), history: { channels: ['chat/#'] } })
  t.equal(contextOf(on.app)!.pubsub.positionChecks, 0, 'the default: a check every 10 s')
  const started = performance.now()
  await on.app.close()
  t.ok(performance.now() - started < 1000, 'and closing does not wait for it')
})

t.test('Redis down during checks: logged, never unhandled, and the server keeps serving', { skip: serverSkip }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  await redis.start()
  const logs = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) },
    { redis: redis.url, appName: uniqueAppName('hcheckdown'), history: { channels: ['chat/#'], checkInterval: 20 } }, { logger: logs.logger })
  const c = await connect(t, `${wsUrl}/room?channels=chat/1`)
  const { epoch } = await nextSub(c)
  await redis.stop()
  const warned = await logs.waitFor(/position check could not read Redis/)
  t.equal(warned.level, 40, 'the first failure at warn')
  await logs.waitFor(/position check could not read Redis/, logs.lines.indexOf(warned) + 1)
  t.equal(logs.lines.filter((l) => /position check could not read Redis/.test(l.msg) && l.level === 40).length, 1, 'repeats at debug')
  t.equal(await app.plezi.publish('chat/1', 'during'), false)
  t.same(await pubs(c, 1), [{ event: '_pub_', channel: 'chat/1', epoch, offset: null, data: 'during' }], 'local delivery goes on')
  const late = await connect(t, `${wsUrl}/room?channels=chat/1`)
  t.match(await nextSub(late), { channel: 'chat/1', epoch, offset: 0 }, 'new connections are served')
})
