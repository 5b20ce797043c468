import t from 'tap'
import Fastify from 'fastify'
import cookie from '@fastify/cookie'
import { Controller } from '../lib/index.js'
import plezi from '../lib/index.js'
import type { FastifyReply } from 'fastify'
import { build, connect, rawUpgrade, Client, logCapture } from './helpers.js'

class Gate extends Controller {
  async preConnect () {
    const mode = this.params.mode
    if (mode === 'deny') return false
    if (mode === 'status') { this.reply!.code(401); return false }
    if (mode === 'throw') throw new Error('gate exploded')
    if (mode === 'cookie') {
      this.cookies.set('session', 'abc123', { httpOnly: true })
      this.reply!.header('x-gate', 'passed')
    }
    if (mode === 'deny-cookie') {
      this.cookies.set('reason', 'denied')
      return false
    }
    await Promise.resolve()
    return true
  }

  onOpen () { this.write(`welcome ${this.cookies.get('session') ?? 'stranger'}`) }
  onMessage () {}
}

t.test('preConnect refuses with 403, the status it set, or 500 on a throw', async (t) => {
  const { lines, logger } = logCapture('error')
  let opened = 0
  class Counting extends Gate {
    override onOpen () { opened++ }
  }
  const { wsUrl, url } = await build(t, (app) => { app.plezi.route('/gate', Counting) }, {}, { logger })
  t.match(await rawUpgrade(url, '/gate?mode=deny'), /^HTTP\/1\.1 403 /)
  t.match(await rawUpgrade(url, '/gate?mode=status'), /^HTTP\/1\.1 401 /)
  t.match(await rawUpgrade(url, '/gate?mode=throw'), /^HTTP\/1\.1 500 /)
  t.ok(lines.some((l) => l.err?.message === 'gate exploded'), 'the throw was logged')
  await t.rejects(new Client(`${wsUrl}/gate?mode=deny`).opened, /403/)
  t.equal(opened, 0, 'no websocket was opened for a refusal')
  const ok = await connect(t, `${wsUrl}/gate`)
  t.equal(ok.ws.readyState, ok.ws.OPEN, 'async true accepts')
})

t.test('cookies and headers set in preConnect are on the 101, as bytes on the wire', async (t) => {
  const { url, wsUrl } = await build(t, (app) => { app.plezi.route('/gate', Gate) })
  const head = await rawUpgrade(url, '/gate?mode=cookie')
  t.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  t.match(head, /\r\nSet-Cookie: session=abc123; Path=\/; HttpOnly; SameSite=Lax(\r\n|$)/i)
  t.match(head, /\r\nx-gate: passed(\r\n|$)/i)

  const refused = await rawUpgrade(url, '/gate?mode=deny-cookie')
  t.match(refused, /^HTTP\/1\.1 403 /)
  t.match(refused, /\r\nset-cookie: reason=denied; Path=\/; SameSite=Lax(\r\n|$)/i, 'and on a refusal')

  const client = await connect(t, `${wsUrl}/gate`, { headers: { cookie: 'session=from-browser' } })
  t.equal(await client.next(), 'welcome from-browser', 'cookies are readable in the websocket')
})

t.test('signed cookies when the app configured a secret', async (t) => {
  class Signed extends Controller {
    index () {
      this.cookies.set('user', 'ada')
      return 'set'
    }

    show () {
      return `user=${this.cookies.get('user') ?? 'none'} raw=${this.cookies.get('user', { signed: false }) ?? 'none'}`
    }

    preConnect () {
      this.cookies.set('ws', 'grace')
      this.reply.setCookie('byReply', 'hopper', { signed: true })
      return true
    }

    onOpen () { this.write(`ws sees ${this.cookies.get('user') ?? 'none'}`) }
    onMessage () {}
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(cookie, { secret: 'a secret that is long enough' })
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/signed', Signed)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port

  const res = await app.inject('/signed')
  const setCookie = String(res.headers['set-cookie'])
  t.match(setCookie, /^user=ada\.[\w%-]+; Path=\/; SameSite=Lax/, 'the cookie is signed')
  const signedValue = setCookie.split(';')[0].slice('user='.length)
  t.equal((await app.inject({ url: '/signed/1', headers: { cookie: `user=${signedValue}` } })).body, `user=ada raw=${signedValue}`)
  t.equal((await app.inject({ url: '/signed/1', headers: { cookie: 'user=ada.forged' } })).body, 'user=none raw=ada.forged', 'a bad signature reads as undefined')

  const head = await rawUpgrade(`http://127.0.0.1:${port}`, '/signed')
  t.match(head, /\r\nSet-Cookie: ws=grace\.[\w%-]+; Path=\/; SameSite=Lax/i, 'signed on the 101 too')
  const byReply = /\r\nSet-Cookie: byReply=hopper\.([^;\r]+); SameSite=Lax(\r\n|$)/i.exec(head)
  t.ok(byReply, 'reply.setCookie(…, { signed: true }) is signed on the 101')
  t.equal(app.unsignCookie(decodeURIComponent(`hopper.${byReply?.[1] ?? ''}`)).value, 'hopper', 'with the app\'s secret')
  const client = await connect(t, `ws://127.0.0.1:${port}/signed`, { headers: { cookie: `user=${signedValue}` } })
  t.equal(await client.next(), 'ws sees ada')
})

t.test('cookies in HTTP actions; delete; no cookies once the websocket is open', async (t) => {
  const { lines, logger } = logCapture('error')
  class Jar extends Controller {
    index () { this.cookies.set('a', '1', { maxAge: 60 }); return `had ${this.cookies.get('b') ?? 'none'}` }
    delete () { this.cookies.delete('a'); return 'deleted' }
    onOpen () { this.cookies.set('late', 'x') }
    onMessage () {}
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/jar', Jar) }, {}, { logger })
  const res = await app.inject({ url: '/jar', headers: { cookie: 'b=2' } })
  t.equal(res.body, 'had 2')
  t.match(String(res.headers['set-cookie']), /^a=1; Max-Age=60; Path=\/; SameSite=Lax$/)
  const del = await app.inject({ method: 'DELETE', url: '/jar/1' })
  t.match(String(del.headers['set-cookie']), /^a=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax$/)
  await connect(t, `${wsUrl}/jar`)
  const client2 = await connect(t, `${wsUrl}/jar`)
  await client2.close()
  t.ok(lines.some((l) => l.err?.code === 'PLZ_ERR_COOKIES_SENT'), 'setting a cookie after the 101 is a coded error, logged')
})

/** How many `Set-Cookie` lines of the response head set `name`. */
function setCookies (head: string, name: string): string[] {
  return head.split('\r\n').filter((line) => line.toLowerCase().startsWith(`set-cookie: ${name.toLowerCase()}=`))
}

t.test('cookies set on the reply by preConnect or by app hooks reach the 101, once each', async (t) => {
  class Hooked extends Controller {
    preConnect () {
      this.reply.setCookie('viaReply', 'r1', { path: '/', httpOnly: true })
      this.cookies.set('viaPlezi', 'p1')
      this.reply.header('set-cookie', 'viaHeader=h1; Path=/')
      return this.params.mode !== 'deny'
    }

    onMessage () {}
  }
  const { url } = await build(t, (app) => {
    app.addHook('onRequest', async (_request, reply) => { reply.setCookie('csrf', 'token', { path: '/' }) })
    app.addHook('preHandler', async (_request, reply) => { reply.setCookie('session', 's1', { path: '/', secure: true }) })
    app.plezi.route('/hooked', Hooked)
  })
  const expected = {
    viaReply: 'Set-Cookie: viaReply=r1; Path=/; HttpOnly; SameSite=Lax',
    viaPlezi: 'Set-Cookie: viaPlezi=p1; Path=/; SameSite=Lax',
    viaHeader: 'Set-Cookie: viaHeader=h1; Path=/',
    csrf: 'Set-Cookie: csrf=token; Path=/; SameSite=Lax',
    session: 'Set-Cookie: session=s1; Path=/; Secure; SameSite=Lax'
  }
  const head = await rawUpgrade(url, '/hooked')
  t.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  for (const [name, line] of Object.entries(expected)) {
    t.same(setCookies(head, name).map((l) => l.toLowerCase()), [line.toLowerCase()], `${name}: exactly once on the 101`)
  }
  const refused = await rawUpgrade(url, '/hooked?mode=deny')
  t.match(refused, /^HTTP\/1\.1 403 /)
  for (const [name, line] of Object.entries(expected)) {
    t.same(setCookies(refused, name).map((l) => l.toLowerCase()), [line.toLowerCase()], `${name}: exactly once on the refusal`)
  }
})

t.test('this.reply is a FastifyReply until the 101; then reading it throws PLZ_ERR_NO_REPLY', async (t) => {
  let captured: FastifyReply | undefined
  class Late extends Controller {
    preConnect () {
      captured = this.reply
      this.cookies.set('a', '1')
      return true
    }

    onOpen () {
      try {
        this.write(`reply is ${String(this.reply)}`)
      } catch (err) {
        this.write((err as { code?: string }).code ?? 'no code')
      }
    }

    onMessage () {}
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/late', Late) })
  const client = await connect(t, `${wsUrl}/late`)
  t.equal(await client.next(), 'PLZ_ERR_NO_REPLY')
  // the memory release after the 101: @fastify/cookie's Map on the reply is dropped
  const key = Object.getOwnPropertySymbols(captured).find((s) => s.description === 'fastify.reply.setCookies')
  t.ok(key, 'the reply had a cookie Map')
  t.equal((captured as unknown as Record<symbol, unknown>)[key!], null, 'and it was released')
})
