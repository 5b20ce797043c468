// Recovery through `_since_` (SPEC 11), in-process and on Redis: a client that comes back with
// its position gets every message after it exactly once, in order, then the live ones — also
// while messages keep coming during the recovery; a position history no longer reaches gives
// recovered: false; hostile `_since_` changes nothing else.
import t from 'tap'
import type { PleziOptions } from '../lib/index.js'
import { build, connect, logCapture, rawUpgrade, type Client } from './helpers.js'
import { REDIS_URL } from './fixtures/pubsub-helpers.js'
import { HistoryRoom, expectEvent, nextSub, pubs, range, type PubFrame, historyRedis } from './fixtures/history-helpers.js'

const { skip: redisSkip, appNameFor } = await historyRedis(t, 'hrec')

const HISTORY = { channels: ['chat/#'], size: 10 }

const engines: Array<[string, () => PleziOptions, false | string]> = [
  ['in-process', () => ({ history: HISTORY }), false],
  ['Redis', () => ({ history: HISTORY, redis: REDIS_URL, appName: appNameFor() }), redisSkip]
]

function since (positions: Record<string, unknown>): string {
  return `_since_=${encodeURIComponent(JSON.stringify(positions))}`
}

for (const [engine, options, skip] of engines) {
  t.test(`${engine}: publish 5, terminate, publish 5, reconnect: offsets 6–10 once, in order, then live`, { skip }, async (t) => {
    const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, options())
    const first = await connect(t, `${wsUrl}/room?channels=chat/1`)
    const { epoch } = await nextSub(first)
    for (const n of range(1, 5)) await app.plezi.publish('chat/1', { n })
    const seen = await pubs(first, 5)
    t.same(seen.map((m) => m.offset), range(1, 5))
    first.ws.terminate()
    await first.closed
    for (const n of range(6, 10)) await app.plezi.publish('chat/1', { n })

    const back = await connect(t, `${wsUrl}/room?channels=chat/1&${since({ 'chat/1': [epoch, 5] })}`)
    t.same(await nextSub(back), { event: '_sub_', channel: 'chat/1', epoch, offset: 5, recovered: true, wasRecovering: true })
    const recovered = await pubs(back, 5)
    t.same(recovered.map((m) => [m.offset, (m.data as { n: number }).n]), range(6, 10).map((n) => [n, n]), 'exactly 6–10, in order')
    await app.plezi.publish('chat/1', { n: 11 })
    t.match(await pubs(back, 1), [{ offset: 11, epoch }], 'then live, with nothing repeated in between')
  })

  t.test(`${engine}: what history cannot give is recovered: false, with nothing replayed`, { skip }, async (t) => {
    const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, options())
    for (const n of range(1, 15)) await app.plezi.publish('chat/1', { n }) // size 10: 1–5 are gone
    const { epoch } = await app.plezi.history('chat/1', { limit: 0 })
    const cases: Array<[string, unknown, boolean]> = [
      ['trimmed past the position', [epoch, 2], true],
      ['another epoch', ['not-the-epoch', 12], true],
      ['a null offset (the client saw one while Redis was down)', [epoch, null], true],
      ['a negative offset', [epoch, -1], true],
      ['a fractional offset', [epoch, 1.5], true],
      ['a string offset', [epoch, '12'], true],
      ['a number as epoch', [7, 12], true],
      ['not a pair', [epoch], true],
      ['an object', { epoch, offset: 12 }, true],
      ['an offset past the channel\'s', [epoch, 1e20], true]
    ]
    for (const [i, [what, position, wasRecovering]] of cases.entries()) {
      const c = await connect(t, `${wsUrl}/room?channels=chat/1&${since({ 'chat/1': position })}`)
      t.same(await nextSub(c), { event: '_sub_', channel: 'chat/1', epoch, offset: 15 + i, recovered: false, wasRecovering }, what)
      await app.plezi.publish('chat/1', { what })
      t.match(await pubs(c, 1), [{ data: { what } }], `${what}: nothing replayed, live messages flow`)
      c.ws.terminate()
    }
    const upToDate = await connect(t, `${wsUrl}/room?channels=chat/1&${since({ 'chat/1': [epoch, 25] })}`)
    t.match(await nextSub(upToDate), { offset: 25, recovered: true, wasRecovering: true }, 'a client that saw everything recovers with nothing to replay')
  })

  t.test(`${engine}: messages published during the recovery are neither lost nor repeated`, { skip }, async (t) => {
    const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { ...options(), history: { channels: ['chat/#'], size: 1000 } })
    for (const n of range(1, 50)) await app.plezi.publish('chat/1', n)
    const { epoch } = await app.plezi.history('chat/1', { limit: 0 })
    // Publishing goes on, one message per turn, while 20 clients come back from offset 10.
    let publishing = true
    let published = 50
    const pump = (async () => {
      while (publishing) {
        await app.plezi.publish('chat/1', ++published)
        await new Promise((resolve) => setImmediate(resolve))
      }
    })()
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(t, `${wsUrl}/room?channels=chat/1&${since({ 'chat/1': [epoch, 10] })}`)))
    const subs = await Promise.all(clients.map(nextSub))
    publishing = false
    await pump
    await app.plezi.publish('chat/1', 'end')
    const last = published + 1
    for (const [i, c] of clients.entries()) {
      t.match(subs[i], { offset: 10, recovered: true })
      const got: PubFrame[] = await pubs(c, last - 10)
      t.same(got.map((m) => m.offset), range(11, last), `client ${i}: every offset from 11 to ${last}, once, in order`)
    }
  })
}

t.test('hostile _since_ is ignored, logged at debug, and changes nothing else', async (t) => {
  const logs = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { history: HISTORY }, { logger: logs.logger })
  for (const n of range(1, 3)) await app.plezi.publish('chat/1', n)
  const { epoch } = await app.plezi.history('chat/1', { limit: 0 })
  const ignored: Array<[string, string]> = [
    ['not JSON', '_since_=%7Bnope'],
    ['JSON that is not an object', `_since_=${encodeURIComponent('["chat/1",1]')}`],
    ['null', '_since_=null'],
    ['a number', '_since_=42'],
    ['larger than 8 KB', since({ 'chat/1': [epoch, 1], pad: 'x'.repeat(9000) })],
    ['given twice', `${since({ 'chat/1': [epoch, 1] })}&${since({ 'chat/1': [epoch, 1] })}`],
    ['a __proto__ key', `_since_=${encodeURIComponent(`{"__proto__":{"chat/1":["${epoch}",1]}}`)}`],
    ['a wildcard key', since({ 'chat/#': [epoch, 1], 'chat/+': [epoch, 1] })],
    ['only unknown channels', since({ 'chat/other': [epoch, 1], news: [epoch, 1] })]
  ]
  for (const [what, query] of ignored) {
    const c = await connect(t, `${wsUrl}/room?channels=chat/1&${query}`)
    t.same(await nextSub(c), { event: '_sub_', channel: 'chat/1', epoch, offset: 3, recovered: false, wasRecovering: false }, `${what}: as if absent`)
    c.ws.terminate()
  }
  t.ok(logs.lines.some((l) => l.level === 20 && /_since_ ignored/.test(l.msg)), 'logged at debug')
  t.ok(logs.lines.some((l) => l.level === 20 && /not literal channels were ignored/.test(l.msg)), 'keys that are not channels, too')
  t.notOk(logs.lines.some((l) => l.level >= 40), 'nothing above debug')

  // One bad entry spoils nothing else: the other channel of the same _since_ recovers.
  const mixed = await connect(t, `${wsUrl}/room?channels=chat/1,chat/2&_since_=${encodeURIComponent(`{"__proto__":1,"chat/#":2,"chat/2":"x","chat/1":["${epoch}",1],"constructor":["${epoch}",0]}`)}`)
  t.match(await nextSub(mixed), { channel: 'chat/1', offset: 1, recovered: true, wasRecovering: true })
  t.same((await pubs(mixed, 2)).map((m) => m.offset), [2, 3])
  t.match(await nextSub(mixed), { channel: 'chat/2', recovered: false, wasRecovering: true })
  mixed.send({ event: 'pub', channel: 'chat/2', message: 'still served' })
  t.match(await expectEvent(mixed, '_pub_'), { channel: 'chat/2', data: 'still served' })

  // A URL past Node's 16 KB header limit never reaches us: Node answers 431.
  const huge = await rawUpgrade(wsUrl.replace('ws:', 'http:'), `/room?${since({ 'chat/1': [epoch, 1], pad: 'x'.repeat(100_000) })}`)
  t.match(huge, /^HTTP\/1\.1 431/, 'a 100 KB _since_ gets 431 from Node')
  const after = await connect(t, `${wsUrl}/room?channels=chat/1`)
  t.match(await nextSub(after), { offset: 3 }, 'and the server goes on')
})

t.test('a position is used once per connection, and only by direct subscriptions', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', HistoryRoom) }, { history: HISTORY })
  for (const n of range(1, 3)) await app.plezi.publish('chat/1', n)
  const { epoch } = await app.plezi.history('chat/1', { limit: 0 })
  const c: Client = await connect(t, `${wsUrl}/room?channels=chat/2&${since({ 'chat/1': [epoch, 1] })}`)
  await nextSub(c)
  c.send({ event: 'sub', channel: 'chat/1' })
  t.match(await expectEvent(c, 'subscribed'), { position: { offset: 3, recovered: false, wasRecovering: false } }, 'a handler subscription does not recover')
})
