// fastify-plezi/testing, as a user's tap test would use it: on an app that is not listening yet,
// with cookies, headers and a query, emit/request/next/closed, refusals with statusCode, and
// app.injectWS() working with controllers too.
import t from 'tap'
import Fastify from 'fastify'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { connect } from '../lib/testing.js'

class Chat extends Controller {
  static autoDispatch = true
  preConnect () {
    if (this.cookies.get('user', { signed: false }) === undefined) {
      this.reply?.code(401)
      return false
    }
    return true
  }

  onOpen () { this.write({ event: 'welcome', user: this.cookies.get('user', { signed: false }), lang: this.params.lang, agent: this.request.headers['x-agent'] }) }
  async sum (m: EventMessage) { return { event: 'sum', result: Number(m.a) + Number(m.b) } }
  say (m: EventMessage) { this.write('plain text'); this.write({ event: 'said', text: m.text }) }
  fail () { throw new Error('nope') }
  bye () { this.close(4001, 'bye') }
}

/** The statusCode of the error `promise` rejects with. */
async function statusOf (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => 'resolved', (err: { statusCode?: unknown }) => err.statusCode)
}

async function app () {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/chat', Chat)
  return app
}

t.test('connect, next, request, emit, closed on an app that was not listening', async (t) => {
  const server = await app()
  t.teardown(() => server.close())
  const client = await connect(server, '/chat', { cookies: { user: 'ada' }, headers: { 'x-agent': 'tap' }, query: { lang: 'en' } })
  t.same(await client.next('welcome'), { event: 'welcome', user: 'ada', lang: 'en', agent: 'tap' })
  t.same(await client.request({ event: 'sum', a: 2, b: 3 }), { event: 'sum', result: 5, _EID_: 'test-1' })
  client.emit('say', { text: 'hi' })
  t.same(await client.next('said'), { event: 'said', text: 'hi' }, 'next(event) skips other messages')
  t.equal(await client.next(), 'plain text', 'messages skipped by next(event) stay queued for next()')
  t.equal(await statusOf(client.request({ event: 'fail' })), 500, 'an _err_ reply rejects with its status')
  await t.rejects(client.next('never', { timeout: 50 }), /a "never" message did not happen within 50 ms/)
  client.emit({ event: 'bye' })
  t.same(await client.closed(), { code: 4001, reason: 'bye' })
  await t.rejects(client.next(), /closed before the next message/)
})

t.test('a refused upgrade rejects with its statusCode; app.close() closes what connect opened', async (t) => {
  const server = await app()
  t.teardown(() => server.close())
  t.equal(await statusOf(connect(server, '/chat')), 401)
  t.equal(await statusOf(connect(server, '/nowhere')), 404)
  const client = await connect(server, '/chat', { cookies: { user: 'bob' } })
  await client.next('welcome')
  await server.close()
  t.same(await client.closed(), { code: 1001, reason: 'server shutting down' })
})

t.test('app.injectWS(): controllers write, publish and close on a websocket with no TCP socket', async (t) => {
  class Echo extends Controller {
    async onOpen () {
      await this.subscribe('room')
      this.write('hi')
    }

    onMessage (data: string) {
      this.write(`echo ${data}`)
      void this.publish('room', { published: data })
    }
  }
  const server = Fastify()
  await server.register(plezi, { pingInterval: 0, shutdownTimeout: 200 }) // injected sockets never end by themselves
  server.plezi.route('/echo', Echo)
  await server.ready()
  t.teardown(() => server.close())
  const ws = await server.injectWS('/echo')
  const frames: string[] = []
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => { frames.push(data.toString()); if (frames.length === 3) resolve() })
  })
  ws.send('yo')
  await done
  t.same(frames, ['hi', 'echo yo', '{"published":"yo"}'])
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)))
  const started = Date.now()
  await server.close()
  t.equal(await closed, 1001)
  t.comment(`closed in ${Date.now() - started} ms`)
})
