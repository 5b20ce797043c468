// AJAJ passes the same gate as the websocket upgrade (allowedOrigins, shutdown, preConnect, on
// the instance that then runs the handler), and only JSON bodies are AJAJ: a form post, which
// a cross-site HTML form can send without a CORS preflight, never fires an event.
import t from 'tap'
import { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, deferred, logCapture } from './helpers.js'

const ran: string[] = []

class Guarded extends Controller {
  static autoDispatch = true
  user: string | undefined

  async preConnect () {
    ran.push('preConnect')
    const mode = this.request.headers['x-mode']
    if (mode === 'deny') return false
    if (mode === 'status') { this.reply.code(401); return false }
    if (mode === 'throw') throw new Error('gate exploded')
    if (mode === 'sent') { this.reply.code(409).send('taken'); return true }
    await Promise.resolve()
    this.user = 'ada'
    return true
  }

  whoami (m: EventMessage) {
    ran.push('whoami')
    return { event: 'whoami', user: this.user ?? null, id: m.id ?? null }
  }

  wipe () { ran.push('wipe'); return { event: 'wiped' } }
}

/** POSTs JSON to the real server, with optional extra headers. */
function postJson (url: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

t.beforeEach(() => { ran.length = 0 })

t.test('AJAJ is refused by preConnect: false → 403, the status it set, a throw → 500 (logged)', async (t) => {
  const { lines, logger } = logCapture('error')
  const { url } = await build(t, (app) => { app.plezi.route('/g', Guarded) }, {}, { logger })
  let res = await postJson(`${url}/g`, { event: 'wipe' }, { 'x-mode': 'deny' })
  t.equal(res.status, 403)
  t.equal(await res.text(), '', 'an empty refusal, as for the upgrade')
  t.equal((await postJson(`${url}/g`, { event: 'wipe' }, { 'x-mode': 'status' })).status, 401)
  t.equal((await postJson(`${url}/g`, { event: 'wipe' }, { 'x-mode': 'throw' })).status, 500)
  t.ok(lines.some((l) => l.err?.message === 'gate exploded' && /preConnect failed/.test(l.msg)), 'the throw was logged')
  res = await postJson(`${url}/g`, { event: 'wipe' }, { 'x-mode': 'sent' })
  t.equal(res.status, 409, 'a reply preConnect sent itself is left alone')
  t.equal(await res.text(), 'taken')
  t.equal((await postJson(`${url}/g`, { event: 'nope' }, { 'x-mode': 'deny' })).status, 403, 'an unknown event is gated too (no probing)')
  t.same(ran, ['preConnect', 'preConnect', 'preConnect', 'preConnect', 'preConnect'], 'no handler ran')
})

t.test('AJAJ runs on the instance that passed preConnect', async (t) => {
  const { url } = await build(t, (app) => { app.plezi.route('/g', Guarded) })
  const res = await postJson(`${url}/g`, { event: 'whoami' })
  t.equal(res.status, 200)
  t.same(await res.json(), { event: 'whoami', user: 'ada', id: null }, 'what preConnect stored on `this` is there')
  t.same(ran, ['preConnect', 'whoami'])
})

t.test('AJAJ from a browser Origin that is not allowed gets 403 before preConnect runs', async (t) => {
  const { url } = await build(t, (app) => { app.plezi.route('/g', Guarded) }, { allowedOrigins: ['https://good.example'] })
  t.equal((await postJson(`${url}/g`, { event: 'wipe' }, { origin: 'https://evil.example' })).status, 403)
  t.same(ran, [], 'neither preConnect nor the handler ran')
  t.equal((await postJson(`${url}/g`, { event: 'wipe' }, { origin: 'https://good.example' })).status, 200)
  t.equal((await postJson(`${url}/g`, { event: 'wipe' })).status, 200, 'no Origin (not a browser) passes')
  t.same(ran, ['preConnect', 'wipe', 'preConnect', 'wipe'])
})

t.test('AJAJ during shutdown gets 503, also when closing began while preConnect ran', async (t) => {
  const entered = deferred()
  const release = deferred()
  const shuttingDown = deferred()
  class Slow extends Guarded {
    override async preConnect () {
      entered.resolve()
      await release.promise
      return true
    }
  }
  class Watch extends Controller {
    onMessage () {}
    onShutdown () { shuttingDown.resolve() }
  }
  const { app, url, wsUrl } = await build(t, (app) => {
    app.plezi.route('/slow', Slow)
    app.plezi.route('/watch', Watch)
  })
  await connect(t, `${wsUrl}/watch`)
  const response = postJson(`${url}/slow`, { event: 'wipe' })
  const first = await Promise.race([entered.promise.then(() => 'preConnect'), response.then(() => 'response')])
  t.equal(first, 'preConnect', 'AJAJ waits for preConnect')
  const closed = app.close()
  await shuttingDown.promise // the app is closing now
  release.resolve()
  t.equal((await response).status, 503)
  t.same(ran, [], 'the handler did not run')
  await closed
})

t.test('only JSON is AJAJ: a form body with event= is an ordinary create(), or 404', async (t) => {
  class WithCreate extends Guarded {
    create () { ran.push('create'); return { created: this.params.event } }
  }
  const { url } = await build(t, (app) => {
    app.plezi.route('/g', Guarded)
    app.plezi.route('/rest', WithCreate)
  })
  const form = (path: string, body: string): Promise<Response> =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  t.equal((await form('/g', 'event=wipe')).status, 404, 'no create(): 404')
  t.equal((await form('/g', 'event=wipe&_EID_=1')).status, 404)
  const res = await form('/rest', 'event=wipe')
  t.same(await res.json(), { created: 'wipe' }, 'with create(): create() runs, the event is a field')
  const text = await fetch(`${url}/g`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"event":"wipe"}' })
  t.equal(text.status, 404, 'text/plain (a CORS-simple type too) is not AJAJ either')
  t.same(ran, ['create'], 'no event handler and no preConnect ran')

  const charset = await postJson(`${url}/g`, { event: 'wipe' }, { 'content-type': 'application/json; charset=utf-8' })
  t.same(await charset.json(), { event: 'wiped' }, 'application/json with a charset is AJAJ')
})
