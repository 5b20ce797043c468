// Engine option checks: which engine is picked, and TypeErrors that name the option.
import t from 'tap'
import mqemitter from 'mqemitter'
import { defaultAppName, resolveEngineOptions, type Emitter } from '../lib/pubsub.js'

const emitter = mqemitter() as unknown as Emitter

t.test('engine choice: option redis, then PL_REDIS_URL, then REDIS_URL, else in-process', async (t) => {
  const env = { PL_REDIS_URL: 'redis://pl:1', REDIS_URL: 'redis://plain:2' }
  t.same(resolveEngineOptions({ appName: 'a' }, {}), { appName: 'a' })
  t.same(resolveEngineOptions({ appName: 'a', redis: 'redis://opt:3' }, env), { appName: 'a', redis: 'redis://opt:3' })
  t.same(resolveEngineOptions({ appName: 'a', redis: { port: 7 } }, env), { appName: 'a', redis: { port: 7 } })
  t.same(resolveEngineOptions({ appName: 'a' }, env), { appName: 'a', redis: 'redis://pl:1' })
  t.same(resolveEngineOptions({ appName: 'a' }, { PL_REDIS_URL: '', REDIS_URL: 'redis://plain:2' }), { appName: 'a', redis: 'redis://plain:2' })
  t.same(resolveEngineOptions({ appName: 'a', redis: false }, env), { appName: 'a' }, 'redis: false ignores the environment')
  t.same(resolveEngineOptions({ appName: 'a', redis: null }, env), { appName: 'a', redis: 'redis://pl:1' }, 'null is unset')
  t.same(resolveEngineOptions({ appName: 'a', emitter }, env), { appName: 'a', emitter }, 'an emitter wins over the environment')
  t.same(resolveEngineOptions({ appName: 'a', emitter, redis: false }, env), { appName: 'a', emitter })
})

t.test('bad options throw TypeErrors naming the option', async (t) => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['appName', '', /"appName"/],
    ['appName', 'a/b', /"appName"/],
    ['appName', 'a+b', /"appName"/],
    ['appName', 'a#b', /"appName"/],
    ['appName', 'a*', /"appName"/],
    ['appName', 42, /"appName".*number/],
    ['redis', '', /"redis".*""/],
    ['redis', 6379, /"redis".*number/],
    ['redis', [], /"redis".*array/],
    ['redis', true, /"redis"/],
    ['emitter', {}, /"emitter".*object/],
    ['emitter', 'x', /"emitter"/]
  ]
  for (const [option, value, message] of bad) {
    t.throws(() => resolveEngineOptions({ appName: 'ok', [option]: value } as never, {}), { name: 'TypeError', message }, `${option}: ${String(value)}`)
  }
  t.throws(() => resolveEngineOptions({ appName: 'ok', emitter, redis: 'redis://x' }, {}), { name: 'TypeError', message: /"redis" and "emitter"/ })
})

t.test('default appName: main script name plus _app, made safe', async (t) => {
  t.equal(defaultAppName('/srv/chat/server.js'), 'server_app')
  t.equal(defaultAppName('/srv/a+b#c.ts'), 'a_b_c_app')
  t.equal(defaultAppName(undefined), 'plezi_app')
  t.match(resolveEngineOptions({}, {}).appName, /^[^/+#]+_app$/)
})
