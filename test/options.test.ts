import t from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import plezi, { Controller } from '../lib/index.js'
import { defaultAppName, resolveOptions, DEFAULTS } from '../lib/options.js'

async function registerWith (options: unknown): Promise<unknown> {
  const app = Fastify()
  try {
    await app.register(plezi, options as never)
    await app.ready()
    return null
  } catch (err) {
    return err
  } finally {
    await app.close()
  }
}

const garbage: Array<[string, unknown[]]> = [
  ['maxPayload', [0, -1, 1.5, '1024', null, NaN, Infinity, {}, true]],
  ['pingInterval', [-1, 0.5, '30000', null, []]],
  ['maxBufferedAmount', [0, -5, 'big', null]],
  ['shutdownTimeout', [-1, 2.5, '5s', null]],
  ['clientPath', ['client.js', '', 42, true, null, {}]],
  ['appName', ['', 'a/b', 'a+b', 'a#b', 'a*', 'a?', 'a[1]', 'a\\b', 'a b', 42, null, {}]],
  ['allowedOrigins', ['https://x.test', [1, 2], 42, null, { origin: 'x' },
    // entries that are not origins: no scheme, a path, a query, a fragment, credentials, no host, wildcards
    ['app.example'], ['https://app.example/chat'], ['https://app.example?x=1'], ['https://app.example#top'],
    ['https://user:pw@app.example'], ['localhost:3000'], ['file:///srv/app'], ['null'], ['*'], [''],
    ['https://good.example', 'https://*.example'], ['https://good.example', 42]]],
  ['redis', [42, 'http://not-redis', true, [], null]],
  ['emitter', [42, {}, { on () {} }, 'mq', null]]
]

t.test('every bad option fails register with a PLZ_ERR_OPTION that names it', async (t) => {
  for (const [option, values] of garbage) {
    for (const value of values) {
      const err = await registerWith({ [option]: value }) as { code?: string, message?: string } | null
      t.equal(err?.code, 'PLZ_ERR_OPTION', `${option}=${String(value)} is refused`)
      t.match(err?.message, new RegExp(`"${option}"`), `the message names ${option}`)
    }
  }
})

t.test('allowedOrigins names the entry that is not an origin', async (t) => {
  t.match(await registerWith({ allowedOrigins: ['https://good.example', 'https://good.example/app'] }), {
    code: 'PLZ_ERR_OPTION',
    message: /"allowedOrigins": entry 1 is not an origin .*received the string "https:\/\/good\.example\/app"/
  })
  t.equal(await registerWith({ allowedOrigins: [] }), null, 'an empty list is allowed: no browser origin may connect')
})

t.test('unknown options, non-objects, and redis with emitter are refused', async (t) => {
  t.match(await registerWith({ maxpayload: 1 }), { code: 'PLZ_ERR_OPTION', message: /"maxpayload": unknown option/ })
  t.throws(() => resolveOptions('nope'), { code: 'PLZ_ERR_OPTION', message: /"options"/ })
  t.throws(() => resolveOptions(null), { code: 'PLZ_ERR_OPTION' })
  const emitter = { on () {}, emit () {}, removeListener () {}, close () {} }
  t.throws(() => resolveOptions({ redis: 'redis://127.0.0.1', emitter }), { code: 'PLZ_ERR_OPTION', message: /"emitter"/ })
})

t.test('defaults, and zero where it makes sense', async (t) => {
  const resolved = resolveOptions({}, undefined, {})
  t.equal(resolved.maxPayload, DEFAULTS.maxPayload)
  t.equal(resolved.pingInterval, 30000)
  t.equal(resolved.maxBufferedAmount, 8 * 1024 * 1024)
  t.equal(resolved.shutdownTimeout, 5000)
  t.equal(resolved.clientPath, '/client.js')
  t.equal(resolved.redis, undefined)
  t.equal(resolveOptions({ pingInterval: 0, shutdownTimeout: 0 }).pingInterval, 0, '0 disables pings')
  t.equal(resolveOptions({ clientPath: false }).clientPath, false)
  const options = { maxPayload: 10 }
  resolveOptions(options)
  t.same(options, { maxPayload: 10 }, 'the caller\'s object is not mutated')
})

t.test('redis comes from the option, else PL_REDIS_URL, else REDIS_URL', async (t) => {
  t.equal(resolveOptions({}, undefined, { REDIS_URL: 'redis://b' }).redis, 'redis://b')
  t.equal(resolveOptions({}, undefined, { PL_REDIS_URL: 'redis://a', REDIS_URL: 'redis://b' }).redis, 'redis://a')
  t.equal(resolveOptions({ redis: 'redis://c' }, undefined, { PL_REDIS_URL: 'redis://a' }).redis, 'redis://c')
  t.equal(resolveOptions({ redis: false }, undefined, { REDIS_URL: 'redis://b' }).redis, undefined, 'false ignores the environment')
  const emitter = { on () {}, emit () {}, removeListener () {}, close () {} }
  t.equal(resolveOptions({ emitter }, undefined, { REDIS_URL: 'redis://b' }).redis, undefined, 'an emitter wins over the environment')
})

t.test('appName defaults to the main script name plus _app', async (t) => {
  t.equal(defaultAppName('/srv/chat/server.js'), 'server_app')
  t.equal(defaultAppName('/srv/my app.ts'), 'my_app_app')
  t.equal(defaultAppName('/srv/we[ird]*.js'), 'we_ird___app')
  t.equal(defaultAppName(''), 'plezi_app')
})

t.test('a pingInterval below a second is allowed with a warning', async (t) => {
  const warnings: unknown[] = []
  const log = { warn: (obj: unknown) => { warnings.push(obj) } }
  resolveOptions({ pingInterval: 10 }, log as never)
  t.same(warnings, [{ pingInterval: 10 }])
})

t.test('registering after @fastify/websocket is a coded error', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(websocket)
  await t.rejects(async () => { await app.register(plezi) }, { code: 'PLZ_ERR_WEBSOCKET_REGISTERED' })
})

t.test('Fastify\'s own plugin options pass', async (t) => {
  class Hello extends Controller { index () { return 'hi' } }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(plezi, { prefix: '/ignored', logLevel: 'warn' } as never)
  app.plezi.route('/hello', Hello)
  t.equal((await app.inject('/hello')).body, 'hi')
})
