import t from 'tap'
import Fastify from 'fastify'
import { Controller } from '../lib/index.js'
import plezi from '../lib/index.js'
import { connect, deferred, rawUpgrade, type Client } from './helpers.js'

async function start (Klass: new () => Controller, shutdownTimeout = 5000) {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0, shutdownTimeout })
  app.plezi.route('/ws', Klass)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  return { app, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` }
}

t.test('100 connections: onShutdown writes arrive before the 1001 close, onClose once each', async (t) => {
  const hooks: string[] = []
  let closes = 0
  class Polite extends Controller {
    onOpen () { this.write('hello') }
    onMessage () {}
    onShutdown () { hooks.push('shutdown'); this.write('Server shutting down. Goodbye.') }
    onClose () { closes++ }
  }
  const { app, wsUrl } = await start(Polite)
  const clients: Client[] = []
  for (let i = 0; i < 100; i++) clients.push(await connect(t, wsUrl))
  await Promise.all(clients.map((c) => c.next()))
  await app.close()
  const results = await Promise.all(clients.map(async (c) => ({ last: await c.next(), closed: await c.closed, frames: c.frames.length })))
  for (const r of results) {
    if (r.last !== 'Server shutting down. Goodbye.' || r.closed.code !== 1001 || r.frames !== 2) {
      t.fail(`a client saw ${JSON.stringify(r)}`)
    }
  }
  t.same(results[0], { last: 'Server shutting down. Goodbye.', closed: { code: 1001, reason: 'server shutting down' }, frames: 2 })
  t.equal(hooks.length, 100, 'every onShutdown ran')
  t.equal(closes, 100, 'every onClose ran once, before close() resolved')
})

t.test('new upgrades during shutdown get 503; a hung onShutdown is cut at shutdownTimeout', async (t) => {
  const inShutdown = deferred()
  let closed = 0
  class Stubborn extends Controller {
    onMessage () {}
    async onShutdown () {
      inShutdown.resolve()
      await new Promise(() => {}) // never finishes
    }

    onClose () { closed++ }
  }
  const { app, url, wsUrl } = await start(Stubborn, 300)
  const client = await connect(t, wsUrl)
  const closing = app.close()
  await inShutdown.promise
  t.match(await rawUpgrade(url, '/ws'), /^HTTP\/1\.1 503 /, 'no new websocket while shutting down')
  await closing
  t.equal((await client.closed).code, 1001, 'closed with 1001 once the timeout cut onShutdown short')
  t.equal(closed, 0, 'onClose waits behind the hung onShutdown: the queue keeps hooks in order')
})

t.test('a peer that never answers the close frame is cut at shutdownTimeout', async (t) => {
  let closed = 0
  class Plain extends Controller {
    onMessage () {}
    onClose () { closed++ }
  }
  const { app, wsUrl } = await start(Plain, 200)
  const client = await connect(t, wsUrl)
  ;(client.ws as unknown as { _socket: { pause (): void } })._socket.pause()
  await app.close()
  t.equal(closed, 1, 'onClose ran after the straggler was terminated')
})

t.test("the app's own { websocket: true } routes are closed with 1001 too; a silent peer is cut at shutdownTimeout", async (t) => {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0, shutdownTimeout: 300 })
  app.get('/own', { websocket: true }, (socket) => { socket.on('message', (data) => socket.send(data.toString())) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const polite = await connect(t, `ws://127.0.0.1:${port}/own`)
  const silent = await connect(t, `ws://127.0.0.1:${port}/own`)
  polite.send('hi')
  t.equal(await polite.next(), 'hi')
  ;(silent.ws as unknown as { _socket: { pause (): void } })._socket.pause()
  await app.close()
  t.same(await polite.closed, { code: 1001, reason: 'server shutting down' })
})
