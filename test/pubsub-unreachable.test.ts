// Redis down at start: `register` fails within a bound (below the app's plugin timeout) with
// PLZ_ERR_ENGINE, which names Redis and the URL without its password, and leaves nothing
// running: a process whose registration failed exits by itself.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { REDIS_URL, ciRequiresRedis, freePort, redisAnswers } from './fixtures/pubsub-helpers.js'
import { describeRedis } from '../lib/pubsub/engine.js'

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail(`Redis is required under CI but does not answer at ${REDIS_URL}`)
const redisSkip = redisUp ? false : `REDIS NOT RUNNING at ${REDIS_URL}: SKIPPED (under CI=true this fails)`

t.test('register against a dead Redis fails with PLZ_ERR_ENGINE, bounded, and leaves nothing running', async (t) => {
  const port = await freePort() // closed again: nothing listens there
  const url = `redis://app:hunter2@127.0.0.1:${port}/0`
  const child = spawn(process.execPath, ['--import', import.meta.resolve('@tapjs/typescript/import'), fileURLToPath(new URL('./fixtures/dead-redis.ts', import.meta.url))], {
    env: { ...process.env, DEAD_REDIS_URL: url, PLUGIN_TIMEOUT: '2000' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  for await (const chunk of child.stdout) {
    out += String(chunk)
    if (out.includes('\n')) break
  }
  // Once register failed, the process has nothing left to do: it must end soon by itself.
  const limit = setTimeout(() => { child.kill('SIGKILL') }, 5000)
  const [code, signal] = await exited as [number | null, string | null]
  clearTimeout(limit)
  t.equal(signal, null, 'the process exited by itself (nothing kept its event loop alive)')
  t.equal(code, 0)
  const report = JSON.parse(out.split('\n')[0])
  t.equal(report.code, 'PLZ_ERR_ENGINE')
  t.match(report.message, `could not reach Redis at redis://app:***@127.0.0.1:${port}/0 within 1000 ms`)
  t.notMatch(report.message, /hunter2/, 'the password is hidden')
  t.ok(report.ms < 2000, `failed within the bound, before Fastify's plugin timeout (${report.ms} ms)`)
})

t.test('register failing after Redis connected (a route clash) closes the engine: nothing is left running', { skip: redisSkip }, async (t) => {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('@tapjs/typescript/import'), fileURLToPath(new URL('./fixtures/dead-redis.ts', import.meta.url))], {
    env: { ...process.env, DEAD_REDIS_URL: REDIS_URL, CLIENT_ROUTE_TAKEN: '1', PLUGIN_TIMEOUT: '10000' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  for await (const chunk of child.stdout) {
    out += String(chunk)
    if (out.includes('\n')) break
  }
  const limit = setTimeout(() => { child.kill('SIGKILL') }, 5000)
  const [code, signal] = await exited as [number | null, string | null]
  clearTimeout(limit)
  t.match(JSON.parse(out.split('\n')[0]), { code: 'FST_ERR_DUPLICATED_ROUTE' }, 'register failed on the route')
  t.equal(signal, null, 'the process exited by itself: the Redis connections and timers were closed')
  t.equal(code, 0)
})

t.test('the engine is described without passwords', async (t) => {
  t.equal(describeRedis('redis://:s3cret@db.example:6380/2'), 'redis://:***@db.example:6380/2')
  t.equal(describeRedis('rediss://user:s3cret@db.example?password=other'), 'rediss://user:***@db.example?password=***')
  t.equal(describeRedis('redis://db.example:6379'), 'redis://db.example:6379')
  t.equal(describeRedis({ host: 'db.example', port: 6380, password: 's3cret' }), 'db.example:6380')
  t.equal(describeRedis({ password: 's3cret' }), 'localhost:6379')
  t.equal(describeRedis('redis://:s3cret@[::1'), 'redis://***@[::1', 'even a URL that does not parse')
  t.equal(describeRedis({ path: '/run/redis.sock', password: 's3cret' }), '/run/redis.sock')
})
