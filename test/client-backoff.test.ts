// Back-off schedule and the bounded send queue, driven with a fake socket and manual timers.
import t from 'tap'
import fc from 'fast-check'
import { Backoff } from '../client/backoff.js'
import { PleziClient, type WebSocketConstructor } from '../client/index.js'
import { FakeSocket, ManualTimers } from './client-helpers.js'

const WebSocket = FakeSocket as unknown as WebSocketConstructor

function setup (random = (): number => 0.5) {
  FakeSocket.all = []
  const timers = new ManualTimers()
  const client = new PleziClient('ws://example.test/x', true, { WebSocket, timers, random })
  const last = (): FakeSocket => FakeSocket.all[FakeSocket.all.length - 1]!
  return { client, timers, last }
}

t.test('delays double from reconnect_interval up to reconnect_max, and reset after an open', async (t) => {
  const { client, timers, last } = setup()
  client.reconnect_interval = 100
  client.reconnect_max = 1000
  for (let i = 0; i < 6; i++) {
    last().drop()
    timers.runNext() // reconnects
  }
  t.same(timers.delays, [100, 200, 400, 800, 1000, 1000])
  t.equal(FakeSocket.all.length, 7)
  last().open()
  last().drop()
  t.equal(timers.delays.at(-1), 100, 'back to the first step after a successful open')
})

t.test('jitter scales each delay within ±25%', async (t) => {
  for (const [random, expected] of [[0, 150], [0.999999, 250]] as const) {
    const { client, timers, last } = setup(() => random)
    client.reconnect_interval = 200
    last().drop()
    t.equal(Math.round(timers.delays[0]!), expected)
  }
})

t.test('Backoff: every delay stays within its jittered step and under the cap', async () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 100_000 }),
    fc.double({ min: 0, max: 0.99, noNaN: true }), fc.array(fc.double({ min: 0, max: 0.9999, noNaN: true }), { minLength: 1, maxLength: 40 }),
    (base, max, jitter, randoms) => {
      let i = 0
      const b = new Backoff({ base: () => base, max: () => max, jitter, random: () => randoms[i]! })
      for (i = 0; i < randoms.length; i++) {
        const step = base * 2 ** i
        const d = b.next()
        if (d > max || d < Math.min(max, step * (1 - jitter)) - 1e-6 || d > step * (1 + jitter) + 1e-6) return false
      }
      return b.tries === randoms.length
    }
  ))
})

t.test('no reconnection without autoreconnect, and none after close()', async (t) => {
  const { client, timers, last } = setup()
  client.autoreconnect = false
  last().drop()
  t.equal(timers.pending.size, 0)
  client.autoreconnect = true
  client.reconnect()
  client.close()
  t.equal(timers.pending.size, 0)
  t.equal(FakeSocket.all.length, 2)
})

t.test('close() cancels a scheduled reconnection', async (t) => {
  const { client, timers, last } = setup()
  last().drop()
  t.equal(timers.pending.size, 1)
  client.close()
  t.equal(timers.pending.size, 0)
})

t.test('the queue is bounded, flushed in order on open, before onopen runs', async (t) => {
  const { client, last } = setup()
  client.queue_limit = 3
  t.equal(client.emit({ event: 'a' }), true)
  t.equal(client.emit({ event: 'b' }), true)
  t.equal(client.emit({ event: 'c' }), true)
  t.equal(client.emit({ event: 'd' }), false, 'full: refused')
  await t.rejects(client.request({ event: 'e' }), { code: 'unsent' })
  const socket = last()
  let sentBeforeOpen = -1
  client.onopen = () => { sentBeforeOpen = socket.sent.length }
  socket.open()
  t.same(socket.sent.map((s) => JSON.parse(s).event), ['a', 'b', 'c'])
  t.equal(sentBeforeOpen, 3)
  socket.drop()
  t.equal(client.emit({ event: 'f' }), true, 'queued again while reconnecting')
})

t.test('an event whose ack timed out leaves the queue (no double delivery with AJAJ)', async (t) => {
  const { client, timers, last } = setup()
  const timedOut: string[] = []
  client.emit({ event: 'a' }, () => {}, (ev) => { timedOut.push(String(ev.event)) }, 50)
  client.emit({ event: 'b' })
  timers.runNext()
  t.same(timedOut, ['a'])
  last().open()
  t.same(last().sent.map((s) => JSON.parse(s).event), ['b'])
})

t.test('without autoreconnect, events wait only while the socket is connecting', async (t) => {
  FakeSocket.all = []
  const client = new PleziClient({ url: 'ws://example.test/x', WebSocket, timers: new ManualTimers() })
  t.equal(client.autoreconnect, false)
  t.equal(client.emit({ event: 'a' }), true)
  FakeSocket.all[0]!.drop()
  t.equal(client.emit({ event: 'b' }), false)
})

t.test('constructor forms, URLs and a missing WebSocket', async (t) => {
  FakeSocket.all = []
  const timers = new ManualTimers()
  const a = new PleziClient('http://h:1/p', { WebSocket, timers })
  t.equal(a.url, 'ws://h:1/p')
  t.equal(a.ajaj.url, 'http://h:1/p')
  t.equal(a.autoreconnect, false)
  const b = new PleziClient({ url: 'wss://h/p', autoreconnect: true, WebSocket, timers })
  t.equal(b.ajaj.url, 'https://h/p')
  t.equal(b.autoreconnect, true)
  t.equal(PleziClient.origin, '', 'no page origin in Node')
  t.throws(() => new PleziClient({ WebSocket }), TypeError)
  const saved = PleziClient.WebSocket
  PleziClient.WebSocket = undefined
  t.teardown(() => { PleziClient.WebSocket = saved })
  t.throws(() => new PleziClient('ws://h/p'), /no WebSocket/)
})

t.test('a user-set _EID_ is kept and its ack still calls back', async (t) => {
  const { client, timers, last } = setup()
  last().open()
  let acked = 0
  client.emit({ event: 'a', _EID_: 'mine' }, () => { acked++ })
  t.equal(JSON.parse(last().sent[0]!)._EID_, 'mine')
  t.equal(timers.pending.size, 0, 'no timer for a user-set _EID_ (as in Plezi)')
  last().receive({ event: '_ack_', _EID_: 'mine' })
  last().receive({ event: '_ack_', _EID_: 'mine' })
  t.equal(acked, 1)
})
