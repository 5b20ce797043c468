import t from 'tap'
import { Readable } from 'node:stream'
import { Controller } from '../lib/index.js'
import { build } from './helpers.js'

class Items extends Controller {
  index () { return 'index' }
  new () { return 'new form' }
  show () { return `show ${String(this.params.id)}` }
  create () { return { created: this.params.name ?? null } }
  update () { return { updated: this.params.id, name: this.params.name ?? null } }
  delete () { return { deleted: this.params.id } }
  stats () { return { count: 3 } }
  search (query: unknown) { return query }
  binary () { return Buffer.from([1, 2, 3]) }
  stream () { return Readable.from(['a', 'b', 'c']) }
  async later () { return 'awaited' }
  nothing () { return undefined }
  refused () { return false }
  empty () { return null }
  handSent () { void this.reply!.code(202).send('by hand') }
}

let instances = 0
class Counted extends Controller {
  index () { instances++; return 'ok' }
}

class Nested extends Controller {
  index () { return `room ${String(this.params.room)}` }
  show () { return `room ${String(this.params.room)} item ${String(this.params.id)}` }
}

class WithId extends Controller {
  show () { return `id ${String(this.params.id)}` }
}

t.test('the REST table', async (t) => {
  const { app } = await build(t, (app) => { app.plezi.route('/items', Items) })
  const get = (url: string) => app.inject({ method: 'GET', url })

  let res = await get('/items')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'index')
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')

  t.equal((await get('/items/')).body, 'index', 'a trailing slash is the index too')
  t.equal((await get('/items/new')).body, 'new form')
  t.equal((await get('/items/42')).body, 'show 42')
  t.equal((await get('/items/42?name=x')).body, 'show 42')

  res = await get('/items/stats')
  t.same(res.json(), { count: 3 }, 'a zero-parameter method is GET /prefix/<name>')
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal((await get('/items/search')).body, 'show search', 'a method with parameters is not a GET route')

  res = await get('/items/binary')
  t.equal(res.headers['content-type'], 'application/octet-stream')
  t.same(res.rawPayload, Buffer.from([1, 2, 3]))
  t.equal((await get('/items/stream')).body, 'abc', 'a stream is piped')
  t.equal((await get('/items/later')).body, 'awaited', 'a promise is awaited')
  t.equal((await get('/items/nothing')).statusCode, 404, 'undefined → 404')
  t.equal((await get('/items/refused')).statusCode, 404, 'false → 404')
  t.equal((await get('/items/empty')).statusCode, 404, 'null → 404')
  res = await get('/items/handSent')
  t.equal(res.statusCode, 202, 'a reply sent by hand is left alone')
  t.equal(res.body, 'by hand')

  res = await app.inject({ method: 'POST', url: '/items', payload: { name: 'book' } })
  t.same(res.json(), { created: 'book' })
  res = await app.inject({ method: 'PUT', url: '/items/7', payload: { name: 'pen' } })
  t.same(res.json(), { updated: '7', name: 'pen' })
  res = await app.inject({ method: 'PATCH', url: '/items/7', payload: { name: 'ink' } })
  t.same(res.json(), { updated: '7', name: 'ink' })
  res = await app.inject({ method: 'DELETE', url: '/items/7' })
  t.same(res.json(), { deleted: '7' })
  t.equal((await app.inject({ method: 'DELETE', url: '/items' })).statusCode, 404, 'DELETE needs an id')
  t.equal((await app.inject({ method: 'PUT', url: '/items' })).statusCode, 404, 'PUT needs an id')
})

t.test('routing reads only the route\'s own :id, never one from the query or the body', async (t) => {
  class Greeter extends Controller {
    static autoDispatch = true
    greet (m: { name?: unknown }) { return { event: 'greet', text: `Hello, ${String(m.name)}` } }
    update () { return 'update' }
  }
  const { app } = await build(t, (app) => {
    app.plezi.route('/items', Items)
    app.plezi.route('/greeter', Greeter)
  })
  t.equal((await app.inject('/items?id=5')).body, 'index', 'GET /items?id=5 is the index')
  let res = await app.inject({ method: 'POST', url: '/items', payload: { id: 5, name: 'book' } })
  t.same(res.json(), { created: 'book' }, 'POST /items {id} is create()')
  res = await app.inject({ method: 'POST', url: '/items?id=3', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'id=4&name=form' })
  t.same(res.json(), { created: 'form' }, 'an id in a form or the query is no route either')
  t.equal((await app.inject({ method: 'DELETE', url: '/items?id=7' })).statusCode, 404, 'DELETE /items?id=7 is 404')
  t.equal((await app.inject({ method: 'PUT', url: '/items', payload: { id: 7 } })).statusCode, 404, 'PUT /items {id} is 404')
  t.equal((await app.inject('/items/5?id=9')).body, 'show 5', 'the path\'s :id wins in params too')
  // Plezi's own browser client copies the event name into `id` in every AJAJ body
  res = await app.inject({ method: 'POST', url: '/greeter', payload: { event: 'greet', name: 'Aj', id: 'greet' } })
  t.same(res.json(), { event: 'greet', text: 'Hello, Aj' }, 'Plezi\'s AJAJ body is the event greet')
})

t.test('_method overrides the verb of a POST, from a form or the query', async (t) => {
  const { app } = await build(t, (app) => { app.plezi.route('/items', Items) })
  let res = await app.inject({
    method: 'POST',
    url: '/items/9',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '_method=delete'
  })
  t.same(res.json(), { deleted: '9' })
  res = await app.inject({
    method: 'POST',
    url: '/items/9?_method=PATCH',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=form&__proto__=x'
  })
  t.same(res.json(), { updated: '9', name: 'form' }, 'form fields reach params')
  res = await app.inject({ method: 'POST', url: '/items?_method=bogus', payload: { name: 'still create' } })
  t.same(res.json(), { created: 'still create' }, 'an unknown override leaves POST')
})

t.test('params: route params over body over query', async (t) => {
  class Echo extends Controller {
    update () { return this.params }
  }
  const { app } = await build(t, (app) => { app.plezi.route('/echo/:room', Echo) })
  const res = await app.inject({ method: 'PUT', url: '/echo/lobby/3?room=query&q=1&id=nope', payload: { b: 2, room: 'body', __proto__: { polluted: 1 } } })
  t.same(res.json(), { room: 'lobby', id: '3', q: '1', b: 2 })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('nested paths and paths that already have :id', async (t) => {
  const { app } = await build(t, (app) => {
    app.plezi.route('/rooms/:room', Nested)
    app.plezi.route('/things/:id', WithId)
  })
  t.equal((await app.inject('/rooms/blue')).body, 'room blue')
  t.equal((await app.inject('/rooms/blue/5')).body, 'room blue item 5')
  t.equal((await app.inject('/things/8')).body, 'id 8')
  t.equal((await app.inject('/things')).statusCode, 404, 'no optional :id is added when the path has one')
})

t.test('a new controller instance per request', async (t) => {
  const seen = new Set<Controller>()
  class Same extends Controller {
    index () { seen.add(this); return 'x' }
  }
  const { app } = await build(t, (app) => {
    app.plezi.route('/counted', Counted)
    app.plezi.route('/same', Same)
  })
  await app.inject('/counted')
  await app.inject('/counted')
  t.equal(instances, 2)
  await app.inject('/same')
  await app.inject('/same')
  t.equal(seen.size, 2)
})

t.test('a throwing action is a 500 logged by the app, and the server goes on', async (t) => {
  const logs: string[] = []
  class Boom extends Controller {
    index () { throw new Error('boom') }
    async show () { throw new Error('async boom') }
  }
  const { app } = await build(t, (app) => { app.plezi.route('/boom', Boom); app.plezi.route('/items', Items) }, {}, {
    logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } }
  })
  t.equal((await app.inject('/boom')).statusCode, 500)
  t.equal((await app.inject('/boom/1')).statusCode, 500)
  t.ok(logs.some((l) => l.includes('async boom')), 'the error reached the app logger')
  t.equal((await app.inject('/items')).body, 'index')
})

t.test('route() rejects what is not a controller', async (t) => {
  await build(t, (app) => {
    t.throws(() => app.plezi.route('/x', class {} as never), { code: 'PLZ_ERR_ROUTE' })
    t.throws(() => app.plezi.route('x', Items), { code: 'PLZ_ERR_ROUTE', message: /starting with/ })
  })
  t.throws(() => new Items(), TypeError, 'controllers come from the router')
})

t.test('routes respect encapsulation: a prefix and a hook of a child plugin', async (t) => {
  const { app } = await build(t, async (app) => {
    await app.register(async (child) => {
      child.addHook('onRequest', async (request, reply) => {
        if (request.headers.authorization !== 'yes') return reply.code(401).send()
      })
      child.plezi.route('/items', Items)
    }, { prefix: '/api' })
  })
  t.equal((await app.inject({ url: '/api/items', headers: { authorization: 'yes' } })).body, 'index')
  t.equal((await app.inject('/api/items')).statusCode, 401)
  t.equal((await app.inject('/items')).statusCode, 404)
})
