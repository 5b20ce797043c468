// Reconnection against the real plugin: the server restarts, the client comes back and the
// events emitted meanwhile arrive exactly once, in order; close() stops it all.
import t from 'tap'
import { closed, fixture, opened, received } from './client-helpers.js'
import type { Timers } from '../client/index.js'

t.test('after a server restart the client reconnects and flushes its queue exactly once', async (t) => {
  const f = fixture(t)
  const first = await f.start()
  const client = f.client(first.url, true)
  client.reconnect_interval = 10
  await opened(client)
  received.length = 0

  const down = closed(client)
  await first.app.close()
  t.equal((await down).code, 1001, 'the server said goodbye')
  t.equal(client.connected, false)

  t.equal(client.emit({ event: 'note', n: 1 }), true, 'queued')
  const acked = new Promise((resolve) => client.emit({ event: 'note', n: 2 }, resolve))
  client.emit({ event: 'note', n: 3 })
  const reply = client.request({ event: 'notes' })

  const back = opened(client)
  await f.start(first.port)
  await back
  t.equal(client.connected, true)
  await acked
  t.same((await reply).notes, [1, 2, 3], 'each queued event arrived once, in order')
  t.same((await client.request({ event: 'notes' })).notes, [1, 2, 3], 'and nothing arrived twice')
})

t.test('the client reconnects when the server drops the connection', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url, true)
  client.reconnect_interval = 10
  await opened(client)
  const down = closed(client)
  const back = opened(client)
  client.emit({ event: 'drop' })
  t.equal((await down).code, 1000)
  await back
  t.equal((await client.request({ event: 'sum', a: 1, b: 1 })).result, 2)
})

t.test('close() stops reconnection and clears pending timers', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const scheduled: number[] = []
  const live = new Set<unknown>()
  const timers: Timers = {
    setTimeout (fn, ms) {
      scheduled.push(ms)
      const id = setTimeout(() => { live.delete(id); fn() }, ms)
      live.add(id)
      return id
    },
    clearTimeout (id) { live.delete(id); clearTimeout(id as NodeJS.Timeout) }
  }
  const client = f.client(url, true, { timers })
  await opened(client)
  client.emit({ event: 'note', n: 1 }, () => {}) // an ack timer, cleared by close()
  const down = closed(client)
  client.close()
  await down
  t.equal(client.autoreconnect, false)
  t.equal(client.readyState(), 3)
  t.equal(scheduled.length, 1, 'only the ack timer was ever set: no reconnection scheduled')
  t.equal(live.size, 0, 'no timer left running')
})

t.test('reconnect() replaces an open connection', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const first = client.ws
  let closes = 0
  client.onclose = () => { closes++ }
  const back = opened(client)
  client.reconnect()
  await back
  t.not(client.ws, first)
  t.equal(first.readyState >= 2, true, 'the old socket is closing or closed')
  t.equal((await client.request({ event: 'sum', a: 2, b: 3 })).result, 5)
  t.equal(closes, 0, 'the old socket reports nothing')
})
