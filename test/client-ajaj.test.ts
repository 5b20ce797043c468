// AJAJ over fetch against the real plugin: ajaj.emit, ajaj.add, failures, and the ajaj.auto
// fallback after an ack timeout.
import t from 'tap'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { fixture, unackedClient, next } from './client-helpers.js'
import type { Message } from '../client/index.js'

t.test('ajaj.emit POSTs the event; the JSON reply is dispatched to handlers', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  const reply = next(client, 'sum')
  await client.ajaj.emit({ event: 'sum', a: 4, b: 5 })
  t.same(await reply, { event: 'sum', result: 9 })
})

t.test('ajaj.add fields are merged into every event, the event winning', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  client.ajaj.add = { token: 'abc', text: 'default' }
  const echoed = new Promise<Message>((resolve) => { client.unknown = resolve })
  await client.ajaj.emit({ event: 'echo', text: 'mine' })
  t.match(await echoed, { event: 'echo', token: 'abc', text: 'mine' })
})

t.test('204 dispatches nothing; a failure calls the callback with the event', async (t) => {
  const f = fixture(t)
  const { url, app } = await f.start()
  const client = f.client(url)
  const failed: Message[] = []
  client.unknown = (msg) => { failed.push({ unexpected: msg }) }
  await client.ajaj.emit({ event: 'note', n: 1 }, (ev) => { failed.push(ev) })
  t.same(failed, [], '204: nothing dispatched, no failure')
  await client.ajaj.emit({ event: 'nope' }, (ev) => { failed.push(ev) })
  t.same(failed, [{ event: 'nope' }], '404: the callback gets the event')
  await app.close()
  await client.ajaj.emit({ event: 'sum', a: 1, b: 1 }, (ev) => { failed.push(ev) })
  t.equal(failed.length, 2, 'a network error calls back too')
  await client.ajaj.emit({ event: 'sum' }) // and without a callback nothing throws
})

t.test('a reply that is not JSON is logged', async (t) => {
  const f = fixture(t)
  const { url } = await f.start()
  const client = f.client(url)
  const server = createServer((_req, res) => { res.end('not json') })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  client.ajaj.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const errors = t.capture(console, 'error')
  await client.ajaj.emit({ event: 'x' })
  t.match(errors()[0]?.args[0], /not JSON/)
})

t.test('ajaj.auto: an event without ack in time is sent again over AJAJ', async (t) => {
  const { client } = await unackedClient(t) // the server acks nothing until released
  client.ajaj.auto = true
  client.log_events = true
  const logs = t.capture(console, 'log')
  const reply = next(client, 'sum')
  client.emit({ event: 'sum', a: 20, b: 22 }, () => t.fail('no ack expected'), undefined, 20)
  t.match(await reply, { event: 'sum', result: 42 }, 'the reply came over HTTP')
  t.match(logs()[0]?.args[0], /falling back on AJAJ/)
})

t.test('ajaj.auto: ontimeout runs when AJAJ fails too', async (t) => {
  const { client } = await unackedClient(t) // the server acks nothing until released
  client.ajaj.auto = true
  client.ajaj.url += '/nowhere/at/all'
  const timedOut = new Promise<Message>((resolve) => { client.ontimeout = resolve })
  client.emit({ event: 'sum', a: 1, b: 1 }, () => {}, undefined, 20)
  t.match(await timedOut, { event: 'sum', a: 1, b: 1 })
})
