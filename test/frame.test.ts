// Frames on the wire, read byte by byte by a raw TCP client: the real write paths (a direct
// write, a published message through the outbox) at the length-encoding boundaries, and the
// fallback to ws.send() when ws's internals are not what lib/websocket/frame.ts knows.
import t from 'tap'
import { once } from 'node:events'
import { WebSocket, WebSocketServer } from 'ws'
import * as wsModule from 'ws'
import { Controller } from '../lib/index.js'
import { buildFrame, frameSupport, OPCODE_BINARY, OPCODE_TEXT, SENDER_IDLE, type WsSenderInternals } from '../lib/websocket/frame.js'
import { build, connect, logCapture } from './helpers.js'
import { RawClient } from './fixtures/raw-client.js'

// @types/ws does not declare the Sender class that ws exports; its frame() is the reference.
type FrameOptions = { fin: boolean, opcode: number, mask: boolean, readOnly: boolean, rsv1: boolean }
const Sender = (wsModule as unknown as { Sender: { frame (data: Buffer, options: FrameOptions): Buffer[] } }).Sender

/** The header a server frame of `length` bytes must have: FIN, no RSV, no mask, shortest length form. */
function expectedHead (opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length])
  if (length < 65536) return Buffer.from([0x80 | opcode, 126, length >> 8, length & 255])
  const head = Buffer.alloc(10)
  head[0] = 0x80 | opcode
  head[1] = 127
  head.writeBigUInt64BE(BigInt(length), 2)
  return head
}

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]

class Sizes extends Controller {
  async onOpen () {
    await this.subscribe('sizes')
    this.write('ready')
  }

  onMessage (data: string) {
    const [how, kind, size] = data.split(' ')
    const n = Number(size)
    const value = kind === 'text' ? 'é'.repeat(n >> 1) + 'x'.repeat(n & 1) : Buffer.alloc(n, n & 255)
    if (how === 'write') this.write(value)
    else void this.publish('sizes', value)
  }
}

t.test('direct writes and published frames at the length-encoding boundaries, byte for byte', async (t) => {
  const { url } = await build(t, (app) => { app.plezi.route('/sizes', Sizes) })
  const client = await RawClient.open(url, '/sizes')
  t.teardown(() => client.socket.destroy())
  t.same((await client.next()).payload.toString(), 'ready')
  for (const how of ['write', 'publish']) {
    for (const kind of ['text', 'binary']) {
      for (const size of SIZES) {
        client.send(`${how} ${kind} ${size}`)
        const frame = await client.next()
        const opcode = kind === 'text' ? OPCODE_TEXT : OPCODE_BINARY
        const expected = kind === 'text' ? Buffer.from('é'.repeat(size >> 1) + 'x'.repeat(size & 1)) : Buffer.alloc(size, size & 255)
        if (!frame.head.equals(expectedHead(opcode, size)) || !frame.payload.equals(expected)) {
          t.fail(`${how} ${kind} ${size}: head ${frame.head.toString('hex')}, ${frame.payload.length} payload bytes`)
        } else {
          t.pass(`${how} ${kind} ${size} bytes`)
        }
      }
    }
  }
})

t.test('the ws internals frame.ts relies on are still there', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  t.teardown(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate()
    wss.close(() => { resolve() })
  }))
  const { port } = wss.address() as { port: number }
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  const [[server]] = await Promise.all([once(wss, 'connection') as Promise<[WebSocket]>, once(client, 'open')])
  const sender = (server as unknown as { _sender: WsSenderInternals })._sender
  t.equal(sender._state, SENDER_IDLE, 'an idle sender is in state DEFAULT (0)')
  t.ok(Array.isArray(sender._queue), 'sender._queue is an array')
  t.equal(sender._firstFragment, true, 'sender._firstFragment is true between messages')
  t.equal(frameSupport(server), 'raw')
  t.equal(frameSupport(client), 'client', 'client sockets must mask: never raw')
})

t.test('frameSupport never throws on websockets it does not know', async (t) => {
  const shapes: unknown[] = [
    {},
    { _socket: null },
    { _socket: { write () {}, cork () {}, uncork () {}, once () {} } },
    { _socket: { write () {}, cork () {}, uncork () {}, once () {} }, _sender: { _state: 0, _queue: null, _firstFragment: true }, _isServer: true, _extensions: {} },
    { _socket: { write () {}, cork () {}, uncork () {}, once () {} }, _sender: { _state: 0, _queue: [], _firstFragment: true }, _isServer: true, _extensions: undefined },
    { _socket: { write () {}, cork () {}, uncork () {}, once () {} }, _sender: { _state: 0, _queue: [], _firstFragment: true }, _isServer: 'yes', _extensions: {} }
  ]
  for (const shape of shapes) t.equal(frameSupport(shape as WebSocket), 'internals')
  t.equal(frameSupport({ _socket: { write () {}, cork () {}, uncork () {}, once () {} }, _sender: { _state: 0, _queue: [], _firstFragment: true }, _isServer: true, _extensions: { 'permessage-deflate': {} } } as unknown as WebSocket), 'extensions')
})

t.test('when ws internals differ, every write path falls back to ws.send(), logged once at debug', async (t) => {
  const { lines, logger } = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/sizes', Sizes)
    // a future ws: one private field the plugin reads is no longer what it expects
    app.websocketServer.on('connection', (ws: WebSocket) => { Object.defineProperty(ws, '_isServer', { value: 'yes', configurable: true }) })
  }, {}, { logger })
  const first = await connect(t, `${wsUrl}/sizes`)
  const second = await connect(t, `${wsUrl}/sizes`)
  t.equal(await first.next(), 'ready')
  t.equal(await second.next(), 'ready')
  for (const how of ['write', 'publish']) {
    for (const size of [0, 126, 70000]) {
      first.send(`${how} text ${size}`)
      t.equal(await first.next(), 'é'.repeat(size >> 1), `${how} of ${size} bytes`)
      first.send(`${how} binary ${size}`)
      t.same(await first.next(), Buffer.alloc(size, size & 255))
    }
  }
  void app.plezi.publish('sizes', 'to both')
  const published = await second.take(7) // it heard the six publishes above too
  t.equal(published[6], 'to both')
  t.equal(lines.filter((l) => /ws internals/.test(l.msg)).length, 1, 'noticed once')
  t.equal(lines.find((l) => /ws internals/.test(l.msg))?.level, 20, 'at debug level')
})

t.test('buildFrame encodes byte for byte like ws', async (t) => {
  for (const text of ['', 'hi', 'héllo wörld ✓', 'x'.repeat(125), 'é'.repeat(100), 'y'.repeat(70000)]) {
    const ours = buildFrame(text, OPCODE_TEXT)
    const theirs = Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: OPCODE_TEXT, mask: false, readOnly: true, rsv1: false }))
    t.ok(ours.equals(theirs), `${Buffer.byteLength(text)} bytes`)
  }
  t.ok(buildFrame(new Uint8Array([1, 2, 3]), OPCODE_BINARY).equals(Buffer.from([0x82, 3, 1, 2, 3])), 'a Uint8Array too')
})
