import t from 'tap'
import fc from 'fast-check'
import { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, type Client } from './helpers.js'

const ran: string[] = []

class Target extends Controller {
  static autoDispatch = true
  ping () { return { event: 'pong' } }
  echo (m: EventMessage) { return { event: 'echo', data: m.data } }
  _private () { ran.push('_private') }
  index () { ran.push('index') }
  create () { ran.push('create') }
  onOpen () { ran.push('onOpen') }
  onClose () { ran.push('onClose') }
  preConnect () { ran.push('preConnect'); return true }
}

const HOSTILE_EVENTS = [
  'constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf',
  '__defineGetter__', '__lookupSetter__', 'onOpen', 'onClose', 'onMessage', 'onShutdown', 'onDrained',
  'preConnect', 'write', 'close', 'subscribe', 'unsubscribe', 'publish', 'isOpen', 'pending', 'params',
  'track', 'untrack', 'presence', 'subscribePresence', 'unsubscribePresence',
  'request', 'reply', 'cookies', 'log', 'index', 'create', 'show', 'update', 'delete', 'new', '_private',
  'unknown', '', ' ', 'ping ', 'PING', 'x'.repeat(10_000)
]

async function healthyRoundTrip (t: Tap, healthy: Client, n: number): Promise<void> {
  healthy.send({ event: 'echo', data: n, _EID_: n })
  t.same(await healthy.json(), { event: '_ack_', _EID_: n })
  t.same(await healthy.json(), { event: 'echo', data: n, _EID_: n })
}

type Tap = { same (a: unknown, b: unknown): boolean }

/** Resolves once the server answered a ping event sent after everything before it, or closed. */
async function verdict (client: Client, n: number): Promise<void> {
  const eid = `sentinel-${n}`
  client.send({ event: 'ping', _EID_: eid })
  const answered = (async () => {
    for (;;) {
      const frame = await client.next()
      if (typeof frame === 'string' && frame.includes(`"_EID_":"${eid}"`) && frame.includes('"pong"')) return
    }
  })()
  await Promise.race([answered, client.closed])
}

t.test('hostile event names run nothing, pollute nothing, and get the 404 _err_', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/target', Target) })
  const healthy = await connect(t, `${wsUrl}/target`)
  const hostile = await connect(t, `${wsUrl}/target`)
  ran.length = 0
  let n = 0
  for (const event of HOSTILE_EVENTS) {
    hostile.send({ event, _EID_: event.length })
    t.same(await hostile.json(), { event: '_ack_', _EID_: event.length })
    t.same(await hostile.json(), { event: '_err_', status: 404, error: 'unknown event', request: event, _EID_: event.length },
      `event ${JSON.stringify(event.slice(0, 20))} → 404`)
    await healthyRoundTrip(t, healthy, n++)
  }
  hostile.send('{"event":"ping","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}')
  t.same(await hostile.json(), { event: 'pong' }, '__proto__ keys in a message are just data')
  t.same(ran, [], 'no hook, REST action or private method ran')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is clean')
  t.equal(Object.getPrototypeOf(Target.prototype), Controller.prototype)
})

t.test('thousands of generated frames: the server keeps answering a healthy client', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/target', Target) })
  const healthy = await connect(t, `${wsUrl}/target`)
  let attacker = await connect(t, `${wsUrl}/target`)
  let reconnects = 0
  let sentinel = 0
  const frame = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.record({ event: fc.oneof(fc.constantFrom(...HOSTILE_EVENTS.slice(0, 36)), fc.string({ maxLength: 40 })), _EID_: fc.oneof(fc.integer(), fc.string({ maxLength: 10 })) }).map((o) => JSON.stringify(o)),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))
  )
  const frames = fc.sample(frame, { numRuns: 3000, seed: 20261126 })
  ran.length = 0
  for (const f of frames) {
    if (attacker.ws.readyState !== attacker.ws.OPEN) {
      attacker = await connect(t, `${wsUrl}/target`)
      reconnects++
    }
    attacker.send(f)
    if (typeof f === 'string' && f.startsWith('{')) {
      // wait for the server's verdict on event-shaped frames, so they cannot pile up unread:
      // a ping event queued behind it is answered only after it was handled (or the socket closes)
      await verdict(attacker, sentinel++)
    }
  }
  await healthyRoundTrip(t, healthy, 1)
  t.ok(reconnects > 0, `malformed frames closed attacker connections (${reconnects} reconnects)`)
  t.same(ran.filter((r) => r !== 'onOpen' && r !== 'onClose' && r !== 'preConnect'), [], 'no forbidden handler ran')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('AJAJ: hostile event names in a POST body run nothing and pollute nothing', async (t) => {
  class Strict extends Controller {
    static autoDispatch = true
    ping () { return { event: 'pong' } }
  }
  const { app } = await build(t, (app) => {
    app.plezi.route('/target', Target)
    app.plezi.route('/strict', Strict)
  })
  ran.length = 0
  for (const event of HOSTILE_EVENTS.slice(0, 36)) {
    const res = await app.inject({ method: 'POST', url: '/target', payload: { event } })
    // Target defines create(): an unknown event falls back to REST create, as the spec says
    t.equal(res.statusCode, 404, `POST event ${JSON.stringify(event)} → create() → undefined → 404`)
  }
  t.same(ran.filter((r) => r !== 'create'), [], 'only the create() fallback ran, no hook or private method')
  for (const event of ['__proto__', 'constructor', 'toString', 'onOpen', 'write', '_private']) {
    const res = await app.inject({ method: 'POST', url: '/strict', payload: { event } })
    t.equal(res.statusCode, 404)
    t.same(res.json(), { event: '_err_', status: 404, error: 'unknown event', request: event })
  }
  const poisoned = await app.inject({
    method: 'POST',
    url: '/strict',
    headers: { 'content-type': 'application/json' },
    payload: '{"event":"ping","__proto__":{"polluted":"yes"}}'
  })
  t.equal(poisoned.statusCode, 400, 'Fastify refuses a __proto__ key in a JSON body')
  t.equal(poisoned.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')
  const res = await app.inject({
    method: 'POST',
    url: '/strict',
    headers: { 'content-type': 'application/json' },
    payload: '{"event":"ping","constructor":{"prototype":{"polluted":"yes"}}}'
  })
  t.equal(res.statusCode, 400, 'and a constructor.prototype key (Fastify 5 refuses both by default)')
  const plain = await app.inject({ method: 'POST', url: '/strict', payload: { event: 'ping', constructor: 'just a string' } })
  t.same(plain.json(), { event: 'pong' }, 'a plain "constructor" field is just data')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal((await app.inject({ method: 'POST', url: '/target', headers: { 'content-type': 'application/json' }, payload: '{"event":' })).statusCode, 400, 'bad JSON is a 400 from Fastify')
})
