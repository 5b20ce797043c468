// compression: permessage-deflate without server context takeover; a published message at or
// above the threshold is compressed once and the same frame (RSV1) goes to every subscriber that
// negotiated it; others get the plain frame. Read back by ws clients and byte by byte.
import t from 'tap'
import { constants, inflateRawSync } from 'node:zlib'
import { Controller } from '../lib/index.js'
import { build, connect } from './helpers.js'
import { RawClient, type RawFrame } from './fixtures/raw-client.js'

const THRESHOLD = 1024
const DEFLATE = 'permessage-deflate; client_max_window_bits'

class Feed extends Controller {
  async onOpen () {
    await this.subscribe('feed')
    this.write('ready')
  }

  onMessage (data: string) {
    if (data.startsWith('write ')) this.write('w'.repeat(Number(data.slice(6))))
    else this.write(`echo ${data.length}`)
  }
}

function inflate (frame: RawFrame): Buffer {
  return inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH })
}

const rsv1 = (frame: RawFrame): boolean => (frame.head[0] & 0x40) !== 0

function message (size: number, json: boolean): string | object {
  if (!json) return 'é'.repeat(size >> 1) + 'x'.repeat(size & 1)
  return { event: 'news', text: 'n'.repeat(Math.max(0, size - 27)) } // 27 bytes of JSON around the text
}

const SIZES = [0, 10, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 65535, 65536, 70000, 300_000]

t.test('ws clients read every published payload exactly, compressed or not', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) }, { compression: { threshold: THRESHOLD } })
  const compressed = await connect(t, `${wsUrl}/feed`, { perMessageDeflate: true })
  const plain = await connect(t, `${wsUrl}/feed`, { perMessageDeflate: false })
  t.equal(compressed.ws.extensions, 'permessage-deflate', 'negotiated')
  t.equal(plain.ws.extensions, '', 'a client that did not offer it is served without')
  for (const c of [compressed, plain]) t.equal(await c.next(), 'ready')
  for (const json of [false, true]) {
    for (const size of SIZES) {
      const value = message(size, json)
      void app.plezi.publish('feed', value)
      const expected = typeof value === 'string' ? value : JSON.stringify(value)
      t.equal(await compressed.next(), expected, `compressed client, ${json ? 'JSON' : 'text'} of ~${size} bytes`)
      t.equal(await plain.next(), expected, `plain client, ${json ? 'JSON' : 'text'} of ~${size} bytes`)
    }
  }
  const bytes = Buffer.alloc(5000, 7)
  void app.plezi.publish('feed', bytes)
  t.same(await compressed.next(), bytes, 'binary too')
  t.same(await plain.next(), bytes)
})

t.test('on the wire: one compressed frame for every deflate subscriber, the plain frame for others, per-connection compression for direct writes', async (t) => {
  const { app, url } = await build(t, (app) => { app.plezi.route('/feed', Feed) }, { compression: { threshold: THRESHOLD } })
  const a = await RawClient.open(url, '/feed', { 'Sec-WebSocket-Extensions': DEFLATE })
  const b = await RawClient.open(url, '/feed', { 'Sec-WebSocket-Extensions': DEFLATE })
  const none = await RawClient.open(url, '/feed')
  t.teardown(() => { for (const c of [a, b, none]) c.socket.destroy() })
  t.match(a.response, /sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover/i)
  t.notMatch(none.response, /sec-websocket-extensions/i)
  for (const c of [a, b, none]) t.equal((await c.next()).payload.toString(), 'ready')

  const big = JSON.stringify({ event: 'news', items: Array.from({ length: 100 }, (_, i) => ({ id: i, title: `headline ${i}` })) })
  void app.plezi.publish('feed', big)
  const [fa, fb, fn] = [await a.next(), await b.next(), await none.next()]
  t.ok(rsv1(fa) && rsv1(fb), 'RSV1: compressed')
  t.ok(Buffer.concat([fa.head, fa.payload]).equals(Buffer.concat([fb.head, fb.payload])), 'the same bytes for both subscribers')
  t.equal(inflate(fa).toString(), big)
  t.ok(fa.payload.length < big.length / 3, `deflated ${big.length} → ${fa.payload.length} bytes`)
  t.notOk(rsv1(fn), 'no RSV1 for the client that did not negotiate')
  t.equal(fn.payload.toString(), big)

  void app.plezi.publish('feed', 'x'.repeat(THRESHOLD - 1))
  const small = await a.next()
  t.notOk(rsv1(small), 'below the threshold: uncompressed')
  t.equal(small.payload.length, THRESHOLD - 1)
  await b.next()
  await none.next()

  a.send(`write ${THRESHOLD * 4}`)
  const direct = await a.next()
  t.ok(rsv1(direct), 'a direct write above the threshold is compressed (per connection)')
  t.equal(inflate(direct).toString(), 'w'.repeat(THRESHOLD * 4))
  a.send('write 10')
  const tiny = await a.next()
  t.notOk(rsv1(tiny))
  t.equal(tiny.payload.toString(), 'w'.repeat(10))
})

t.test('a client that asks for a smaller server window is compressed by ws itself', async (t) => {
  const { app, url } = await build(t, (app) => { app.plezi.route('/feed', Feed) }, { compression: { threshold: THRESHOLD } })
  const small = await RawClient.open(url, '/feed', { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9' })
  t.teardown(() => small.socket.destroy())
  t.match(small.response, /server_max_window_bits=9/i)
  t.equal((await small.next()).payload.toString(), 'ready')
  const big = 'abc'.repeat(5000)
  void app.plezi.publish('feed', big)
  const frame = await small.next()
  t.ok(rsv1(frame))
  t.equal(inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), { windowBits: 9, finishFlush: constants.Z_SYNC_FLUSH }).toString(), big, 'inflates with the window it asked for')
})

t.test('a compressed frame that inflates past maxPayload closes with 1009; others keep being served', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) }, { compression: { threshold: THRESHOLD }, maxPayload: 1024 * 1024 })
  const bystander = await connect(t, `${wsUrl}/feed`, { perMessageDeflate: true })
  const bomber = await connect(t, `${wsUrl}/feed`, { perMessageDeflate: true })
  for (const c of [bystander, bomber]) t.equal(await c.next(), 'ready')
  const rss = process.memoryUsage().rss
  bomber.ws.send('0'.repeat(64 * 1024 * 1024), { compress: true }) // 64 MiB of zeros: about 64 KB on the wire
  t.equal((await bomber.closed).code, 1009)
  t.ok(process.memoryUsage().rss - rss < 400 * 1024 * 1024, 'the server did not inflate it all')
  bystander.send('still here?')
  t.equal(await bystander.next(), 'echo 11')
  void app.plezi.publish('feed', 'y'.repeat(5000))
  t.equal(await bystander.next(), 'y'.repeat(5000))
})

t.test('compression is off by default, and its option is validated', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) })
  const client = await connect(t, `${wsUrl}/feed`, { perMessageDeflate: true })
  t.equal(client.ws.extensions, '')
  const Fastify = (await import('fastify')).default
  const plezi = (await import('../lib/index.js')).default
  for (const bad of [true, 1, 'yes', [], { threshold: -1 }, { threshold: 'big' }, { level: 9 }]) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(plezi, { compression: bad as never }) }, { code: 'PLZ_ERR_OPTION', message: /"compression/ })
    await app.close()
  }
})
