// One shared suite (like mqemitter's abstractTest) run against every engine: in-process,
// an app-supplied in-process mqemitter, Redis created by PubSub, and an app-supplied
// mqemitter-redis. Redis is the shared one at 127.0.0.1:6379: unique appNames per test.
import t from 'tap'
import mqemitter from 'mqemitter'
import MQEmitterRedis from 'mqemitter-redis'
import { PubSub, type Emitter, type PubSubMessage, type Subscriber } from '../lib/pubsub/pubsub.js'
import { Collector, RecordingLog, REDIS_URL, ciRequiresRedis, redisAnswers, redisCommand, uniqueAppName } from './fixtures/pubsub-helpers.js'

type Test = import('tap').Test

interface EngineFixture {
  name: string
  /** Whether two PubSub instances with the same appName hear each other. */
  shared: boolean
  /** Engine-side listeners per pattern: the local mqemitter, plus the external engine. */
  enginesPerPattern: number
  /** Whether this engine talks to the shared Redis (to inspect it). */
  redis: boolean
  /** False when Redis glob characters in wildcard patterns break delivery. */
  globSafe?: false
  create (t: Test, appName: string, log?: RecordingLog): Promise<PubSub>
}

async function created (t: Test, pubsub: PubSub): Promise<PubSub> {
  t.teardown(() => pubsub.close())
  await pubsub.ready()
  return pubsub
}

const KINDS: Array<[string, unknown]> = [
  ['string', 'hello ✓'],
  ['string', ''],
  ['buffer', Buffer.from([0, 1, 2, 255])],
  ['json', { a: 1, nested: { b: [true, null, 'x'] } }],
  ['json', [1, 'two', { three: 3 }]],
  ['json', 42],
  ['json', null],
  ['json', false]
]

const PATTERN = { pattern: true }

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function engineSuite (t: Test, engine: EngineFixture): void {
  // A second instance sharing the engine, or the same one where instances cannot share.
  async function pair (t: Test, label: string): Promise<[PubSub, PubSub, string]> {
    const appName = uniqueAppName(label)
    const a = await engine.create(t, appName)
    const b = engine.shared ? await engine.create(t, appName) : a
    return [a, b, appName]
  }

  t.test('kinds survive the trip, channel is unscoped', async (t) => {
    const [a, b] = await pair(t, 'kinds')
    const own = new Collector()
    const peer = new Collector()
    await a.subscribe('kinds/x', own)
    await b.subscribe('kinds/x', peer)
    for (const [, value] of KINDS) t.equal(await a.publish('kinds/x', value), true)
    for (const collector of [own, peer]) {
      const got = await collector.count(KINDS.length)
      t.same(got.map((m) => m.kind), KINDS.map(([kind]) => kind))
      t.same(got.map((m) => m.channel), KINDS.map(() => 'kinds/x'))
      got.forEach((m, i) => {
        const expected = KINDS[i][1]
        if (Buffer.isBuffer(expected)) t.ok(Buffer.isBuffer(m.value) && expected.equals(m.value as Buffer), 'Buffer stays a Buffer')
        else t.same(m.value, expected)
        t.equal(m.frame[0], m.kind === 'buffer' ? 0x82 : 0x81, 'frame opcode follows the kind')
      })
    }
  })

  t.test('wildcards + and # over / levels', async (t) => {
    const [a, b] = await pair(t, 'wild')
    const plus = new Collector()
    const hash = new Collector()
    const firstPlus = new Collector()
    await b.subscribe('room/+', plus, PATTERN)
    await b.subscribe('room/#', hash, PATTERN)
    await b.subscribe('+/end', firstPlus, PATTERN)
    for (const channel of ['room/a', 'room/a/b', 'other/a', 'room', 'roomy/a', 'x/end']) await a.publish(channel, channel)
    // room/end matches all three patterns: once it arrived, everything published before it did.
    await a.publish('room/end', 'room/end')
    for (const c of [plus, hash, firstPlus]) await c.until('room/end')
    t.same(plus.values, ['room/a', 'room/end'])
    t.same(hash.values, ['room/a', 'room/a/b', 'room', 'room/end'])
    t.same(firstPlus.values, ['x/end', 'room/end'])
  })

  t.test('channels with Redis glob characters work with wildcards', { skip: engine.globSafe === false ? 'app-supplied mqemitter-redis does not escape them' : false }, async (t) => {
    const [a, b] = await pair(t, 'glob')
    const c = new Collector()
    await b.subscribe('r[1]/+', c, PATTERN)
    await b.subscribe('q*?\\/#', c, PATTERN)
    for (const channel of ['r1/x', 'r[1]/x', 'qx/a', 'q*?\\/a/b', 'r[1]/end']) await a.publish(channel, channel)
    await c.until('r[1]/end')
    t.same(c.values, ['r[1]/x', 'q*?\\/a/b', 'r[1]/end'])
  })

  t.test('appName scopes channels', { skip: engine.shared ? false : 'instances never share this engine' }, async (t) => {
    const appName = uniqueAppName('scope')
    const other = uniqueAppName('scope_other')
    const a1 = await engine.create(t, appName)
    const a2 = await engine.create(t, appName)
    const b1 = await engine.create(t, other)
    const b2 = await engine.create(t, other)
    const sameApp = new Collector()
    const otherApp = new Collector()
    await a2.subscribe('news', sameApp)
    await b1.subscribe('#', otherApp, PATTERN)
    t.equal(await a1.publish('news', 'for a'), true)
    await sameApp.until('for a')
    // a1's publish was acknowledged before this one was sent: the fence arrives after it.
    t.equal(await b2.publish('news', 'fence'), true)
    await otherApp.until('fence')
    t.same(otherApp.values, ['fence'], 'another appName hears nothing')
    t.same(sameApp.values, ['for a'])
  })

  t.test('1,000 numbered messages arrive exactly once and in order', async (t) => {
    const [a, b] = await pair(t, 'order')
    const numbers = Array.from({ length: 1000 }, (_, i) => i + 1)
    const collectors = { own: new Collector(), peer: new Collector(), peer2: new Collector(), peerWildcard: new Collector() }
    await a.subscribe('seq', collectors.own)
    await b.subscribe('seq', collectors.peer)
    await b.subscribe('seq', collectors.peer2)
    await b.subscribe('#', collectors.peerWildcard, PATTERN)
    const results = await Promise.all([...numbers.map((n) => a.publish('seq', n)), a.publish('seq', 'end')])
    t.ok(results.every((r) => r), 'every publish resolved true')
    for (const [name, collector] of Object.entries(collectors)) {
      await collector.until('end')
      t.same(collector.values, [...numbers, 'end'], `${name}: each once, in publish order`)
    }
  })

  t.test('a throwing subscriber does not stop the others', async (t) => {
    const log = new RecordingLog()
    const pubsub = await engine.create(t, uniqueAppName('throw'), log)
    const bad: Subscriber = { deliver () { throw new Error('boom') } }
    const good = new Collector()
    await pubsub.subscribe('c', bad)
    await pubsub.subscribe('c', good)
    await pubsub.publish('c', 'x')
    await good.until('x')
    t.equal(log.at('error')[0]?.msg, 'pub/sub subscriber failed')
  })

  t.test('unsubscribe stops delivery', async (t) => {
    const [a, b] = await pair(t, 'unsub')
    const leaving = new Collector()
    const staying = new Collector()
    const alone = new Collector()
    const fence = new Collector()
    await b.subscribe('u', leaving)
    await b.subscribe('u', staying)
    await b.subscribe('solo', alone)
    await b.subscribe('#', fence, PATTERN)
    await a.publish('u', 1)
    await a.publish('solo', 1)
    await fence.count(2)
    await b.unsubscribe('u', leaving)
    await b.unsubscribe('solo', alone)
    await b.unsubscribe('solo', alone) // twice is harmless
    await a.publish('u', 2)
    await a.publish('solo', 2)
    await fence.count(4)
    await staying.until(2)
    t.same(leaving.values, [1])
    t.same(alone.values, [1])
    t.same(staying.values, [1, 2])
  })

  t.test('1,000 subscribers come and go: one engine listener per pattern, none left', async (t) => {
    const appName = uniqueAppName('count')
    const pubsub = await engine.create(t, appName)
    const patterns = Array.from({ length: 10 }, (_, i) => `p/${i}`)
    const subs = Array.from({ length: 1000 }, (_, i) => ({ pattern: patterns[i % 10], sub: new Collector() }))
    await Promise.all(subs.map(({ pattern, sub }) => pubsub.subscribe(pattern, sub)))
    t.equal(pubsub.listenerCount(), patterns.length * engine.enginesPerPattern, 'one listener per pattern and engine')
    await Promise.all(patterns.map((p) => pubsub.publish(p, p)))
    await Promise.all(subs.map(({ pattern, sub }) => sub.until(pattern)))
    t.ok(subs.every(({ sub }) => sub.messages.length === 1), 'each subscriber got its message once')
    await Promise.all(subs.map(({ pattern, sub }) => pubsub.unsubscribe(pattern, sub)))
    t.equal(pubsub.listenerCount(), 0)
    if (engine.redis) {
      t.equal(await redisCommand(`PUBSUB CHANNELS ${appName}/*`), '*0\r\n', 'Redis has no subscription left')
    }
  })

  t.test('close stops delivery and publishing', async (t) => {
    const pubsub = await engine.create(t, uniqueAppName('closed'))
    await pubsub.subscribe('c', new Collector())
    await pubsub.close()
    await pubsub.close() // twice is harmless
    t.equal(await pubsub.publish('c', 'late'), false)
    await t.rejects(pubsub.subscribe('c', new Collector()), /closed/)
  })

  t.test('bad channels and messages throw at the call; no promise, so nothing can reject unawaited', async (t) => {
    const pubsub = await engine.create(t, uniqueAppName('bad'))
    for (const channel of ['', 'a/+', 'a/#', '#', '+', 'rooms/#/x', 42, undefined, null, { toString: () => 'a' }]) {
      t.throws(() => pubsub.publish(channel as string, 'x'), { code: 'PLZ_ERR_CHANNEL' }, `publish to ${String(channel)}`)
      t.ok(thrown(() => pubsub.publish(channel as string, 'x')) instanceof TypeError, 'a TypeError')
      t.throws(() => pubsub.subscribe(channel as string, new Collector()), { code: 'PLZ_ERR_CHANNEL' }, `subscribe to ${String(channel)}`)
    }
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const message of [undefined, 10n, () => 1, Symbol('s'), cycle, new Blob(['x'])]) {
      t.throws(() => pubsub.publish('a', message), { code: 'PLZ_ERR_MESSAGE' }, `publish ${typeof message}`)
      t.ok(thrown(() => pubsub.publish('a', message)) instanceof TypeError, 'a TypeError')
    }
    t.throws(() => pubsub.subscribe('a/+', new Collector(), 'pattern' as never), TypeError, 'options must be an object')
    t.throws(() => pubsub.subscribe('a/+', new Collector(), { pattern: 'yes' as never }), { code: 'PLZ_ERR_CHANNEL' }, 'only pattern: true makes a pattern')
    await pubsub.subscribe('a/+', new Collector(), PATTERN)
    await pubsub.close()
    t.throws(() => pubsub.publish('a/#', 'x'), { code: 'PLZ_ERR_CHANNEL' }, 'still checked after close')
    t.equal(await pubsub.publish('a', 'x'), false, 'a good publish after close resolves false')
  })

  t.test('channels are literal: "+" and "#" match only in a pattern subscription', async (t) => {
    const [a, b] = await pair(t, 'literal')
    const literal = new Collector()
    const pattern = new Collector()
    await b.subscribe('rooms/blue', literal)
    await b.subscribe('rooms/+', pattern, PATTERN)
    t.throws(() => b.subscribe('rooms/#', new Collector()), { code: 'PLZ_ERR_CHANNEL' }, 'no wildcard without { pattern: true }')
    await a.publish('rooms/red', 'red')
    await a.publish('rooms/blue', 'blue')
    await pattern.until('blue')
    await literal.until('blue')
    t.same(literal.values, ['blue'])
    t.same(pattern.values, ['red', 'blue'])
  })

  t.test('delivery is not re-entrant: a reply published during a delivery comes after it, for everyone', async (t) => {
    const [a, b] = await pair(t, 'reentry')
    const late = new Collector()
    const tooLate = new Collector()
    // Subscribed first, so it hears "ping" before the others do.
    const bot: Subscriber = {
      deliver (m) {
        if (m.value !== 'ping') return
        void a.subscribe('c', late) // added before "pong" was published: hears it
        void a.publish('c', 'pong')
        void a.subscribe('c', tooLate) // added after: hears neither
      }
    }
    await a.subscribe('c', bot)
    const own = new Collector()
    const ownPattern = new Collector()
    const peer = new Collector()
    await a.subscribe('c', own)
    await a.subscribe('#', ownPattern, PATTERN)
    await b.subscribe('c', peer)
    t.equal(await a.publish('c', 'ping'), true)
    for (const c of [own, ownPattern, peer]) await c.until('pong')
    await a.publish('c', 'end')
    for (const c of [own, ownPattern, peer, late, tooLate]) await c.until('end')
    t.same(own.values, ['ping', 'pong', 'end'], 'the publisher\'s own subscribers: ping first')
    t.same(ownPattern.values, ['ping', 'pong', 'end'], 'also through a pattern')
    t.same(peer.values, ['ping', 'pong', 'end'], 'and through the engine')
    t.same(late.values, ['pong', 'end'], 'a subscriber added during a delivery does not get that message')
    t.same(tooLate.values, ['end'], 'nor a message published before it was added')
  })

  t.test('arrivals from the engine are not re-entrant either, across every pattern they match', { skip: engine.shared ? false : 'instances never share this engine' }, async (t) => {
    const [a, b] = await pair(t, 'reentry_in')
    const late = new Collector()
    const bot: Subscriber = {
      deliver (m) {
        if (m.value !== 'ping') return
        void b.subscribe('#', late, PATTERN)
        void b.publish('c', 'pong')
      }
    }
    await b.subscribe('c', bot)
    const literal = new Collector()
    const pattern = new Collector()
    await b.subscribe('c', literal)
    await b.subscribe('#', pattern, PATTERN)
    await a.publish('c', 'ping')
    await literal.until('pong')
    await pattern.until('pong')
    t.same(literal.values, ['ping', 'pong'])
    t.same(pattern.values, ['ping', 'pong'], 'a second pattern of the same message is served before the reply')
    t.same(late.values, ['pong'])
  })

  t.test('a Buffer is captured at publish: reusing it at once changes nothing', async (t) => {
    const [a, b] = await pair(t, 'capture')
    const own = new Collector()
    const peer = new Collector()
    await a.subscribe('bytes', own)
    await b.subscribe('bytes', peer)
    const buffer = Buffer.from('first')
    const published = [a.publish('bytes', buffer)]
    buffer.write('secnd')
    published.push(a.publish('bytes', buffer))
    buffer.write('XXXXX')
    t.same(await Promise.all(published), [true, true])
    for (const c of [own, peer]) {
      const got = await c.count(2)
      t.same(got.map((m) => (m.value as Buffer).toString()), ['first', 'secnd'])
    }
  })

  t.test('typed arrays, DataViews and ArrayBuffers are bytes too, copied at publish', async (t) => {
    const [a, b] = await pair(t, 'views')
    const own = new Collector()
    const peer = new Collector()
    await a.subscribe('bytes', own)
    await b.subscribe('bytes', peer)
    const view = new Uint16Array([1, 2, 3]).subarray(1)
    const arrayBuffer = new Uint8Array([7, 8]).buffer
    const published = [a.publish('bytes', view), a.publish('bytes', arrayBuffer), a.publish('bytes', new DataView(arrayBuffer, 1))]
    view.fill(0)
    new Uint8Array(arrayBuffer).fill(0)
    t.same(await Promise.all(published), [true, true, true])
    for (const c of [own, peer]) {
      const got = await c.count(3)
      t.same(got.map((m) => m.kind), ['buffer', 'buffer', 'buffer'])
      t.same(got.map((m) => Buffer.isBuffer(m.value) ? [...m.value] : m.value), [[2, 0, 3, 0], [7, 8], [8]])
    }
  })
}

// Shared with the supplied-emitter fixtures: the app's emitter, closed by the app.
function appEmitter<E extends Emitter & { close (cb: () => void): unknown }> (t: Test, emitter: E): E {
  t.teardown(() => new Promise<void>((resolve) => { emitter.close(resolve) }))
  return emitter
}

t.test('in-process engine', async (t) => {
  engineSuite(t, {
    name: 'in-process',
    shared: false,
    enginesPerPattern: 1,
    redis: false,
    create: async (t, appName, log = new RecordingLog()) => await created(t, new PubSub({ appName, log: log.log }))
  })
})

t.test('app-supplied in-process mqemitter', async (t) => {
  const emitter = appEmitter(t, mqemitter() as unknown as Emitter & { close (cb: () => void): unknown })
  engineSuite(t, {
    name: 'supplied mqemitter',
    shared: true,
    enginesPerPattern: 2,
    redis: false,
    create: async (t, appName, log = new RecordingLog()) => await created(t, new PubSub({ appName, emitter, log: log.log }))
  })

  t.test('close leaves the supplied emitter open and without our listeners', async (t) => {
    const appName = uniqueAppName('supplied')
    const pubsub = await created(t, new PubSub({ appName, emitter, log: new RecordingLog().log }))
    const ours = new Collector()
    await pubsub.subscribe('c', ours)
    await pubsub.close()
    const theirs: PubSubMessage[] = []
    await new Promise<void>((resolve) => { emitter.on(`${appName}/c`, (packet, done) => { theirs.push(packet as unknown as PubSubMessage); done() }, resolve) })
    const error = await new Promise<Error | undefined>((resolve) => { emitter.emit({ topic: `${appName}/c`, origin: 'x', kind: 'string', data: 'after' }, resolve) })
    t.equal(error, undefined, 'the app can still emit')
    t.equal(theirs.length, 1, 'the app still hears its emitter')
    t.equal(ours.messages.length, 0, 'our listeners are gone')
  })

  t.test('an engine that cannot take a publish: false (logged once), local subscribers served, nothing rejects', async (t) => {
    for (const failure of ['calls back with an error', 'throws'] as const) {
      const broken: Emitter = {
        on: (topic, listener, cb) => emitter.on(topic, listener, cb),
        removeListener: (topic, listener, cb) => emitter.removeListener(topic, listener, cb),
        emit (_packet, cb) {
          if (failure === 'throws') throw new Error('engine exploded')
          cb?.(new Error('engine refused'))
        }
      }
      const log = new RecordingLog()
      const pubsub = await created(t, new PubSub({ appName: uniqueAppName('broken'), emitter: broken, log: log.log }))
      const local = new Collector()
      await pubsub.subscribe('c', local)
      t.same(await Promise.all([pubsub.publish('c', 1), pubsub.publish('c', 2)]), [false, false], `an engine that ${failure}`)
      t.same(local.values, [1, 2], 'local subscribers were served')
      t.equal(log.at('warn').length, 1, 'logged once')
      t.match(log.at('warn')[0].msg, /publish failed/)
    }
  })

  t.test('foreign packets on our topics are dropped with a warning', async (t) => {
    const log = new RecordingLog()
    const appName = uniqueAppName('foreign')
    const pubsub = await created(t, new PubSub({ appName, emitter, log: log.log }))
    const c = new Collector()
    await pubsub.subscribe('c', c)
    emitter.emit({ topic: `${appName}/c`, hello: 'world' })
    await pubsub.publish('c', 'ours')
    await c.until('ours')
    t.same(c.values, ['ours'])
    t.match(log.at('warn')[0]?.msg, /unknown format/)
  })
})

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail('Redis is required under CI but does not answer at 127.0.0.1:6379')
const redisSkip = redisUp ? false : 'REDIS NOT RUNNING at 127.0.0.1:6379: the Redis engine suite is SKIPPED (start redis-server; under CI=true this fails)'

t.test('Redis engines (127.0.0.1:6379)', { skip: redisSkip }, async (t) => {
  t.test('created by PubSub from a URL', async (t) => {
    engineSuite(t, {
      name: 'redis',
      shared: true,
      enginesPerPattern: 2,
      redis: true,
      create: async (t, appName, log = new RecordingLog()) => await created(t, new PubSub({ appName, redis: REDIS_URL, log: log.log }))
    })

    t.test('close() closes both Redis connections it created', async (t) => {
      const connectionName = uniqueAppName('conn')
      const pubsub = new PubSub({ appName: connectionName, redis: { host: '127.0.0.1', port: 6379, connectionName }, log: new RecordingLog().log })
      t.teardown(() => pubsub.close())
      await pubsub.ready()
      await pubsub.subscribe('c', new Collector())
      const clients = (): Promise<number> => redisCommand('CLIENT LIST').then((list) => list.split(`name=${connectionName} `).length - 1)
      t.equal(await clients(), 2, 'a publish and a subscribe connection')
      await pubsub.close()
      t.equal(await clients(), 0, 'both closed')
    })
  })

  t.test('app-supplied mqemitter-redis', async (t) => {
    const emitter = appEmitter(t, MQEmitterRedis({ connectionString: REDIS_URL }) as unknown as Emitter & { close (cb: () => void): unknown })
    engineSuite(t, {
      name: 'supplied mqemitter-redis',
      shared: true,
      enginesPerPattern: 2,
      redis: true,
      globSafe: false,
      create: async (t, appName, log = new RecordingLog()) => await created(t, new PubSub({ appName, emitter, log: log.log }))
    })

    t.test('close leaves the supplied mqemitter-redis open', async (t) => {
      const appName = uniqueAppName('supplied_redis')
      const pubsub = await created(t, new PubSub({ appName, emitter, log: new RecordingLog().log }))
      await pubsub.close()
      const error = await new Promise<Error | undefined>((resolve) => { emitter.emit({ topic: `${appName}/after` }, resolve) })
      t.equal(error, undefined, 'the app can still publish through it')
      t.equal(emitter.state?.listenerCount('error'), 0, 'our error listener is gone')
    })
  })
})
