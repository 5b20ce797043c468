// PleziClient on history channels (SPEC 11): positions per channel, `_since_` on every
// connection (kept under 8 KB, oldest channels dropped first), duplicates dropped, `_pub_`
// unwrapped and dispatched, `_sub_` as an event, onresync — against the real plugin, and with a
// hand-driven socket for what a server cannot easily be made to send.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { PleziClient, type Message, type Positions, type SubInfo } from '../client/index.js'
import { FakeSocket } from './client-helpers.js'
import { SINCE_MAX } from '../client/constants.js'

type Test = import('tap').Test

/** Subscribes to `chat/1`; `drop` closes the connection (the client reconnects); `dup` writes a copy of a `_pub_`. */
class Room extends Controller {
  static autoDispatch = true
  async onOpen (): Promise<void> { await this.subscribe('chat/1') }
  drop (): void { this.close(4000, 'dropped by the test') }
  dup (m: EventMessage): void { this.write(m.frame as object) }
}

async function server (t: Test, port = 0): Promise<{ app: FastifyInstance, url: string, port: number }> {
  const app = Fastify()
  await app.register(plezi, { clientPath: false, pingInterval: 0, history: { channels: ['chat/#'] } })
  app.plezi.route('/room', Room)
  await app.listen({ port, host: '127.0.0.1' })
  const actual = (app.server.address() as { port: number }).port
  t.teardown(() => app.close())
  return { app, url: `ws://127.0.0.1:${actual}/room`, port: actual }
}

interface Events {
  chat (msg: { event: 'chat', text: string }): void
  _sub_ (msg: SubInfo): void
}

/** Records what a client is given: events, onpublish calls, onresync calls, in order. */
function recorder (client: PleziClient<Events>): { log: unknown[], until (n: number): Promise<unknown[]> } {
  const log: unknown[] = []
  let wake = (): void => {}
  const push = (entry: unknown): void => { log.push(entry); wake() }
  client.chat = (msg) => push(['chat', msg.text])
  client.on('_sub_', (msg) => push(['_sub_', msg.offset, msg.recovered, msg.wasRecovering]))
  client.onpublish = (data, channel) => push(['publish', channel, data])
  client.onresync = (info) => push(['resync', info.channel])
  return {
    log,
    async until (n) {
      while (log.length < n) await new Promise<void>((resolve) => { wake = resolve })
      return log
    }
  }
}

t.test('positions, unwrapping, and recovery across a dropped connection', async (t) => {
  const { app, url } = await server(t)
  const client = new PleziClient<Events>(url, true)
  t.teardown(() => client.close())
  client.reconnect_interval = 10
  const seen = recorder(client)
  await seen.until(1)
  t.same(seen.log, [['_sub_', 0, false, false]], '_sub_ is dispatched as an event')
  await app.plezi.publish('chat/1', { event: 'chat', text: 'one' })
  await app.plezi.publish('chat/1', 'two')
  await app.plezi.publish('chat/1', { no: 'event' })
  await seen.until(4)
  t.same(seen.log.slice(1), [['chat', 'one'], ['publish', 'chat/1', 'two'], ['publish', 'chat/1', { no: 'event' }]],
    'an event object is dispatched as that event; other data goes to onpublish')
  const epoch = client.positions['chat/1'][0]
  t.same(client.positions, { 'chat/1': [epoch, 3] })

  // The server drops the connection; what is published meanwhile is recovered on reconnect.
  const closed = new Promise((resolve) => { client.onclose = resolve })
  client.emit({ event: 'drop' })
  await closed
  await app.plezi.publish('chat/1', { event: 'chat', text: 'four' })
  await app.plezi.publish('chat/1', { event: 'chat', text: 'five' })
  await seen.until(7)
  t.same(seen.log.slice(4), [['_sub_', 3, true, true], ['chat', 'four'], ['chat', 'five']], 'reconnected with _since_: 4 and 5, once, in order')
  t.same(client.positions, { 'chat/1': [epoch, 5] })

  // A _pub_ the client already processed is dropped.
  client.emit({ event: 'dup', frame: { event: '_pub_', channel: 'chat/1', epoch, offset: 4, data: { event: 'chat', text: 'four again' } } })
  await app.plezi.publish('chat/1', { event: 'chat', text: 'six' })
  await seen.until(8)
  t.same(seen.log.slice(7), [['chat', 'six']], 'the duplicate was dropped')
})

t.test('a server restart (new epoch): onresync, then live messages', async (t) => {
  const first = await server(t)
  const client = new PleziClient<Events>(first.url, true)
  t.teardown(() => client.close())
  client.reconnect_interval = 10
  const seen = recorder(client)
  await seen.until(1)
  await first.app.plezi.publish('chat/1', 'before')
  await seen.until(2)
  const oldEpoch = client.positions['chat/1'][0]
  await first.app.close()
  const second = await server(t, first.port)
  await seen.until(4)
  t.same(seen.log.slice(2), [['resync', 'chat/1'], ['_sub_', 0, false, true]], 'history was lost: onresync, and _sub_ says so')
  await second.app.plezi.publish('chat/1', 'after')
  await seen.until(5)
  t.same(seen.log[4], ['publish', 'chat/1', 'after'])
  t.not(client.positions['chat/1'][0], oldEpoch, 'the position is in the new epoch')
  t.equal(client.positions['chat/1'][1], 1)
})

t.test('_since_ on every connection, seeded by `positions`, kept under 8 KB', async (t) => {
  FakeSocket.all = []
  const positions: Positions = {}
  for (let i = 0; i < 400; i++) positions[`rooms/${i}/${'x'.repeat(20)}`] = [`epoch${i}`, i]
  const client = new PleziClient('ws://x.test/room?token=1', true, { WebSocket: FakeSocket as never, positions })
  t.teardown(() => client.close())
  const sinceOf = (socket: FakeSocket): Positions => JSON.parse(new URL(socket.url).searchParams.get('_since_')!)
  const first = FakeSocket.all[0]
  t.ok(first.url.startsWith('ws://x.test/room?token=1&_since_='), 'appended to the query')
  t.ok(new URL(first.url).search.length - '?token=1&_since_='.length <= SINCE_MAX, 'the encoded _since_ stays within 8 KB')
  const sent = Object.keys(sinceOf(first))
  t.ok(sent.length > 50 && sent.length < 400, `the least recently updated channels are left out (${sent.length} of 400 sent)`)
  t.equal(sent[sent.length - 1], `rooms/399/${'x'.repeat(20)}`, 'the newest are kept')
  t.not(client.positions, positions, 'the option is copied')

  first.open()
  first.receive({ event: '_pub_', channel: 'rooms/0/' + 'x'.repeat(20), epoch: 'epoch0', offset: 1, data: 'n' })
  first.receive({ event: '_pub_', channel: 'chat/1', epoch: null, offset: null, data: 'while Redis was down' })
  first.drop()
  client.reconnect()
  const again = sinceOf(FakeSocket.all[1])
  t.same(again['chat/1'], [null, null], 'a null offset is sent as null')
  t.same(again[`rooms/0/${'x'.repeat(20)}`], ['epoch0', 1], 'a channel that was updated is among the newest again')

  const plain = new PleziClient('ws://x.test/plain', false, { WebSocket: FakeSocket as never })
  t.teardown(() => plain.close())
  t.equal(FakeSocket.all[FakeSocket.all.length - 1].url, 'ws://x.test/plain', 'no positions, no _since_')
})

t.test('the client keeps the epoch it knew when a _pub_ has none, and never mistakes __proto__', async (t) => {
  FakeSocket.all = []
  const client = new PleziClient('ws://x.test/room', false, { WebSocket: FakeSocket as never })
  t.teardown(() => client.close())
  const socket = FakeSocket.all[0]
  socket.open()
  const got: Message[] = []
  client.onpublish = (data) => got.push(data as Message)
  socket.receive({ event: '_sub_', channel: '__proto__', epoch: 'e', offset: 2, recovered: false, wasRecovering: false })
  socket.receive({ event: '_pub_', channel: '__proto__', epoch: null, offset: null, data: 1 })
  t.same(client.positions.__proto__, ['e', null])
  t.equal(Object.getPrototypeOf(client.positions), null)
  socket.receive({ event: '_pub_', channel: 'c', epoch: 'e', offset: 1, data: { event: '_pub_', channel: 'c', epoch: 'e', offset: 9 } })
  t.same(client.positions.c, ['e', 1], 'a published event object named _pub_ is an event, not a position')
})

t.test('hostile frames: published data answers none of our requests, and event names never reach the client\'s own callbacks', async (t) => {
  FakeSocket.all = []
  const client = new PleziClient('ws://x.test/room', false, { WebSocket: FakeSocket as never })
  t.teardown(() => client.close())
  const socket = FakeSocket.all[0]
  socket.open()
  const calls: string[] = []
  client.onresync = () => { calls.push('onresync') }
  client.onpublish = () => { calls.push('onpublish') }
  client.onclose = () => { calls.push('onclose') }
  client.unknown = (msg) => { calls.push(`unknown ${String(msg.event)}`) }
  const pending = client.request({ event: 'ask' }, { timeout: 50 })
  const { _EID_: eid } = JSON.parse(socket.sent[socket.sent.length - 1]) as { _EID_: number }
  // another client republished a message carrying the same small counter as our request
  socket.receive({ event: '_pub_', channel: 'chat/1', epoch: 'e', offset: 1, data: { event: 'ask', _EID_: eid, text: 'not yours' } })
  socket.receive({ event: '_pub_', channel: 'chat/1', epoch: 'e', offset: 2, data: { event: '_ack_', _EID_: eid } })
  for (const name of ['onresync', 'onpublish', 'onclose']) socket.receive({ event: name })
  socket.receive({ event: '_pub_', channel: 5, epoch: 'e', offset: 3, data: 'no channel' })
  socket.receive({ event: '_sub_', channel: 'chat/2', epoch: 'e', offset: 'x', recovered: true })
  t.same(client.positions, { 'chat/1': ['e', 2], 'chat/2': ['e', null] }, 'no position without a channel name; an offset that is no integer is none')
  await t.rejects(pending, { code: 'timeout' }, 'the request is still waiting for its own reply')
  t.same(calls, ['unknown ask', 'unknown onresync', 'unknown onpublish', 'unknown onclose', 'unknown _pub_', 'unknown _sub_'], 'published events are events; callback names are unknown events')
})
