// Pub/sub as controllers see it: connection-bound and connectionless subscriptions,
// the three publish forms, wildcards, appName scoping, frame-once fan-out, engine life cycle.
import t from 'tap'
import Fastify from 'fastify'
import mqemitter from 'mqemitter'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, deferred, logCapture, type Client } from './helpers.js'
import { REDIS_URL, uniqueAppName, ciRequiresRedis, redisAnswers, countFrames } from './fixtures/pubsub-helpers.js'
import { listenerCountOf } from './fixtures/plezi-internals.js'

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail(`Redis is required under CI but does not answer at ${REDIS_URL}`)
const redisSkip = redisUp ? false : `REDIS NOT RUNNING at ${REDIS_URL}: SKIPPED (start redis-server; under CI=true this fails)`

class Listener extends Controller {
  static autoDispatch = true
  async onOpen () {
    const channel = String(this.params.channel ?? 'news')
    await this.subscribe(channel, { pattern: this.params.pattern === '1' })
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
  t.throws(() => app.plezi.subscribe('x', 'nope' as never), TypeError, 'a bad handler throws at the call')
})

t.test('wildcards with { pattern: true }: + is one level, # is the rest', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/l', Listener) })
  const plus = await connect(t, `${wsUrl}/l?pattern=1&channel=${encodeURIComponent('rooms/+/chat')}`)
  const hash = await connect(t, `${wsUrl}/l?pattern=1&channel=${encodeURIComponent('rooms/#')}`)
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
  const frameCount = countFrames(t)
  await app.plezi.publish('news', { big: 'x'.repeat(1000) })
  const frames = await Promise.all(clients.map((c) => c.next()))
  frameCount.stop()
  t.equal(frameCount.asked, 50, 'every subscriber wrote the message\'s frame')
  t.equal(frameCount.built.size, 1, 'one frame object (the same bytes) for all 50 subscribers')
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

// Rooms named by the client, the way apps write them (publish and subscribe not awaited).
class Rooms extends Controller {
  static autoDispatch = true
  async onOpen () {
    await this.subscribe('rooms/lobby')
    this.write({ event: 'ready' })
  }

  say (m: EventMessage) { this.publish('rooms/' + String(m.room), { text: m.text }); return { event: 'said' } }
  join (m: EventMessage) { this.subscribe('rooms/' + String(m.room)); return { event: 'joined' } }
  leave (m: EventMessage) { this.unsubscribe('rooms/' + String(m.room)); return { event: 'left' } }
  watch (m: EventMessage) { this.subscribe(String(m.pattern), { pattern: true }); return { event: 'watching' } }
  unwatch (m: EventMessage) { this.unsubscribe(String(m.pattern), { pattern: true }); return { event: 'unwatched' } }
}

t.test('client input cannot widen a channel into a pattern: subscribe throws, the handler gets a 500 _err_, nothing leaks', async (t) => {
  const { lines, logger } = logCapture('error')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/rooms', Rooms) }, {}, { logger })
  const eve = await connect(t, `${wsUrl}/rooms`)
  t.same(await eve.json(), { event: 'ready' })
  for (const room of ['#', '+', 'red/#', '+/secret']) {
    eve.send({ event: 'join', room, _EID_: room })
    t.same(await eve.json(), { event: '_ack_', _EID_: room })
    t.same(await eve.json(), { event: '_err_', status: 500, request: 'join', _EID_: room }, `join ${room}: a 500 _err_`)
  }
  eve.send({ event: 'leave', room: '#' })
  t.same(await eve.json(), { event: '_err_', status: 500, request: 'leave' }, 'unsubscribe refuses a wildcard too')
  t.ok(lines.some((l) => l.err?.code === 'PLZ_ERR_CHANNEL' && l.event === 'join'), 'logged with its code')
  await app.plezi.publish('rooms/red', 'secret of red')
  await app.plezi.publish('rooms/red/x', 'secret of red/x')
  await app.plezi.publish('rooms/lobby', 'for the lobby')
  t.equal(await eve.next(), 'for the lobby', 'the next frame is the lobby\'s: no other room reached this client')
  // A pattern the app asks for, on purpose, still works.
  eve.send({ event: 'watch', pattern: 'rooms/+' })
  t.same(await eve.json(), { event: 'watching' })
  await app.plezi.publish('rooms/red', 'red, watched')
  t.equal(await eve.next(), 'red, watched')
  eve.send({ event: 'unwatch', pattern: 'rooms/+' })
  t.same(await eve.json(), { event: 'unwatched' })
  await app.plezi.publish('rooms/red', 'red, unwatched')
  await app.plezi.publish('rooms/lobby', 'lobby again')
  t.equal(await eve.next(), 'lobby again')
  t.throws(() => app.plezi.subscribe('rooms/#', () => {}), { code: 'PLZ_ERR_CHANNEL' }, 'a connectionless subscribe refuses wildcards without { pattern: true }')
  const heard = deferred<string>()
  const stop = await app.plezi.subscribe('rooms/#', (_m, channel) => { heard.resolve(channel) }, { pattern: true })
  await app.plezi.publish('rooms/blue/chat', 1)
  t.equal(await heard.promise, 'rooms/blue/chat')
  stop()
})

t.test('subscribe(channel, options) and subscribe(channel, handler, options); bad arguments throw at the call', async (t) => {
  const results: unknown[] = []
  class Shapes extends Controller {
    static autoDispatch = true
    async onOpen () {
      await this.subscribe('a/+', { pattern: true })
      await this.subscribe('b/#', (m: unknown) => { this.write({ event: 'b', m }) }, { pattern: true })
      await this.subscribe('c', undefined, {})
      for (const bad of [() => this.subscribe('x', 'h' as never), () => this.subscribe('x', () => {}, 'o' as never), () => this.subscribe('x', { pattern: true } as never, {}), () => this.subscribe('', {})]) {
        try { bad(); results.push('no throw') } catch (err) { results.push((err as { code?: string }).code ?? (err as Error).name) }
      }
      this.write({ event: 'ready' })
    }
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/s', Shapes) })
  const c = await connect(t, `${wsUrl}/s`)
  t.same(await c.json(), { event: 'ready' })
  t.same(results, ['TypeError', 'TypeError', 'TypeError', 'PLZ_ERR_CHANNEL'])
  await app.plezi.publish('a/1', 'a')
  t.equal(await c.next(), 'a')
  await app.plezi.publish('b/1/2', 'b')
  t.same(await c.json(), { event: 'b', m: 'b' })
  await app.plezi.publish('c', 'c')
  t.equal(await c.next(), 'c')
})

t.test('a bad publish throws at the call in every form; none leaves a promise that rejects', async (t) => {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => { rejections.push(reason) }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => { process.removeListener('unhandledRejection', onRejection) })
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  const bad: Array<[string, unknown, string]> = [
    ['rooms/#', 'x', 'PLZ_ERR_CHANNEL'], ['rooms/+', 'x', 'PLZ_ERR_CHANNEL'], ['', 'x', 'PLZ_ERR_CHANNEL'], [42 as never, 'x', 'PLZ_ERR_CHANNEL'],
    ['ok', undefined, 'PLZ_ERR_MESSAGE'], ['ok', 10n, 'PLZ_ERR_MESSAGE'], ['ok', () => 1, 'PLZ_ERR_MESSAGE'], ['ok', cycle, 'PLZ_ERR_MESSAGE'], ['ok', new Blob(['b']), 'PLZ_ERR_MESSAGE']
  ]
  const codes = (publish: (channel: string, message: unknown) => unknown): string[] => bad.map(([channel, message]) => {
    try {
      publish(channel, message) // not awaited, as in apps
      return 'no throw'
    } catch (err) {
      return (err as { code: string }).code
    }
  })
  class Probe extends Controller {
    static autoDispatch = true
    probe () { return { event: 'codes', codes: codes((c, m) => this.publish(c, m)) } }
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/p', Probe) })
  const c = await connect(t, `${wsUrl}/p`)
  const expected = bad.map(([, , code]) => code)
  c.send({ event: 'probe' })
  t.same((await c.json()).codes, expected, 'this.publish')
  t.same(codes((ch, m) => Probe.publish(ch, m)), expected, 'MyController.publish')
  t.same(codes((ch, m) => Controller.publish(ch, m)), expected, 'Controller.publish')
  t.same(codes((ch, m) => app.plezi.publish(ch, m)), expected, 'app.plezi.publish')
  // Unhandled rejections are reported after the microtask queue drains: give them a turn.
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(rejections, [], 'no unhandled rejection')
})

t.test('delivery is not re-entrant: a bot\'s reply reaches clients after the message it answers', async (t) => {
  class Bot extends Controller {
    static autoDispatch = true
    async onOpen () {
      await this.subscribe('room', (m: unknown) => { if (m === 'ping') this.publish('room', 'pong') })
      this.write('ready')
    }
  }
  class Member extends Controller {
    static autoDispatch = true
    async onOpen () {
      await this.subscribe('room')
      this.write('ready')
    }
  }
  const heard: unknown[] = []
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/bot', Bot)
    app.plezi.route('/member', Member)
  })
  // The bot subscribes first: it is the first to hear "ping".
  const bot = await connect(t, `${wsUrl}/bot`)
  t.equal(await bot.next(), 'ready')
  await app.plezi.subscribe('room', (m) => { heard.push(m); if (m === 'ping') void app.plezi.publish('room', 'pong too') })
  const members = [await connect(t, `${wsUrl}/member`), await connect(t, `${wsUrl}/member`)]
  for (const m of members) t.equal(await m.next(), 'ready')
  await app.plezi.publish('room', 'ping')
  for (const m of members) t.same(await m.take(3), ['ping', 'pong', 'pong too'], 'ping first, then the replies in the order they were published')
  t.same(heard, ['ping', 'pong', 'pong too'])
})

t.test('a subscriber added during a delivery does not receive the message being delivered', async (t) => {
  class Switcher extends Controller {
    static autoDispatch = true
    async onOpen () {
      // Handled until "switch" arrives; from then on forwarded to the client.
      await this.subscribe('room', (m: unknown) => {
        if (m !== 'switch') return
        this.write('switched')
        this.subscribe('room')
      })
      this.write('ready')
    }
  }
  class Member extends Controller {
    static autoDispatch = true
    async onOpen () {
      await this.subscribe('room')
      this.write('ready')
    }
  }
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/switcher', Switcher)
    app.plezi.route('/member', Member)
  })
  const switcher = await connect(t, `${wsUrl}/switcher`)
  t.equal(await switcher.next(), 'ready')
  const member = await connect(t, `${wsUrl}/member`) // keeps the channel's subscriber set alive
  t.equal(await member.next(), 'ready')
  await app.plezi.publish('room', 'switch')
  await app.plezi.publish('room', 'after')
  t.same(await switcher.take(2), ['switched', 'after'], 'the new subscription starts with the next message')
  t.same(await member.take(2), ['switch', 'after'])
})

class Bytes extends Controller {
  static autoDispatch = true
  async onOpen () {
    await this.subscribe('bytes')
    this.write({ event: 'subscribed' })
  }
}

t.test('a published Buffer is captured at the call: reusing it changes nothing for local clients', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/b', Bytes) })
  const c = await connect(t, `${wsUrl}/b`)
  await subscribed(c)
  const buffer = Buffer.from('first')
  const first = app.plezi.publish('bytes', buffer)
  buffer.write('secnd')
  const second = app.plezi.publish('bytes', buffer)
  buffer.write('XXXXX')
  t.same(await Promise.all([first, second]), [true, true])
  t.same((await c.take(2)).map(String), ['first', 'secnd'])
})

t.test('with Redis: a reused Buffer reaches local and remote clients as it was at each publish', { skip: redisSkip }, async (t) => {
  const appName = uniqueAppName('capture')
  const one = await build(t, (app) => { app.plezi.route('/b', Bytes) }, { redis: REDIS_URL, appName })
  const two = await build(t, (app) => { app.plezi.route('/b', Bytes) }, { redis: REDIS_URL, appName })
  const local = await connect(t, `${one.wsUrl}/b`)
  const remote = await connect(t, `${two.wsUrl}/b`)
  await subscribed(local)
  await subscribed(remote)
  const buffer = Buffer.from('first')
  const first = one.app.plezi.publish('bytes', buffer)
  buffer.write('secnd')
  const second = one.app.plezi.publish('bytes', buffer)
  buffer.write('XXXXX')
  t.same(await Promise.all([first, second]), [true, true])
  t.same((await local.take(2)).map(String), ['first', 'secnd'], 'local')
  t.same((await remote.take(2)).map(String), ['first', 'secnd'], 'through Redis')
})
