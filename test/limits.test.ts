import t from 'tap'
import { Controller } from '../lib/index.js'
import { build, connect, deferred, rawUpgrade, Client } from './helpers.js'

class Echo extends Controller {
  onMessage (data: string | Buffer) { this.write(data) }
}

t.test('maxPayload: an oversized frame closes with 1009, other clients go on', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/echo', Echo) }, { maxPayload: 1024 })
  const healthy = await connect(t, `${wsUrl}/echo`)
  const greedy = await connect(t, `${wsUrl}/echo`)
  greedy.send('x'.repeat(1024))
  t.equal((await greedy.next()).length, 1024, 'a frame of exactly maxPayload passes')
  greedy.send('x'.repeat(1025))
  t.equal((await greedy.closed).code, 1009)
  healthy.send('still here')
  t.equal(await healthy.next(), 'still here')
})

t.test('pingInterval: a client that stops answering pings is ended and onClose runs', async (t) => {
  const closed = deferred()
  class Watch extends Controller {
    onMessage () {}
    onClose () { closed.resolve() }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/watch', Watch) }, { pingInterval: 30 })
  const lively = await connect(t, `${wsUrl}/watch`)
  const silent = await connect(t, `${wsUrl}/watch`, { autoPong: false })
  let pings = 0
  lively.ws.on('ping', () => { pings++ })
  const { code } = await silent.closed
  t.equal(code, 1006, 'terminated without a close frame')
  await closed.promise
  t.ok(pings >= 1, 'the server pinged')
  t.equal(lively.ws.readyState, lively.ws.OPEN, 'a client that answers stays')
})

t.test('allowedOrigins: foreign browser origins get 403, no Origin passes', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/echo', Echo) }, { allowedOrigins: ['https://good.example'] })
  await t.rejects(new Client(`${wsUrl}/echo`, { origin: 'https://evil.example' }).opened, /403/)
  const good = await connect(t, `${wsUrl}/echo`, { origin: 'https://GOOD.example' })
  t.equal(good.ws.readyState, good.ws.OPEN)
  const noOrigin = await connect(t, `${wsUrl}/echo`)
  t.equal(noOrigin.ws.readyState, noOrigin.ws.OPEN)
})

t.test('allowedOrigins entries are normalised as origins at register', async (t) => {
  const { url } = await build(t, (app) => { app.plezi.route('/echo', Echo) }, {
    allowedOrigins: ['https://App.Example/', 'https://default.example:443', 'http://localhost:3000', 'chrome-extension://abcdefgh']
  })
  const status = async (origin: string): Promise<string> => (await rawUpgrade(url, '/echo', { Origin: origin })).split(' ')[1]
  t.equal(await status('https://app.example'), '101', 'a trailing slash and capitals in the entry do not matter')
  t.equal(await status('https://default.example'), '101', 'nor the default port')
  t.equal(await status('http://localhost:3000'), '101')
  t.equal(await status('chrome-extension://abcdefgh'), '101', 'a browser extension\'s origin')
  for (const origin of ['http://app.example', 'https://app.example:8443', 'https://app.example.evil.example', 'http://localhost:3001', 'null', 'https://app.example/x']) {
    t.equal(await status(origin), '403', `${origin} is refused`)
  }
})

t.test('allowedOrigins as a function', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/echo', Echo) }, { allowedOrigins: (origin) => origin.endsWith('.trusted.test') })
  await t.rejects(new Client(`${wsUrl}/echo`, { origin: 'https://other.test' }).opened, /403/)
  await connect(t, `${wsUrl}/echo`, { origin: 'https://app.trusted.test' })
})

t.test('maxBufferedAmount: a slow consumer is closed with 1013, memory stays bounded', async (t) => {
  const tripped = deferred<number>()
  class Flood extends Controller {
    onMessage () {
      const chunk = Buffer.alloc(64 * 1024)
      for (let i = 0; i < 1024; i++) {
        if (!this.write(chunk)) { tripped.resolve(i); return }
      }
    }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/flood', Flood) }, { maxBufferedAmount: 256 * 1024 })
  const slow = await connect(t, `${wsUrl}/flood`)
  const rawSocket = (slow.ws as unknown as { _socket: { pause (): void, resume (): void } })._socket
  // stop reading: the kernel buffers fill, then ws buffers, then the limit trips
  rawSocket.pause()
  slow.send('go')
  const written = await tripped.promise
  t.ok(written < 1024, `writes stopped after ${written} of 1024 chunks instead of buffering 64 MiB`)
  rawSocket.resume()
  t.equal((await slow.closed).code, 1013, 'the client that reads again finds the 1013 close')
})
