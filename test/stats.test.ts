// app.plezi.stats() and the diagnostics_channel events, against a real server, real clients
// and (for the engine state) a redis-server of our own that goes down and comes back.
import t from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, deferred, logCapture } from './helpers.js'
import { freePort, PrivateRedis, uniqueAppName } from './fixtures/pubsub-helpers.js'

class Room extends Controller {
  static autoDispatch = true
  async onOpen () {
    await this.subscribe('room')
    await this.subscribe('news', () => {})
    this.write('ready')
  }

  say (m: EventMessage) { void this.publish('room', String(m.text)) }
  boom () { throw new Error('handler fault') }
}

/** Collects what one diagnostics channel publishes during the test. */
function watch (t: { teardown (fn: () => void): void }, name: string): unknown[] {
  const seen: unknown[] = []
  const listener = (message: unknown): void => { seen.push(message) }
  subscribe(name, listener)
  t.teardown(() => unsubscribe(name, listener))
  return seen
}

t.test('stats count connections, subscriptions, channels, publishes and deliveries', async (t) => {
  const { logger, waitFor } = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) }, {}, { logger })
  t.same(app.plezi.stats(), {
    connections: 0, subscriptions: 0, channels: 0, published: 0, delivered: 0,
    slowConsumersClosed: 0, backlogPaused: 0, engine: 'local', history: { channels: 0 }, presence: { channels: 0, entries: 0 }
  })
  const clients = await Promise.all([1, 2, 3].map(() => connect(t, `${wsUrl}/room`)))
  for (const c of clients) t.equal(await c.next(), 'ready')
  const stop = await app.plezi.subscribe('audit/log', () => {})
  t.match(app.plezi.stats(), { connections: 3, subscriptions: 7, channels: 3 })
  clients[0].send({ event: 'say', text: 'hi' })
  for (const c of clients) t.equal(await c.next(), 'hi')
  await app.plezi.publish('news', 'handled')
  await app.plezi.publish('nobody/listens', 'x')
  t.match(app.plezi.stats(), { published: 3, delivered: 6 }, '3 deliveries of "hi", 3 to handlers, none for the channel nobody hears')
  stop()
  await clients[2].close()
  await waitFor(/websocket closed/)
  t.match(app.plezi.stats(), { connections: 2, subscriptions: 4, channels: 2 })
})

t.test('stats count slow consumers closed and reads paused for the backlog', async (t) => {
  const gate = deferred()
  const cut = deferred()
  const chunk = 'x'.repeat(64 * 1024)
  class Busy extends Controller {
    onOpen () { this.write('ready') }
    async onMessage (data: string) {
      if (data === 'flood') for (let i = 0; i < 64; i++) this.write(chunk)
      else await gate.promise
    }

    onClose () { cut.resolve() }
  }
  const { lines, logger, waitFor } = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/busy', Busy) }, { maxBufferedAmount: 32 * 1024, maxBacklog: 2 }, { logger })
  const slow = await connect(t, `${wsUrl}/busy`)
  t.equal(await slow.next(), 'ready')
  ;(slow.ws as unknown as { _socket: { pause (): void } })._socket.pause()
  for (let i = 0; i < 20; i++) slow.send('flood') // 80 MiB the client never reads
  await cut.promise // the paused client itself sees nothing
  t.equal(app.plezi.stats().slowConsumersClosed, 1)
  const pausedBefore = app.plezi.stats().backlogPaused
  const behind = await connect(t, `${wsUrl}/busy`)
  t.equal(await behind.next(), 'ready')
  const seen = lines.length
  for (let i = 0; i < 5; i++) behind.send('wait')
  await waitFor(/pausing reads/, seen)
  t.equal(app.plezi.stats().backlogPaused, pausedBefore + 1, 'one more pause: the connection whose handler hangs')
  gate.resolve()
})

t.test('diagnostics_channel: connection open/close, publish, error', async (t) => {
  const connections = watch(t, 'fastify-plezi:connection')
  const publishes = watch(t, 'fastify-plezi:publish')
  const errors = watch(t, 'fastify-plezi:error')
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const client = await connect(t, `${wsUrl}/room?x=1`)
  t.equal(await client.next(), 'ready')
  client.send({ event: 'say', text: 'hi' })
  t.equal(await client.next(), 'hi')
  client.send({ event: 'boom' })
  t.match(await client.json(), { event: '_err_', status: 500 })
  const closedEvent = new Promise<void>((resolve) => {
    const listener = (message: unknown): void => { if ((message as { type: string }).type === 'close') { unsubscribe('fastify-plezi:connection', listener); resolve() } }
    subscribe('fastify-plezi:connection', listener)
  })
  client.ws.close(4000, 'bye')
  await closedEvent
  t.same(connections[0], { type: 'open', url: '/room?x=1' })
  t.match(connections[1], { type: 'close', url: '/room?x=1', code: 4000, reason: 'bye', duration: Number })
  t.same(publishes, [{ channel: 'room', kind: 'string' }])
  t.equal(errors.length, 1)
  t.match(errors[0], { where: 'event', error: { message: 'handler fault' } })
})

t.test("engine: 'up' on Redis, 'down' while it is away, 'up' again", async (t) => {
  const redis = new PrivateRedis(await freePort())
  await redis.start()
  t.teardown(() => redis.stop())
  const { logger, waitFor } = logCapture('info')
  const { app } = await build(t, () => {}, { redis: redis.url, appName: uniqueAppName('stats') }, { logger })
  t.equal(app.plezi.stats().engine, 'up')
  await redis.stop()
  await waitFor(/engine error/)
  t.equal(app.plezi.stats().engine, 'down', 'down while Redis is away')
  await redis.start()
  await waitFor(/engine reconnected/)
  t.equal(app.plezi.stats().engine, 'up', 'up again')
})

t.test('stats count the history channels the in-process store holds', async (t) => {
  const { app } = await build(t, () => {}, { history: { channels: ['chat/#'] } })
  t.same(app.plezi.stats().history, { channels: 0 })
  for (const channel of ['chat/1', 'chat/2', 'chat/1', 'news']) await app.plezi.publish(channel, 'x')
  t.same(app.plezi.stats().history, { channels: 2 }, 'chat/1 and chat/2; news keeps no history')
})
