import t from 'tap'
import { once } from 'node:events'
import { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, deferred, logCapture, type Client } from './helpers.js'

class Calc extends Controller {
  static autoDispatch = true
  seen: EventMessage[] = []
  sum (m: EventMessage) { return { event: 'sum', result: Number(m.a) + Number(m.b) } }
  async later (m: EventMessage) { await new Promise((resolve) => setImmediate(resolve)); return { event: 'later', got: m.value } }
  text () { return 'plain text' }
  binary () { return Buffer.from([1, 2, 3]) }
  list () { return [1, 2, 3] }
  silent () { return undefined }
  nothing () { return null }
  no () { return false }
  own () { return { event: 'own', _EID_: 'kept' } }
  kept: Record<string, unknown> = { event: 'kept' }
  keep () { return this.kept }
  boom () { throw new Error('handler exploded') }
  async asyncBoom () { await Promise.resolve(); throw new Error('async handler exploded') }
  ping () { return { event: 'pong' } }
  unserialisable () { return { n: 1n } }
  _private () { return 'leak' }
}

async function calc (t: { teardown (fn: () => unknown): void }, options = {}) {
  const capture = logCapture('info')
  const server = await build(t, (app) => { app.plezi.route('/calc', Calc) }, options, { logger: capture.logger })
  return { ...server, lines: capture.lines }
}

t.test('events call methods; return values become frames', async (t) => {
  const { wsUrl } = await calc(t)
  const c = await connect(t, `${wsUrl}/calc`)
  c.send({ event: 'sum', a: 2, b: 3 })
  t.same(await c.json(), { event: 'sum', result: 5 })
  c.send({ event: 'later', value: 'v' })
  t.same(await c.json(), { event: 'later', got: 'v' }, 'async handlers are awaited')
  c.send({ event: 'text' })
  t.equal(await c.next(), 'plain text', 'a string is sent as is')
  c.send({ event: 'binary' })
  t.same(await c.next(), Buffer.from([1, 2, 3]), 'a Buffer is a binary frame')
  c.send({ event: 'list' })
  t.equal(await c.next(), '[1,2,3]')
  for (const event of ['silent', 'nothing', 'no']) c.send({ event })
  c.send({ event: 'ping' })
  t.same(await c.json(), { event: 'pong' }, 'undefined, null and false sent nothing')
})

t.test('_EID_: ack first, before the handler runs; ids round-trip exactly', async (t) => {
  const gate = deferred()
  class Gated extends Controller {
    static autoDispatch = true
    async wait () { await gate.promise; return { event: 'waited' } }
    echo (m: EventMessage) { return { event: 'echo', n: m.n } }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/g', Gated) })
  const c = await connect(t, `${wsUrl}/g`)
  c.send({ event: 'wait', _EID_: 1 })
  t.same(await c.json(), { event: '_ack_', _EID_: 1 }, 'the ack comes while the handler is still waiting')
  gate.resolve()
  t.same(await c.json(), { event: 'waited', _EID_: 1 })
  for (const id of [0, 9007199254740991, -3.25, 'abc', '', 'ü "quoted" \\ id']) {
    c.send({ event: 'echo', n: 1, _EID_: id })
    t.same(await c.json(), { event: '_ack_', _EID_: id })
    t.same(await c.json(), { event: 'echo', n: 1, _EID_: id })
  }
  c.send({ event: 'echo', n: 2, _EID_: { not: 'an id' } })
  t.same(await c.json(), { event: 'echo', n: 2 }, 'an _EID_ that is neither number nor string is ignored')
})

// The texts of the unmasked server frames in one chunk written to the socket.
function framesIn (chunk: Buffer): string[] {
  const texts: string[] = []
  for (let at = 0; at < chunk.length;) {
    let length = chunk[at + 1] & 0x7f
    let header = 2
    if (length === 126) { length = chunk.readUInt16BE(at + 2); header = 4 }
    texts.push(chunk.toString('utf8', at + header, at + header + length))
    at += header + length
  }
  return texts
}

t.test('_EID_: the ack and a reply ready in the same turn go out in one write, order unchanged', async (t) => {
  const writes: string[][] = []
  class Counted extends Controller {
    static autoDispatch = true
    onOpen () {
      const socket = this.request.raw.socket
      const write = socket.write
      // observes what the server hands to its TCP socket, then writes it as usual
      socket.write = function (this: typeof socket, chunk: unknown, ...rest: unknown[]) {
        if (Buffer.isBuffer(chunk)) writes.push(framesIn(chunk))
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
      } as typeof socket.write
      return this.subscribe('news')
    }

    echo (m: EventMessage) { return { event: 'echo', n: m.n } }
    publishing () {
      void this.publish('news', 'published during the handler')
      return { event: 'after publish' }
    }

    writing () {
      this.write('written by the handler')
      return { event: 'after write' }
    }

    closing () { this.close(4000, 'bye') }
    async later () { await new Promise((resolve) => setImmediate(resolve)); return { event: 'later' } }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/c', Counted) })
  const c = await connect(t, `${wsUrl}/c`)
  c.send({ event: 'echo', n: 1, _EID_: 1 })
  t.same(await c.take(2), ['{"event":"_ack_","_EID_":1}', '{"event":"echo","n":1,"_EID_":1}'])
  t.same(writes, [['{"event":"_ack_","_EID_":1}', '{"event":"echo","n":1,"_EID_":1}']], 'one write carried both frames')
  writes.length = 0
  c.send({ event: 'nothing here', _EID_: 2 })
  t.same(await c.take(2), ['{"event":"_ack_","_EID_":2}', '{"event":"_err_","status":404,"error":"unknown event","request":"nothing here","_EID_":2}'])
  t.equal(writes.length, 1, 'an _err_ goes with its ack too')
  writes.length = 0
  c.send({ event: 'later', _EID_: 3 })
  t.same(await c.take(2), ['{"event":"_ack_","_EID_":3}', '{"event":"later","_EID_":3}'])
  t.same(writes, [['{"event":"_ack_","_EID_":3}'], ['{"event":"later","_EID_":3}']], 'an async handler: the ack goes at once')
  c.send({ event: 'publishing', _EID_: 4 })
  t.same(await c.take(3), ['{"event":"_ack_","_EID_":4}', 'published during the handler', '{"event":"after publish","_EID_":4}'])
  c.send({ event: 'writing', _EID_: 5 })
  t.same(await c.take(3), ['{"event":"_ack_","_EID_":5}', 'written by the handler', '{"event":"after write","_EID_":5}'])
  c.send({ event: 'closing', _EID_: 6 })
  t.same(await c.next(), '{"event":"_ack_","_EID_":6}', 'a close in the handler comes after the ack')
  t.same(await c.closed, { code: 4000, reason: 'bye' })
})

t.test('the reply keeps its own _EID_, and the handler\'s object is not mutated', async (t) => {
  let handlerObject: Record<string, unknown> | undefined
  class Keeper extends Calc {
    override keep () { handlerObject = super.keep(); return handlerObject }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/k', Keeper) })
  const c = await connect(t, `${wsUrl}/k`)
  c.send({ event: 'own', _EID_: 5 })
  await c.next()
  t.same(await c.json(), { event: 'own', _EID_: 'kept' })
  c.send({ event: 'keep', _EID_: 6 })
  await c.next()
  t.same(await c.json(), { event: 'kept', _EID_: 6 })
  t.same(handlerObject, { event: 'kept' })
  c.send({ event: 'list', _EID_: 7 })
  await c.next()
  t.equal(await c.next(), '[1,2,3]', 'arrays get no _EID_')
})

t.test('unknown events: unknown() when defined, else a 404 _err_; the connection stays', async (t) => {
  class WithUnknown extends Controller {
    static autoDispatch = true
    unknown (m: EventMessage) { return { event: 'fallback', for: m.event } }
  }
  const { wsUrl } = await build(t, (app) => {
    app.plezi.route('/calc', Calc)
    app.plezi.route('/u', WithUnknown)
  })
  const c = await connect(t, `${wsUrl}/calc`)
  c.send({ event: 'nope', _EID_: 3 })
  t.same(await c.json(), { event: '_ack_', _EID_: 3 })
  t.same(await c.json(), { event: '_err_', status: 404, error: 'unknown event', request: 'nope', _EID_: 3 })
  c.send({ event: 'nope' })
  t.same(await c.json(), { event: '_err_', status: 404, error: 'unknown event', request: 'nope' })
  c.send({ event: 'ping' })
  t.same(await c.json(), { event: 'pong' })
  const u = await connect(t, `${wsUrl}/u`)
  u.send({ event: 'whatever' })
  t.same(await u.json(), { event: 'fallback', for: 'whatever' })
  u.send({ event: 'unknown' })
  t.same(await u.json(), { event: 'fallback', for: 'unknown' }, '"unknown" itself is no event, only the fallback')
})

t.test('a throwing handler: logged, 500 _err_ without a stack, the connection stays', async (t) => {
  const { wsUrl, lines } = await calc(t)
  const c = await connect(t, `${wsUrl}/calc`)
  c.send({ event: 'boom', _EID_: 'b' })
  t.same(await c.json(), { event: '_ack_', _EID_: 'b' })
  const err = await c.next()
  t.same(JSON.parse(err.toString()), { event: '_err_', status: 500, request: 'boom', _EID_: 'b' })
  t.notMatch(err.toString(), /exploded|at /, 'no message or stack leaks')
  c.send({ event: 'asyncBoom' })
  t.same(await c.json(), { event: '_err_', status: 500, request: 'asyncBoom' })
  c.send({ event: 'ping' })
  t.same(await c.json(), { event: 'pong' })
  c.send({ event: 'unserialisable', _EID_: 'u' })
  t.same(await c.json(), { event: '_ack_', _EID_: 'u' })
  t.same(await c.json(), { event: '_err_', status: 500, request: 'unserialisable', _EID_: 'u' }, 'a reply that cannot be serialised is a 500')
  c.send({ event: 'ping' })
  t.same(await c.json(), { event: 'pong' }, 'and the connection goes on')
  t.ok(lines.some((l) => l.err?.message === 'handler exploded' && l.event === 'boom'), 'logged with the event name')
  t.ok(lines.some((l) => l.err?.message === 'async handler exploded'))
})

t.test('malformed frames close with 1007 after earlier answers; binary closes with 1003', async (t) => {
  const { wsUrl, lines } = await calc(t)
  const bad = ['not json', '{"event": 42}', '[1,2]', '"just a string"', 'null', '42', '{}', '{"event":null}', '{"event":["sum"]}', '{"event":"sum"']
  for (const frame of bad) {
    const c = await connect(t, `${wsUrl}/calc`)
    c.send({ event: 'ping' })
    c.send(frame)
    c.send({ event: 'ping' })
    t.same(await c.json(), { event: 'pong' }, 'the event before the bad frame is answered')
    const closed = await c.closed
    t.same(closed, { code: 1007, reason: 'expected a JSON object with a string "event"' }, `${frame} → 1007`)
    t.equal(c.frames.length, 1, 'nothing after the bad frame ran')
  }
  const b = await connect(t, `${wsUrl}/calc`)
  b.send(Buffer.from('{"event":"ping"}'))
  t.equal((await b.closed).code, 1003, 'binary without onMessage → 1003')
  t.ok(lines.some((l) => l.code === 1007), 'logged')
})

t.test('binary frames go to onMessage when it is defined', async (t) => {
  class Mixed extends Controller {
    static autoDispatch = true
    onMessage (data: Buffer) { this.write(Buffer.concat([Buffer.from('got:'), data])) }
    ping () { return { event: 'pong' } }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/m', Mixed) })
  const c = await connect(t, `${wsUrl}/m`)
  c.send(Buffer.from([1, 2]))
  t.same(await c.next(), Buffer.from([...Buffer.from('got:'), 1, 2]))
  c.send({ event: 'ping' })
  t.same(await c.json(), { event: 'pong' }, 'text still dispatches')
})

t.test('events of one connection run one at a time, in order', async (t) => {
  const order: string[] = []
  class Ordered extends Controller {
    static autoDispatch = true
    async step (m: EventMessage) {
      order.push(`start ${String(m.n)}`)
      await new Promise((resolve) => setTimeout(resolve, 5 - Number(m.n)))
      order.push(`end ${String(m.n)}`)
      return { event: 'step', n: m.n }
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/o', Ordered) })
  const c = await connect(t, `${wsUrl}/o`)
  for (let n = 0; n < 4; n++) c.send({ event: 'step', n })
  const replies = await c.take(4)
  t.same(replies.map((r) => JSON.parse(r.toString()).n), [0, 1, 2, 3])
  t.same(order, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
})

t.test('AJAJ: POST /prefix with a JSON event runs the same handlers', async (t) => {
  class Rest extends Calc {
    create () { return { created: this.params.name } }
  }
  class Strict extends Controller {
    static autoDispatch = true
    sum (m: EventMessage) { return { result: Number(m.a) + Number(m.b) } }
  }
  const { app } = await build(t, (app) => {
    app.plezi.route('/calc', Calc)
    app.plezi.route('/rest', Rest)
    app.plezi.route('/strict', Strict)
  })
  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload })
  let res = await post('/calc', { event: 'sum', a: 1, b: 2 })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), { event: 'sum', result: 3 })
  t.same((await post('/calc', { event: 'later', value: 1 })).json(), { event: 'later', got: 1 })
  t.same((await post('/calc', { event: 'sum', a: 1, b: 1, _EID_: 'h1' })).json(), { event: 'sum', result: 2, _EID_: 'h1' }, 'an _EID_ is copied as over the websocket')
  t.same((await post('/calc', { event: 'boom', _EID_: 9 })).json(), { event: '_err_', status: 500, request: 'boom', _EID_: 9 })
  t.same((await post('/calc', { event: 'text' })).json(), 'plain text', 'a string reply is JSON too')
  t.equal((await post('/calc', { event: 'silent' })).statusCode, 204)
  res = await post('/calc', { event: 'boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { event: '_err_', status: 500, request: 'boom' })
  res = await post('/calc', { event: 'unserialisable', _EID_: 2 })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { event: '_err_', status: 500, request: 'unserialisable', _EID_: 2 })
  res = await post('/strict', { event: '_private' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { event: '_err_', status: 404, error: 'unknown event', request: '_private' })
  res = await post('/rest', { event: 'concert', name: 'gig' })
  t.same(res.json(), { created: 'gig' }, 'an unknown event falls back to create() when defined')
  t.same((await post('/rest', { name: 'no event' })).json(), { created: 'no event' }, 'a plain body is REST create')
  t.same((await post('/rest', { event: 'sum', a: 5, b: 5 })).json(), { event: 'sum', result: 10 })
})

t.test('a dispatch table is not a prototype: Map lookups only', async (t) => {
  const { wsUrl } = await calc(t)
  const c: Client = await connect(t, `${wsUrl}/calc`)
  c.send('{"event":"__proto__","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')
  t.same(await c.json(), { event: '_err_', status: 404, error: 'unknown event', request: '__proto__' })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  c.ws.ping()
  await once(c.ws, 'pong')
})
