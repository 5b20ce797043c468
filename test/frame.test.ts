// lib/websocket/frame.ts reaches into ws internals: these tests fail when ws changes underneath.
import t from 'tap'
import { once } from 'node:events'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import * as wsModule from 'ws'
import { acceptsRawFrames, buildFrame, OPCODE_BINARY, OPCODE_TEXT, SENDER_IDLE, senderIdle, type WsSenderInternals } from '../lib/websocket/frame.js'

// @types/ws does not declare the Sender class that ws exports; its frame() is the reference
// our buildFrame must match byte for byte.
type FrameOptions = { fin: boolean, opcode: number, mask: boolean, readOnly: boolean, rsv1: boolean }
const Sender = (wsModule as unknown as { Sender: { frame (data: Buffer, options: FrameOptions): Buffer[] } }).Sender

type Test = import('tap').Test

// What lib/websocket/connection.ts and lib/websocket/outbox.ts do: our frame on the TCP socket when ws allows it,
// else ws frames the data itself. Returns whether the prebuilt frame was written.
function writeFrame (socket: WebSocket, frame: Buffer, fallback: { data: string | Buffer, binary: boolean }): boolean {
  if (acceptsRawFrames(socket) && senderIdle(socket)) {
    (socket as unknown as { _socket: { write (b: Buffer): void } })._socket.write(frame)
    return true
  }
  if (socket.readyState === socket.OPEN) socket.send(fallback.data, { binary: fallback.binary })
  return false
}
function canWriteFrame (socket: WebSocket): boolean {
  return acceptsRawFrames(socket) && senderIdle(socket)
}

interface Pair { server: WebSocket, client: WebSocket, received: Array<{ data: string | Buffer, binary: boolean }>, next (n: number): Promise<void> }

async function connect (t: Test, perMessageDeflate = false): Promise<Pair> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate })
  await once(wss, 'listening')
  t.teardown(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate()
    wss.close(() => { resolve() })
  }))
  const address = wss.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected address')
  const client = new WebSocket(`ws://127.0.0.1:${address.port}`, { perMessageDeflate })
  const [[server]] = await Promise.all([once(wss, 'connection') as Promise<[WebSocket]>, once(client, 'open')])
  const received: Pair['received'] = []
  client.on('message', (data: RawData, binary: boolean) => {
    received.push({ data: binary ? data as Buffer : data.toString(), binary })
  })
  const next = async (n: number): Promise<void> => {
    while (received.length < n) await once(client, 'message')
  }
  return { server, client, received, next }
}

t.test('the ws internals frame.ts relies on are still there', async (t) => {
  const { server, client } = await connect(t)
  t.type(Sender, 'function', 'ws exports Sender')
  t.type(Sender.frame, 'function', 'Sender.frame exists')
  const internals = server as unknown as { _sender: WsSenderInternals, _isServer: boolean, _extensions: object }
  const sender = internals._sender
  t.equal(sender._state, SENDER_IDLE, 'an idle sender is in state DEFAULT (0)')
  t.ok(Array.isArray(sender._queue), 'sender._queue is an array')
  t.equal(sender._firstFragment, true, 'sender._firstFragment is true between messages')
  t.equal(internals._isServer, true)
  t.same(internals._extensions, {}, 'no extensions negotiated')
  t.equal(canWriteFrame(server), true)
  t.equal(canWriteFrame(client), false, 'client sockets must mask: never')
})

t.test('buildFrame makes one unmasked FIN frame in one buffer', async (t) => {
  t.same([...buildFrame(Buffer.from('hi'), OPCODE_TEXT)], [0x81, 2, 0x68, 0x69])
  t.same([...buildFrame(Buffer.alloc(0), OPCODE_BINARY)], [0x82, 0])
  const medium = buildFrame(Buffer.alloc(300, 1), OPCODE_BINARY)
  t.same([...medium.subarray(0, 4)], [0x82, 126, 1, 44])
  t.equal(medium.length, 304)
  const large = buildFrame(Buffer.alloc(70000, 2), OPCODE_TEXT)
  t.same([...large.subarray(0, 2)], [0x81, 127])
  t.equal(large.readUIntBE(4, 6), 70000)
  t.equal(large.length, 70010)
})

t.test('a real ws client decodes the prebuilt bytes, in order with send()', async (t) => {
  const { server, received, next } = await connect(t)
  const text = 'héllo ✓'
  const bytes = Buffer.from([0, 1, 2, 255])
  const big = 'x'.repeat(70000)
  t.equal(writeFrame(server, buildFrame(Buffer.from(text), OPCODE_TEXT), { data: text, binary: false }), true)
  server.send('via send')
  t.equal(writeFrame(server, buildFrame(bytes, OPCODE_BINARY), { data: bytes, binary: true }), true)
  t.equal(writeFrame(server, buildFrame(Buffer.from(big), OPCODE_TEXT), { data: big, binary: false }), true)
  await next(4)
  t.same(received, [
    { data: text, binary: false },
    { data: 'via send', binary: false },
    { data: bytes, binary: true },
    { data: big, binary: false }
  ])
})

t.test('with permessage-deflate it falls back to send()', async (t) => {
  const { server, received, next } = await connect(t, true)
  t.equal(canWriteFrame(server), false)
  server.send('compressed first', { compress: true })
  t.equal(writeFrame(server, buildFrame(Buffer.from('then this'), OPCODE_TEXT), { data: 'then this', binary: false }), false)
  await next(2)
  t.same(received.map((r) => r.data), ['compressed first', 'then this'])
})

t.test('a closed socket gets nothing and no throw', async (t) => {
  const { server } = await connect(t)
  server.close()
  t.equal(writeFrame(server, buildFrame(Buffer.from('late'), OPCODE_TEXT), { data: 'late', binary: false }), false)
  await once(server, 'close')
  t.equal(writeFrame(server, buildFrame(Buffer.from('later'), OPCODE_TEXT), { data: 'later', binary: false }), false)
})

t.test('buildFrame encodes strings straight into the frame, byte for byte like ws', async (t) => {
  for (const text of ['', 'hi', 'héllo wörld ✓', 'x'.repeat(125), 'é'.repeat(100), 'y'.repeat(70000)]) {
    const ours = buildFrame(text, OPCODE_TEXT)
    const theirs = Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: OPCODE_TEXT, mask: false, readOnly: true, rsv1: false }))
    t.ok(ours.equals(theirs), `${Buffer.byteLength(text)} bytes`)
  }
  const bytes = new Uint8Array([1, 2, 3])
  t.ok(buildFrame(bytes, OPCODE_BINARY).equals(Buffer.from([0x82, 3, 1, 2, 3])), 'a Uint8Array too')
})
