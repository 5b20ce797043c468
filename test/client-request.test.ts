// PleziClient.request against the real plugin: replies matched by _EID_, rejections.
import t from 'tap'
import { fixture, unackedClient, opened } from './client-helpers.js'
import type { Message, RequestError } from '../client/index.js'

t.test('request resolves with the reply that carries its _EID_, not through handlers', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  let handled = 0
  client.sum = () => { handled++ }
  const [a, b] = await Promise.all([
    client.request({ event: 'sum', a: 1, b: 2 }),
    client.request({ event: 'sum', a: 10, b: 20 })
  ])
  t.equal(a.result, 3)
  t.equal(b.result, 30)
  t.not((a as Message)._EID_, (b as Message)._EID_)
  t.equal(handled, 0, 'replies to requests skip the handler property')
  const echo = await client.request({ event: 'echo', text: 'hi' })
  t.match(echo, { event: 'echo', text: 'hi' })
})

t.test('request rejects on an _err_ reply', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  await opened(client)
  const unknownEvent = await client.request({ event: 'nope' } as never).catch((err: RequestError) => err)
  t.match(unknownEvent, { code: 'server', reply: { event: '_err_', status: 404, request: 'nope' } })
  t.match((unknownEvent as Error).message, /404 unknown event/)
  const thrown = await client.request({ event: 'fail' }).catch((err: RequestError) => err)
  t.match(thrown, { code: 'server', reply: { status: 500, request: 'fail' } })
})

t.test('request rejects on timeout; a late reply is ignored', async (t) => {
  const { client, release } = await unackedClient(t) // the server acks nothing until released
  const unknown: unknown[] = []
  client.unknown = (msg) => { unknown.push(msg) }
  await t.rejects(client.request({ event: 'sum', a: 1, b: 1 }, { timeout: 20 }), { code: 'timeout' })
  release()
  t.equal((await client.request({ event: 'sum', a: 2, b: 2 })).result, 4)
  t.same(unknown, [], 'the late reply went nowhere')
})

t.test('request rejects at once when it can be neither sent nor queued, and on close()', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  const pending = client.request({ event: 'sum', a: 1, b: 1 }) // queued while connecting
  client.close()
  await t.rejects(pending, { code: 'closed' })
  await t.rejects(client.request({ event: 'sum', a: 1, b: 1 }), { code: 'unsent' })
})
