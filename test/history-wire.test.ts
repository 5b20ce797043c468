// History channels on the wire (SPEC 11), in-process and on Redis: `_sub_` before any message,
// `_pub_` envelopes framed once per publish, subscribe() resolving to the position, handler
// positions, patterns and other channels untouched, Buffers refused at the call, and
// app.plezi.history().
import t from 'tap'
import { Controller, type PleziOptions } from '../lib/index.js'
import { build, connect, deferred } from './helpers.js'
import { REDIS_URL, countFrames } from './fixtures/pubsub-helpers.js'
import { HistoryRoom, expectEvent, nextSub, pubs, range, historyRedis } from './fixtures/history-helpers.js'

const { skip: redisSkip, appNameFor } = await historyRedis(t, 'hwire')

const HISTORY = { channels: ['chat/#', 'orders/+'], size: 20 }

const engines: Array<[string, () => PleziOptions, false | string]> = [
  ['in-process', () => ({ history: HISTORY }), false],
  ['Redis', () => ({ history: HISTORY, redis: REDIS_URL, appName: appNameFor() }), redisSkip]
]

for (const [engine, options, skip] of engines) {
  t.test(`${engine}: _sub_ first, then one _pub_ per publish with offsets 1, 2, 3`, { skip }, async (t) => {
    const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, options())
    const c = await connect(t, `${wsUrl}/room?channels=chat/1`)
    const sub = await nextSub(c)
    t.match(sub, { event: '_sub_', channel: 'chat/1', epoch: String, offset: 0, recovered: false, wasRecovering: false })
    t.equal(await app.plezi.publish('chat/1', { text: 'hi' }), true)
    await app.plezi.publish('chat/1', 'plain')
    await app.plezi.publish('chat/1', [1, 2])
    const [a, b, c3] = await pubs(c, 3)
    t.same(a, { event: '_pub_', channel: 'chat/1', epoch: sub.epoch, offset: 1, data: { text: 'hi' } })
    t.same(b, { event: '_pub_', channel: 'chat/1', epoch: sub.epoch, offset: 2, data: 'plain' })
    t.same(c3, { event: '_pub_', channel: 'chat/1', epoch: sub.epoch, offset: 3, data: [1, 2] })

    // A later subscriber starts at the latest offset.
    const d = await connect(t, `${wsUrl}/room?channels=chat/1`)
    t.match(await nextSub(d), { epoch: sub.epoch, offset: 3, recovered: false, wasRecovering: false })
    await app.plezi.publish('chat/1', 'four')
    t.match((await pubs(d, 1))[0], { offset: 4, data: 'four' })
    t.match((await pubs(c, 1))[0], { offset: 4, data: 'four' })
  })

  t.test(`${engine}: subscribe() resolves to the position; handlers get (message, channel, position)`, { skip }, async (t) => {
    const resolved = deferred<unknown>()
    class Positions extends Controller {
      static autoDispatch = true
      async onOpen (): Promise<void> {
        resolved.resolve({ history: await this.subscribe('orders/7'), plain: await this.subscribe('news') })
      }
    }
    const { app, wsUrl } = await build(t, (app) => {
      app.plezi.route('/p', Positions)
      app.plezi.route('/room', HistoryRoom)
    }, options())
    await app.plezi.publish('orders/7', 'before')
    await connect(t, `${wsUrl}/p`)
    t.match(await resolved.promise, { history: { epoch: String, offset: 1, recovered: false, wasRecovering: false }, plain: undefined })

    const c = await connect(t, `${wsUrl}/room?channels=news`)
    c.send({ event: 'sub', channel: 'orders/7' })
    const reply = await expectEvent<{ position: { epoch: string } }>(c, 'subscribed')
    t.match(reply.position, { epoch: String, offset: 1, recovered: false, wasRecovering: false }, 'a handler subscription has a position too, and no _sub_')
    const seen: unknown[] = []
    const stop = await app.plezi.subscribe('orders/7', (message, channel, position) => { seen.push({ message, channel, position }) })
    await app.plezi.publish('orders/7', { n: 2 })
    t.same(await c.json(), { event: 'handled', channel: 'orders/7', message: { n: 2 }, position: { epoch: reply.position.epoch, offset: 2 } })
    t.same(seen, [{ message: { n: 2 }, channel: 'orders/7', position: { epoch: reply.position.epoch, offset: 2 } }], 'connectionless handlers get the position')
    stop()
  })

  t.test(`${engine}: patterns and channels without history keep today's frames`, { skip }, async (t) => {
    class Mixed extends Controller {
      static autoDispatch = true
      async onOpen (): Promise<void> {
        await this.subscribe('chat/#', { pattern: true })
        await this.subscribe('news')
        this.write('ready')
      }
    }
    const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/m', Mixed) }, options())
    const c = await connect(t, `${wsUrl}/m`)
    t.equal(await c.next(), 'ready', 'no _sub_ for a pattern nor for a channel without history')
    await app.plezi.publish('chat/9', { text: 'x' })
    t.equal(await c.next(), '{"text":"x"}', 'a pattern subscription gets the message itself')
    await app.plezi.publish('news', { text: 'y' })
    t.equal(await c.next(), '{"text":"y"}')
  })
}

t.test('a _pub_ envelope is framed once for every direct subscriber', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { history: HISTORY })
  const clients = await Promise.all(Array.from({ length: 50 }, () => connect(t, `${wsUrl}/room?channels=chat/1`)))
  await Promise.all(clients.map(nextSub))
  const frameCount = countFrames(t)
  await app.plezi.publish('chat/1', { big: 'x'.repeat(1000) })
  const frames = await Promise.all(clients.map((c) => c.next()))
  frameCount.stop()
  t.equal(frameCount.asked, 50, 'every subscriber wrote the envelope\'s frame')
  t.equal(frameCount.built.size, 1, 'one frame object for all 50 subscribers')
  t.match(JSON.parse(frames[0] as string), { event: '_pub_', offset: 1 })
})

t.test('a message published right after subscribing comes after _sub_, once', async (t) => {
  class Eager extends Controller {
    static autoDispatch = true
    onOpen (): void {
      void this.subscribe('chat/1')
      void this.publish('chat/1', 'same tick')
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/e', Eager) }, { history: HISTORY })
  const c = await connect(t, `${wsUrl}/e`)
  t.match(await nextSub(c), { offset: 0 }, '_sub_ says where the client stands before that message')
  t.match(await pubs(c, 1), [{ offset: 1, data: 'same tick' }])
})

t.test('a Buffer published to a history channel throws PLZ_ERR_MESSAGE at the call', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { history: HISTORY })
  let thrown: unknown
  try { void app.plezi.publish('chat/1', Buffer.from('x')) } catch (err) { thrown = err }
  t.ok(thrown instanceof TypeError, 'a TypeError')
  t.throws(() => app.plezi.publish('chat/1', Buffer.from('x')), { code: 'PLZ_ERR_MESSAGE', message: /Buffer cannot be published/ })
  t.throws(() => app.plezi.publish('chat/1', new Uint8Array(2)), { code: 'PLZ_ERR_MESSAGE' })
  t.equal(await app.plezi.publish('news', Buffer.from('x')), true, 'other channels still take bytes')
  const c = await connect(t, `${wsUrl}/room?channels=chat/1`)
  await nextSub(c)
  c.send({ event: 'pub', channel: 'chat/1', message: 'fine' })
  t.match(await c.json(), { event: '_pub_', offset: 1, data: 'fine' })
  t.match(await c.json(), { event: 'published', ok: true })
})

t.test('app.plezi.history(): the last messages, or those after `since`', async (t) => {
  const { app } = await build(t, () => {}, { history: { channels: ['chat/#'], size: 5 } })
  for (const n of range(1, 7)) await app.plezi.publish('chat/log', { n })
  const last = await app.plezi.history<{ n: number }>('chat/log')
  t.match(last, { epoch: String, offset: 7 })
  t.same(last.messages.map((m) => [m.offset, m.message.n]), [[3, 3], [4, 4], [5, 5], [6, 6], [7, 7]], 'the last size messages, oldest first')
  t.same((await app.plezi.history('chat/log', { limit: 2 })).messages.map((m) => m.offset), [6, 7])
  t.same((await app.plezi.history('chat/log', { since: 4, limit: 2 })).messages.map((m) => m.offset), [5, 6])
  t.same((await app.plezi.history('chat/log', { since: 7 })).messages, [])
  t.same((await app.plezi.history('chat/new')).messages, [], 'a channel never published to')
  t.throws(() => app.plezi.history('news'), { code: 'PLZ_ERR_CHANNEL', message: /not a history channel/ })
  t.throws(() => app.plezi.history('chat/#'), { code: 'PLZ_ERR_CHANNEL' })
  t.throws(() => app.plezi.history('chat/log', { since: -1 }), { code: 'PLZ_ERR_OPTION', message: /"since"/ })
  t.throws(() => app.plezi.history('chat/log', { limit: 1.5 }), { code: 'PLZ_ERR_OPTION', message: /"limit"/ })
  await app.plezi.publish('chat/s', 'text')
  t.same((await app.plezi.history('chat/s')).messages, [{ offset: 1, message: 'text' }], 'strings stay strings')
})

t.test('Redis: app.plezi.history() reads the same store as every process', { skip: redisSkip }, async (t) => {
  const appName = appNameFor()
  const a = await build(t, () => {}, { history: HISTORY, redis: REDIS_URL, appName })
  const b = await build(t, () => {}, { history: HISTORY, redis: REDIS_URL, appName })
  const other = await build(t, () => {}, { history: HISTORY, redis: REDIS_URL, appName: appNameFor() })
  await a.app.plezi.publish('chat/x', { from: 'a' })
  await b.app.plezi.publish('chat/x', { from: 'b' })
  t.same((await a.app.plezi.history('chat/x')).messages, [{ offset: 1, message: { from: 'a' } }, { offset: 2, message: { from: 'b' } }])
  t.same((await other.app.plezi.history('chat/x')).messages, [], 'another appName has its own history')
})

t.test('Redis: stats count the history channels this process follows', { skip: redisSkip }, async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { history: HISTORY, redis: REDIS_URL, appName: appNameFor() })
  t.same(app.plezi.stats().history, { channels: 0 })
  const client = await connect(t, `${wsUrl}/room?channels=chat/1`)
  await nextSub(client)
  await app.plezi.publish('chat/1', 'x')
  await pubs(client, 1)
  t.same(app.plezi.stats().history, { channels: 1 }, 'chat/1, heard by a subscriber here')
})




t.test('Redis: a position read for a channel nobody here hears is not kept (it would go stale)', { skip: redisSkip }, async (t) => {
  const { contextOf } = await import('../lib/context.js')
  const appName = appNameFor()
  const options = { history: { channels: ['chat/#'], size: 10 }, redis: REDIS_URL, appName }
  const here = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, options)
  const other = await build(t, () => {}, options)
  t.match(await contextOf(here.app)!.pubsub.position('chat/1'), { offset: 0 })
  for (const n of range(1, 30)) await other.app.plezi.publish('chat/1', n)
  const c = await connect(t, `${here.wsUrl}/room?channels=chat/1`)
  t.match(await nextSub(c), { offset: 30, recovered: false, wasRecovering: false }, 'the latest position, read afresh')
  await other.app.plezi.publish('chat/1', 31)
  t.match(await c.json(), { event: '_pub_', offset: 31 }, 'and no resync')
})
