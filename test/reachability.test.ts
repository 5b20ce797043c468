import t from 'tap'
import { Controller } from '../lib/index.js'
import { methodTable } from '../lib/method-table.js'
import { CONTROLLER_INSTANCE_MEMBERS } from '../lib/controller.js'
import { build } from './helpers.js'

const ran: string[] = []

class Base extends Controller {
  inherited () { ran.push('inherited'); return 'inherited ok' }
}

class Guarded extends Base {
  static autoDispatch = true
  allowed () { ran.push('allowed'); return 'allowed ok' }
  withArgs (message: unknown) { ran.push('withArgs'); return message }
  _helper () { ran.push('_helper'); return 'leak' }
  #secret () { ran.push('#secret'); return 'leak' }
  useSecret () { return this.#secret() }
  index () { ran.push('index'); return 'index ok' }
  create () { ran.push('create'); return 'create ok' }
  unknown () { ran.push('unknown'); return 'leak' }
  onOpen () { ran.push('onOpen') }
  onMessage () { ran.push('onMessage') }
  onClose () { ran.push('onClose') }
  onShutdown () { ran.push('onShutdown') }
  onDrained () { ran.push('onDrained') }
  preConnect () { ran.push('preConnect'); return true }
  override toString () { ran.push('toString'); return 'leak' }
  get computed () { ran.push('computed'); return 'leak' }
}

export const FORBIDDEN = [
  'constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf',
  'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupGetter__',
  'onOpen', 'onClose', 'onMessage', 'onShutdown', 'onDrained', 'preConnect',
  'write', 'close', 'subscribe', 'unsubscribe', 'publish', 'isOpen', 'pending',
  'track', 'untrack', 'presence', 'subscribePresence', 'unsubscribePresence',
  'params', 'request', 'reply', 'cookies', 'log',
  '_helper', '#secret', 'secret', 'computed', 'unknown', 'create', 'update', 'delete', 'show'
]

t.test('the method table sorts a class once, by the rules of SPEC section 4', async (t) => {
  const table = methodTable(Guarded, Controller, CONTROLLER_INSTANCE_MEMBERS)
  t.same([...table.events.keys()].sort(), ['allowed', 'inherited', 'useSecret', 'withArgs'])
  t.same([...table.getters.keys()].sort(), ['allowed', 'inherited', 'useSecret'])
  t.same([...table.rest.keys()].sort(), ['create', 'index'])
  t.ok(table.unknown)
  t.same([...table.hooks].sort(), ['onClose', 'onDrained', 'onMessage', 'onOpen', 'onShutdown', 'preConnect'])
  t.equal(methodTable(Guarded, Controller, CONTROLLER_INSTANCE_MEMBERS), table, 'cached per class')
})

t.test('over HTTP no forbidden name runs anything; allowed methods work', async (t) => {
  const { app } = await build(t, (app) => { app.plezi.route('/g', Guarded) })
  for (const name of FORBIDDEN) {
    ran.length = 0
    const res = await app.inject(`/g/${encodeURIComponent(name)}`)
    t.equal(res.statusCode, 404, `GET /g/${name} is 404`)
    t.same(ran, [], `GET /g/${name} ran nothing`)
  }
  for (const path of ['/g/%5F%5Fproto%5F%5F', '/g/constructor/', '/g/toString?x=1', '/g/..%2Fconstructor']) {
    ran.length = 0
    t.equal((await app.inject(path)).statusCode, 404, `${path} is 404`)
    t.same(ran, [])
  }
  ran.length = 0
  t.equal((await app.inject('/g/allowed')).body, 'allowed ok')
  t.equal((await app.inject('/g/inherited')).body, 'inherited ok', 'inherited methods of the user class are reachable')
  t.equal((await app.inject('/g/withArgs')).statusCode, 404, 'a method with parameters is not a GET route')
  t.equal((await app.inject('/g')).body, 'index ok')
  t.same(ran, ['allowed', 'inherited', 'index'])
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('with a show action, forbidden names are just ids', async (t) => {
  const shown: string[] = []
  class Shows extends Guarded {
    show () { shown.push(String(this.params.id)); return 'show' }
  }
  const { app } = await build(t, (app) => { app.plezi.route('/s', Shows) })
  for (const name of ['constructor', 'toString', 'onOpen', 'write', '_helper']) {
    ran.length = 0
    t.equal((await app.inject(`/s/${name}`)).body, 'show')
    t.same(ran, [])
  }
  t.same(shown, ['constructor', 'toString', 'onOpen', 'write', '_helper'])
})
