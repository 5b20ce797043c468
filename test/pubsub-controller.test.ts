// Pub/sub as controllers see it: connection-bound and connectionless subscriptions,
// the three publish forms, wildcards, appName scoping, frame-once fan-out, engine life cycle.
import t from 'tap'
import Fastify from 'fastify'
import { PubSubMessage } from '../lib/pubsub/pubsub.js'
import mqemitter from 'mqemitter'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, deferred, type Client } from './helpers.js'
import { REDIS_URL, uniqueAppName, ciRequiresRedis, redisAnswers } from './fixtures/pubsub-helpers.js'
import { listenerCountOf } from './fixtures/plezi-internals.js'

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail(`Redis is required under CI but does not answer at ${REDIS_URL}`)
const redisSkip = redisUp ? false : `REDIS NOT RUNNING at ${REDIS_URL}: SKIPPED (start redis-server; under CI=true this fails)`

class Listener extends Controller {
  static autoDispatch = true
  async onOpen () {
    const channel = String(this.params.channel ?? 'news')
    await this.subscribe(channel)
    this.write({ event: 'subscribed', channel })
  }

  async sub (m: EventMessage) {
    const channel = String(m.channel)
    if (m.handled) {
      await this.subscribe(channel, (message: unknown, published: string) => {
        this.write({ event: 'handled', channel: published, message })
      })
    } else {
      await this.subscribe(channel)
    }
    return { event: 'ok' }
  }

  unsub (m: EventMessage) { this.unsubscribe(String(m.channel)); return { event: 'ok' } }
  async pub (m: EventMessage) { return { event: 'published', ok: await this.publish(String(m.channel), m.message) } }
}

async function subscribed (client: Client): Promise<void> {
  const frame = JSON.parse((await client.next()).toString())
  if (frame.event !== 'subscribed') throw new Error(`expected subscribed, got ${JSON.stringify(frame)}`)
}

async function ok (client: Client, message: object): Promise<void> {
  client.send(message)
  const reply = JSON.parse((await client.next()).toString())
  if (reply.event !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(reply)}`)
}

t.test('forwarded messages keep their kind: string → text, Buffer → binary, object → JSON', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const c = await connect(t, `${wsUrl}/l`)
  await subscribed(c)
  t.equal(await app.plezi.publish('news', 'plain text'), true)
  t.equal(await c.next(), 'plain text')
  await app.plezi.publish('news', Buffer.from([1, 2, 3]))
  t.same(await c.next(), Buffer.from([1, 2, 3]))
  await app.plezi.publish('news', { headline: 'x', list: [1] })
  t.equal(await c.next(), '{"headline":"x","list":[1]}')
  await app.plezi.publish('news', [1, 'a'])
  t.equal(await c.next(), '[1,"a"]')
})

t.test('handlers run instead; re-subscribing replaces; unsubscribe stops delivery', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const c = await connect(t, `${wsUrl}/l?channel=other`)
  await subscribed(c)
  await ok(c, { event: 'sub', channel: 'news', handled: true })
  await app.plezi.publish('news', { a: 1 })
  t.same(JSON.parse((await c.next()).toString()), { event: 'handled', channel: 'news', message: { a: 1 } })
  await ok(c, { event: 'sub', channel: 'news' })
  await app.plezi.publish('news', 'raw now')
  t.equal(await c.next(), 'raw now', 'the second subscription replaced the handler, no duplicate')
  await ok(c, { event: 'unsub', channel: 'news' })
  await app.plezi.publish('news', 'not for you')
  await app.plezi.publish('other', 'marker')
  t.equal(await c.next(), 'marker', 'nothing arrived from the unsubscribed channel')
})

t.test('three ways to publish, and connectionless subscriptions', async (t) => {
  class Room extends Listener {}
  const heard: Array<[unknown, string]> = []
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const stop = await app.plezi.subscribe('news', (message, channel) => { heard.push([message, channel]) })
  const c = await connect(t, `${wsUrl}/room`)
  await subscribed(c)
  c.send({ event: 'pub', channel: 'news', message: 'from the instance' })
  t.equal(await c.next(), 'from the instance', 'the publisher hears itself once')
  t.same(JSON.parse((await c.next()).toString()), { event: 'published', ok: true })
  t.equal(await Room.publish('news', 'from the class'), true)
  t.equal(await c.next(), 'from the class')
  t.equal(await Controller.publish('news', 'from the base class'), true, 'one app: the base class finds it')
  t.equal(await c.next(), 'from the base class')
  t.equal(await app.plezi.publish('news', 'from the app'), true)
  t.equal(await c.next(), 'from the app')
  t.same(heard, [['from the instance', 'news'], ['from the class', 'news'], ['from the base class', 'news'], ['from the app', 'news']])
  stop()
  await app.plezi.publish('news', 'after stop')
  t.equal(await c.next(), 'after stop')
  t.equal(heard.length, 4, 'the connectionless subscription ended')
})

t.test('a throwing connectionless handler is logged and others still hear', async (t) => {
  const errors: string[] = []
  const { app } = await build(t, () => {}, {}, { logger: { level: 'error', stream: { write: (l: string) => { errors.push(JSON.parse(l).err?.message) } } } })
  const got = deferred<unknown>()
  await app.plezi.subscribe('x', () => { throw new Error('sync handler') })
  await app.plezi.subscribe('x', async () => { throw new Error('async handler') })
  await app.plezi.subscribe('x', (m) => { got.resolve(m) })
  await app.plezi.publish('x', 'still delivered')
  t.equal(await got.promise, 'still delivered')
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(errors.includes('sync handler'))
  t.ok(errors.includes('async handler'))
  await t.rejects(app.plezi.subscribe('x', 'nope' as never), TypeError)
})

t.test('wildcards: + is one level, # is the rest', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const plus = await connect(t, `${wsUrl}/l?channel=${encodeURIComponent('rooms/+/chat')}`)
  const hash = await connect(t, `${wsUrl}/l?channel=${encodeURIComponent('rooms/#')}`)
  await subscribed(plus)
  await subscribed(hash)
  for (const channel of ['rooms/blue/chat', 'rooms/blue', 'rooms/blue/chat/extra', 'rooms']) {
    await app.plezi.publish(channel, channel)
  }
  await app.plezi.publish('rooms/red/chat', 'end')
  t.same(await plus.take(2), ['rooms/blue/chat', 'end'])
  t.same(await hash.take(5), ['rooms/blue/chat', 'rooms/blue', 'rooms/blue/chat/extra', 'rooms', 'end'])
})

t.test('subscribe outside a websocket is a coded error; closed connections leave no listeners', async (t) => {
  class Http extends Controller {
    async index () {
      try { await this.subscribe('x') } catch (err) { return { code: (err as { code: string }).code } }
      return 'subscribed?'
    }
  }
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/l', Listener)
    app.plezi.route('/http', Http)
  })
  t.same((await app.inject('/http')).json(), { code: 'PLZ_ERR_NOT_CONNECTED' })
  const clients: Client[] = []
  for (let round = 0; round < 10; round++) {
    const batch = await Promise.all(Array.from({ length: 100 }, (_, i) => connect(t, `${wsUrl}/l?channel=${i % 7 === 0 ? 'shared' : `ch/${round}/${i}`}`)))
    await Promise.all(batch.map(subscribed))
    clients.push(...batch)
    await Promise.all(batch.map((c) => c.close()))
  }
  t.equal(clients.length, 1000)
  await t.resolveMatch(listenerCountOf(app), 0, 'no engine listener left after 1,000 connections came and went')
})

t.test('fan-out frames a message once for all local subscribers', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const clients = await Promise.all(Array.from({ length: 50 }, () => connect(t, `${wsUrl}/l`)))
  await Promise.all(clients.map(subscribed))
  const descriptor = Object.getOwnPropertyDescriptor(PubSubMessage.prototype, 'frame')!
  const built = new Set<Buffer>()
  let asked = 0
  Object.defineProperty(PubSubMessage.prototype, 'frame', {
    configurable: true,
    get (this: PubSubMessage) { asked++; const frame = descriptor.get!.call(this) as Buffer; built.add(frame); return frame }
  })
  t.teardown(() => { Object.defineProperty(PubSubMessage.prototype, 'frame', descriptor) })
  await app.plezi.publish('news', { big: 'x'.repeat(1000) })
  const frames = await Promise.all(clients.map((c) => c.next()))
  Object.defineProperty(PubSubMessage.prototype, 'frame', descriptor)
  t.equal(asked, 50, 'every subscriber wrote the message\'s frame')
  t.equal(built.size, 1, 'one frame object (the same bytes) for all 50 subscribers')
  t.ok(frames.every((f) => f === frames[0]), 'every subscriber got the same message')
})

t.test('appName scopes channels; an app-supplied emitter stays open after close', async (t) => {
  const emitter = mqemitter()
  t.teardown(() => new Promise<void>((resolve) => emitter.close(() => resolve())))
  const make = async (appName: string) => {
    const app = Fastify()
    await app.register(plezi, { emitter, appName, pingInterval: 0 })
    await app.ready()
    return app
  }
  const one = await make('one')
  const oneAgain = await make('one')
  const two = await make('two')
  const heardByTwo: unknown[] = []
  const heardByOne = deferred<unknown>()
  await two.plezi.subscribe('news', (m) => { heardByTwo.push(m) })
  await oneAgain.plezi.subscribe('news', (m) => { heardByOne.resolve(m) })
  await one.plezi.publish('news', 'for app one')
  t.equal(await heardByOne.promise, 'for app one', 'the same appName shares channels')
  await two.plezi.publish('marker', 'x')
  t.same(heardByTwo, [], 'another appName hears nothing')
  await Promise.all([one.close(), oneAgain.close(), two.close()])
  t.equal((emitter as unknown as { closed: boolean }).closed, false, 'the app-supplied emitter was not closed')
})

t.test('with Redis: apps on one Redis are scoped by appName; close() closes the engine', { skip: redisSkip }, async (t) => {
  const name = uniqueAppName('controller')
  const make = async (appName: string) => {
    const app = Fastify()
    await app.register(plezi, { redis: REDIS_URL, appName, pingInterval: 0 })
    await app.ready()
    return app
  }
  const a = await make(name)
  const b = await make(name)
  const other = await make(`${name}_other`)
  const heard = deferred<unknown>()
  const otherHeard: unknown[] = []
  await b.plezi.subscribe('news', (m) => { heard.resolve(m) })
  await other.plezi.subscribe('news', (m) => { otherHeard.push(m) })
  t.equal(await a.plezi.publish('news', { via: 'redis' }), true)
  t.same(await heard.promise, { via: 'redis' })
  const marker = deferred<unknown>()
  await other.plezi.subscribe('marker', (m) => { marker.resolve(m) })
  await a.plezi.publish('marker', 'm')
  await other.plezi.publish('marker', 'own')
  t.equal(await marker.promise, 'own')
  t.same(otherHeard, [], 'a different appName on the same Redis heard nothing')
  await Promise.all([a.close(), b.close(), other.close()])
  t.equal(await a.plezi.publish('news', 'after close'), false, 'the engine is closed with the app')
})

t.test('REDIS_URL in the environment selects the Redis engine', { skip: redisSkip }, async (t) => {
  const saved = { PL_REDIS_URL: process.env.PL_REDIS_URL, REDIS_URL: process.env.REDIS_URL }
  t.teardown(() => { Object.assign(process.env, saved); for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k] })
  delete process.env.PL_REDIS_URL
  process.env.REDIS_URL = REDIS_URL
  const appName = uniqueAppName('env')
  const apps = await Promise.all([0, 1].map(async () => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(plezi, { appName, pingInterval: 0 })
    await app.ready()
    return app
  }))
  const heard = deferred<unknown>()
  await apps[1].plezi.subscribe('env', (m) => { heard.resolve(m) })
  await apps[0].plezi.publish('env', 'through redis')
  // two in-process engines would never meet: only Redis connects these two apps
  t.equal(await heard.promise, 'through redis')
})

t.test('Controller.publish needs an app it can find', async (t) => {
  class Lonely extends Controller {}
  t.throws(() => Lonely.publish('x', 1), { code: 'PLZ_ERR_NO_APP', message: /no app/ })
  const first = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const second = await build(t, (app) => { app.plezi.route('/l', Listener) })
  t.throws(() => Controller.publish('x', 1), { code: 'PLZ_ERR_NO_APP', message: /2 apps/ })
  t.throws(() => Listener.publish('x', 1), { code: 'PLZ_ERR_NO_APP', message: /routed by 2 apps/ })
  t.ok(first.app.plezi && second.app.plezi)
})
