// PleziClient against the real plugin: emit with ack, ack timeout, event handlers, unknown,
// on/off, sendraw, readyState/connected, log_events.
import t from 'tap'
import { fixture, unackedClient, next, opened, type CalcEvents, type CalcPushes } from './client-helpers.js'
import type { Message, PleziClient } from '../client/index.js'

type Client = PleziClient<CalcPushes, CalcEvents>

t.test('emit with a callback: _EID_, ack callback, then the reply reaches the handler property', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  t.equal(client.connected, true)
  t.equal(client.readyState(), 1)
  const acked = new Promise<[Message, unknown]>((resolve) => {
    t.equal(client.emit({ event: 'sum', a: 1, b: 2 }, (ev, c) => resolve([ev, c])), true)
  })
  const reply = next(client, 'sum')
  const [ev, c] = await acked
  t.equal(c, client, 'the callback gets the client')
  t.equal(ev.event, 'sum')
  t.type(ev._EID_, 'number')
  const msg = await reply
  t.same(msg, { event: 'sum', result: 3, _EID_: ev._EID_ })
})

t.test('emit without callback or timeout sends no _EID_', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const ev = { event: 'sum' as const, a: 2, b: 2 }
  client.emit(ev)
  t.same(await next(client, 'sum'), { event: 'sum', result: 4 })
  t.notOk('_EID_' in ev)
})

t.test('no ack in time: the timeout callback runs, a late ack is ignored', async (t) => {
  const { client, release } = await unackedClient(t) // the server acks nothing until released
  let acks = 0
  const timedOut = new Promise<[Message, unknown]>((resolve) => {
    client.emit({ event: 'sum', a: 1, b: 1 }, () => { acks++ }, (ev, c) => resolve([ev, c]), 30)
  })
  const [ev, c] = await timedOut
  t.equal(ev.event, 'sum')
  t.equal(c, client)
  release()
  await next(client, 'sum') // arrives after the late ack
  t.equal(acks, 0, 'the ack callback never ran')
})

t.test('emit_timeout gives every emit an _EID_; ontimeout is the default timeout handler', async (t) => {
  const { client } = await unackedClient(t) // the server acks nothing until released
  client.emit_timeout = 20
  const timedOut = new Promise<Message>((resolve) => { client.ontimeout = resolve })
  const ev: Message & { event: 'note', n: number } = { event: 'note', n: 1 }
  client.emit(ev)
  t.equal(await timedOut, ev)
  t.type(ev._EID_, 'number')
})

t.test('the default ontimeout warns', async (t) => {
  const { client } = await unackedClient(t) // the server acks nothing until released
  const warnings = t.capture(console, 'warn')
  const done = new Promise<void>((resolve) => {
    client.emit({ event: 'note', n: 1 }, () => {}, (ev, c) => { (c as Client).ontimeout(ev); resolve() }, 10)
  })
  await done
  t.match(warnings()[0]?.args[0], /no ack in time/)
})

t.test('server pushes: handler property and on() listeners, off(), unknown', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const seen: string[] = []
  const listener = (msg: { from: string }): void => { seen.push(`on:${msg.from}`) }
  client.on('hello', listener)
  client.hello = (msg) => { seen.push(`prop:${msg.from}`) }
  const unknown: Message[] = []
  client.unknown = (msg) => { unknown.push(msg) }
  client.emit({ event: 'push', name: 'hello' })
  await client.request({ event: 'echo' }) // the push came before this reply
  t.same(seen, ['prop:server', 'on:server'])

  client.off('hello', listener)
  client.hello = undefined
  client.emit({ event: 'push', name: 'hello' })
  client.emit({ event: 'push', name: 'ghost' })
  client.emit({ event: 'push', name: 'emit' }) // never calls the client's own methods
  await client.request({ event: 'echo' })
  t.same(seen, ['prop:server', 'on:server'], 'no more calls after off()')
  t.same(unknown.map((m) => m.event), ['hello', 'ghost', 'emit'])
})

t.test('an _err_ for an emitted event goes to unknown when nothing handles _err_', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const unknown = new Promise<Message>((resolve) => { client.unknown = resolve })
  client.emit({ event: 'nope' } as never)
  t.match(await unknown, { event: '_err_', status: 404, request: 'nope' })
})

t.test('a throwing handler and non-JSON data are logged, the client keeps working', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const errors = t.capture(console, 'error')
  client.hello = () => { throw new Error('handler bug') }
  client.emit({ event: 'push', name: 'hello' })
  client.emit({ event: 'text' }) // the server answers with a text frame that is not JSON
  const r = await client.request({ event: 'sum', a: 1, b: 1 })
  t.equal(r.result, 2)
  t.same(errors().map((e) => e.args[0]), ['PleziClient: an event handler failed', 'PleziClient: received data that is not JSON'])
})

t.test('sendraw sends as is and returns false when not open; log_events logs messages', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  t.equal(client.sendraw('{}'), false, 'still connecting')
  await opened(client)
  const logs = t.capture(console, 'log')
  client.log_events = true
  const reply = next(client, 'sum')
  t.equal(client.sendraw(JSON.stringify({ event: 'sum', a: 2, b: 5 })), true)
  t.same(await reply, { event: 'sum', result: 7 })
  t.same(logs()[0]?.args, [{ event: 'sum', result: 7 }])
  client.close()
  t.equal(client.sendraw('{}'), false)
  t.equal(client.emit({ event: 'note', n: 1 }), false, 'closed: neither sent nor queued')
})
