// A method named almost like a hook is not one: route() warns, naming it, because the hook
// never runs and the method is a public event instead.
import t from 'tap'
import { Controller } from '../lib/index.js'
import { lookalikeOf } from '../lib/lookalike.js'
import { LIFECYCLE_HOOKS } from '../lib/method-table.js'
import { build, connect, logCapture } from './helpers.js'

const RESERVED = [...LIFECYCLE_HOOKS, 'unknown']

t.test('the rule: case, underscores, or one edit away from a hook or unknown', async (t) => {
  const near: Record<string, string> = {
    onMesage: 'onMessage', // a letter dropped
    onMessages: 'onMessage', // one added
    onMassage: 'onMessage', // one changed
    onClsoe: 'onClose', // two swapped
    onopen: 'onOpen', // case
    on_message: 'onMessage', // Plezi's Ruby names
    pre_connect: 'preConnect',
    PreConnect: 'preConnect',
    onShutDown: 'onShutdown',
    unknwon: 'unknown'
  }
  for (const [name, hook] of Object.entries(near)) t.equal(lookalikeOf(name, RESERVED), hook, `${name} → ${hook}`)
  for (const name of [...RESERVED, 'open', 'message', 'close', 'onDrain' /* two edits */, 'onOpenRoom', 'chat', 'shutdown', 'preconnectUser']) {
    t.equal(lookalikeOf(name, RESERVED), undefined, `${name} is not a lookalike`)
  }
})

class Typos extends Controller {
  static autoDispatch = true
  preConect () { return false } // meant to refuse: it never runs
  onMesage () { return { event: 'reached', by: 'onMesage' } }
  onopen () {}
  on_close () {}
  unknwon () {}
  _onMesage () {} // off the wire anyway: no warning
  open () {} // an event name of its own: no warning
}

class Fine extends Controller {
  static autoDispatch = true
  preConnect () { return true }
  onOpen () {}
  onClose () {}
  chat () {}
}

class HttpOnly extends Controller {
  onClsoe () { return 'a GET route' }
}

t.test('route() warns once per lookalike, with the method and the hook it nearly spells', async (t) => {
  const capture = logCapture('warn')
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/typos', Typos)
    app.plezi.route('/fine', Fine)
    app.register(async (scope) => { scope.plezi.route('/http/', HttpOnly) }, { prefix: '/api' })
  }, {}, { logger: capture.logger })
  const warnings = capture.lines.filter((l) => l.level === 40 && l.method !== undefined)
  t.same(warnings.map((l) => [l.controller, l.method, l.hook]), [
    ['Typos', 'preConect', 'preConnect'],
    ['Typos', 'onMesage', 'onMessage'],
    ['Typos', 'onopen', 'onOpen'],
    ['Typos', 'on_close', 'onClose'],
    ['Typos', 'unknwon', 'unknown'],
    ['HttpOnly', 'onClsoe', 'onClose']
  ])
  t.match(warnings[1]!.msg, /Typos\.onMesage\(\) is not the onMessage\(\) hook.*websocket event/)
  t.match(warnings[5]!.msg, /clients can call it as GET \/api\/http\/onClsoe/)

  // why it matters: the misspelt gate let the connection in, and the "hook" is an event
  const client = await connect(t, `${wsUrl}/typos`)
  client.send({ event: 'onMesage' })
  t.same(await client.json(), { event: 'reached', by: 'onMesage' })
  t.equal((await app.inject('/api/http/onClsoe')).body, 'a GET route')
})
