import t from 'tap'
import { once } from 'node:events'
import { Controller } from '../lib/index.js'
import { build, connect, deferred, logCapture, Client } from './helpers.js'

t.test('echo: text arrives as string, binary as Buffer, write picks the frame kind', async (t) => {
  const kinds: string[] = []
  class Echo extends Controller {
    onMessage (data: string | Buffer) {
      kinds.push(typeof data === 'string' ? 'string' : Buffer.isBuffer(data) ? 'buffer' : 'other')
      if (data === 'object') this.write({ an: 'object', list: [1, 2] })
      else if (data === 'array') this.write([1, 'two'])
      else if (data === 'uint8') this.write(new Uint8Array([9, 8]))
      else if (data === 'arraybuffer') this.write(new Uint8Array([7, 6]).buffer)
      else this.write(data)
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/echo', Echo) })
  const client = await connect(t, `${wsUrl}/echo`)
  client.send('hello')
  t.equal(await client.next(), 'hello')
  client.send(Buffer.from([0, 1, 2, 255]))
  t.same(await client.next(), Buffer.from([0, 1, 2, 255]))
  client.send('object')
  t.equal(await client.next(), '{"an":"object","list":[1,2]}')
  client.send('array')
  t.equal(await client.next(), '[1,"two"]')
  client.send('uint8')
  t.same(await client.next(), Buffer.from([9, 8]))
  client.send('arraybuffer')
  t.same(await client.next(), Buffer.from([7, 6]))
  t.same(kinds, ['string', 'buffer', 'string', 'string', 'string', 'string'])
})

t.test('a websocket on /prefix/:id too, and a new instance per connection', async (t) => {
  const seen = new Set<Controller>()
  class Rooms extends Controller {
    onOpen () { seen.add(this); this.write(`id=${String(this.params.id)} room=${String(this.params.room)} q=${String(this.params.q)}`) }
    onMessage () {}
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/rooms/:room', Rooms) })
  const a = await connect(t, `${wsUrl}/rooms/red/7?q=1`)
  t.equal(await a.next(), 'id=7 room=red q=1')
  const b = await connect(t, `${wsUrl}/rooms/blue`)
  t.equal(await b.next(), 'id=undefined room=blue q=undefined')
  t.equal(seen.size, 2)
})

t.test('messages that arrive during an async onOpen wait for it, in order', async (t) => {
  const gate = deferred()
  const order: string[] = []
  class Slow extends Controller {
    async onOpen () {
      order.push('open:start')
      await gate.promise
      order.push('open:end')
    }

    async onMessage (data: string) {
      order.push(`msg:${data}`)
      await new Promise((resolve) => setImmediate(resolve))
      this.write(`done ${data}`)
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/slow', Slow) })
  const client = await connect(t, `${wsUrl}/slow`)
  for (const n of ['1', '2', '3']) client.send(n)
  client.send('4')
  // ws answers pings below our queue, and TCP keeps order: the pong proves the server has
  // read all four frames while onOpen is still waiting
  client.ws.ping()
  await once(client.ws, 'pong')
  t.same(order, ['open:start'], 'nothing ran while onOpen was pending')
  gate.resolve()
  t.same(await client.take(4), ['done 1', 'done 2', 'done 3', 'done 4'])
  t.same(order, ['open:start', 'open:end', 'msg:1', 'msg:2', 'msg:3', 'msg:4'])
})

t.test('close(code, reason), isOpen, onClose exactly once, write after close is false', async (t) => {
  const closed = deferred<{ calls: number, isOpen: boolean, wrote: boolean }>()
  let calls = 0
  let openState = false
  class Closer extends Controller {
    onOpen () { openState = this.isOpen }
    onMessage (data: string) { if (data === 'bye') this.close(4001, 'see you') }
    onClose () {
      calls++
      setImmediate(() => closed.resolve({ calls, isOpen: this.isOpen, wrote: this.write('late') }))
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/closer', Closer) })
  const client = await connect(t, `${wsUrl}/closer`)
  client.send('bye')
  t.same(await client.closed, { code: 4001, reason: 'see you' })
  const result = await closed.promise
  t.equal(openState, true, 'isOpen inside onOpen')
  t.same(result, { calls: 1, isOpen: false, wrote: false })
})

t.test('onClose runs once when the client goes away', async (t) => {
  const done = deferred<number>()
  let calls = 0
  class Watch extends Controller {
    onMessage () {}
    onClose () { calls++; setImmediate(() => done.resolve(calls)) }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/watch', Watch) })
  const client = await connect(t, `${wsUrl}/watch`)
  client.ws.terminate()
  t.equal(await done.promise, 1)
})

t.test('pending and onDrained after back-pressure', async (t) => {
  const big = Buffer.alloc(4 * 1024 * 1024, 7)
  let pendingAfterWrite = -1
  class Big extends Controller {
    onOpen () {
      this.write(big)
      pendingAfterWrite = this.pending
    }

    onMessage () {}
    onDrained () { this.write(`drained, pending ${this.pending}`) }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/big', Big) })
  const client = await connect(t, `${wsUrl}/big`)
  const first = await client.next()
  t.equal(first.length, big.length)
  t.equal(await client.next(), 'drained, pending 0')
  t.ok(pendingAfterWrite > 0, 'pending counted unsent bytes')
})

t.test('a throwing hook is logged and leaves the server and other clients alone', async (t) => {
  const { lines, logger } = logCapture('error')
  class Fragile extends Controller {
    onOpen () { if (this.params.fail === 'open') throw new Error('open failed') }
    async onMessage (data: string) {
      if (data === 'sync') throw new Error('sync failure')
      if (data === 'async') { await Promise.resolve(); throw new Error('async failure') }
      this.write(`ok ${data}`)
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/fragile', Fragile) }, {}, { logger })
  const healthy = await connect(t, `${wsUrl}/fragile`)
  const bad = await connect(t, `${wsUrl}/fragile?fail=open`)
  bad.send('sync')
  bad.send('async')
  bad.send('after')
  t.equal(await bad.next(), 'ok after', 'the failing connection itself goes on')
  healthy.send('fine')
  t.equal(await healthy.next(), 'ok fine')
  const messages = lines.map((l) => l.err?.message)
  t.ok(messages.includes('open failed'))
  t.ok(messages.includes('sync failure'))
  t.ok(messages.includes('async failure'))
})

t.test('an upgrade to a controller without websocket support is a 404', async (t) => {
  class HttpOnly extends Controller {
    index () { return 'http only' }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/http', HttpOnly) })
  const client = new Client(`${wsUrl}/http`)
  await t.rejects(client.opened, /404/)
})

t.test('write(): any ArrayBufferView is its bytes; what has no frame is a TypeError the handler can catch', async (t) => {
  class Types extends Controller {
    onMessage (data: string) {
      const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])
      const values: Record<string, unknown> = {
        dataview: new DataView(bytes.buffer, 2, 3),
        uint16: new Uint16Array([1, 258]),
        float64: new Float64Array([1.5]),
        subarray: bytes.subarray(5),
        null: null,
        number: 42,
        function: () => 1,
        symbol: Symbol('s'),
        undefined,
        bigint: 10n,
        blob: new Blob(['x']),
        cycle: (() => { const o: Record<string, unknown> = {}; o.self = o; return o })(),
        tojson: { toJSON () { return undefined } }
      }
      try {
        this.write(values[data] as never)
      } catch (err) {
        this.write(`${(err as { code?: string }).code} ${err instanceof TypeError ? "TypeError" : "not a TypeError"}`)
      }
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/types', Types) })
  const client = await connect(t, `${wsUrl}/types`)
  const ask = async (name: string): Promise<unknown> => { client.send(name); return client.next() }
  t.same(await ask('dataview'), Buffer.from([3, 4, 5]), 'a DataView: the bytes it views')
  t.same(await ask('uint16'), Buffer.from(new Uint16Array([1, 258]).buffer), 'a Uint16Array: its bytes, not JSON')
  t.same(await ask('float64'), Buffer.from(new Float64Array([1.5]).buffer))
  t.same(await ask('subarray'), Buffer.from([6, 7, 8]), 'a view into a larger buffer: only its own bytes')
  t.equal(await ask('null'), 'null')
  t.equal(await ask('number'), '42')
  for (const name of ['function', 'symbol', 'undefined', 'bigint', 'blob', 'cycle', 'tojson']) {
    t.equal(await ask(name), 'PLZ_ERR_MESSAGE TypeError', `${name}: a TypeError at the call`)
  }
  t.equal(await ask('number'), '42', 'the connection keeps serving')
})
