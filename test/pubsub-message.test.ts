// PubSubMessage: encoded once at publish, decoded and framed lazily and only once.
import t from 'tap'
import { PubSubMessage } from '../lib/pubsub/pubsub.js'

t.test('kinds from publisher values', async (t) => {
  t.equal(PubSubMessage.from('c', 'text').kind, 'string')
  t.equal(PubSubMessage.from('c', Buffer.from('b')).kind, 'buffer')
  const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3)
  const fromBytes = PubSubMessage.from('c', bytes)
  t.equal(fromBytes.kind, 'buffer')
  t.same([...(fromBytes.value as Buffer)], [8, 7], 'a Uint8Array view keeps its offset')
  t.ok(Buffer.isBuffer(PubSubMessage.from('c', new ArrayBuffer(2)).value))
  const json = PubSubMessage.from('c', { a: [1] })
  t.equal(json.kind, 'json')
  t.equal(json.data, '{"a":[1]}', 'JSON is encoded once, at publish')
  t.throws(() => PubSubMessage.from('c', undefined), { code: 'PLZ_ERR_MESSAGE' })
  t.throws(() => PubSubMessage.from('c', () => 1), { code: 'PLZ_ERR_MESSAGE' })
  const circular: Record<string, unknown> = {}
  circular.self = circular
  t.throws(() => PubSubMessage.from('c', circular), { code: 'PLZ_ERR_MESSAGE' })
})

t.test('value and frame are computed once', async (t) => {
  const msg = PubSubMessage.from('c', { n: 1 })
  t.equal(msg.value, msg.value, 'the parsed value is memoised')
  t.equal(msg.frame, msg.frame, 'the frame is memoised')
  t.same([...msg.frame], [0x81, 7, ...Buffer.from('{"n":1}')])
  const bin = PubSubMessage.from('c', Buffer.from([1, 2]))
  t.equal(bin.binary, true)
  t.same([...bin.frame], [0x82, 2, 1, 2])
})

t.test('wire round trip and foreign packets', async (t) => {
  const wire = PubSubMessage.from('c', [1, 'a']).toWire('app/c', 'me')
  t.same(wire, { topic: 'app/c', origin: 'me', kind: 'json', data: '[1,"a"]' })
  t.same(PubSubMessage.fromWire('c', wire)?.value, [1, 'a'])
  // msgpack may hand back a plain Uint8Array
  const back = PubSubMessage.fromWire('c', { kind: 'buffer', data: new Uint8Array([5]) as Buffer })
  t.ok(Buffer.isBuffer(back?.value))
  t.equal(PubSubMessage.fromWire('c', { kind: 'buffer', data: 'not bytes' }), undefined)
  t.equal(PubSubMessage.fromWire('c', { kind: 'json', data: Buffer.from('{}') }), undefined)
  t.equal(PubSubMessage.fromWire('c', {}), undefined)
})
