// Two real server processes on one Redis: clients on either hear publishes of both, exactly
// once and in order.
import t from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { connect, type Client } from './helpers.js'
import { REDIS_URL, uniqueAppName, ciRequiresRedis, redisAnswers } from './fixtures/pubsub-helpers.js'

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail(`Redis is required under CI but does not answer at ${REDIS_URL}`)
const redisSkip = redisUp ? false : `REDIS NOT RUNNING at ${REDIS_URL}: SKIPPED (start redis-server; under CI=true this fails)`

const COUNT = 1000

async function startServer (t: { teardown (fn: () => unknown): void }, appName: string): Promise<{ child: ChildProcess, port: number }> {
  const child = fork(fileURLToPath(new URL('./fixtures/server-process.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('@tapjs/typescript/import')],
    env: { ...process.env, SERVER_REDIS: REDIS_URL, SERVER_APP: appName },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.disconnect()
      await once(child, 'exit')
    }
  })
  const [message] = await once(child, 'message') as [{ port: number }]
  return { child, port: message.port }
}

async function numbers (client: Client, count: number): Promise<Array<{ n: number, from: number }>> {
  const out = []
  for (let i = 0; i < count; i++) out.push(JSON.parse((await client.next()).toString()))
  return out
}

t.test('two processes share channels through Redis', { skip: redisSkip }, async (t) => {
  const appName = uniqueAppName('scaling')
  const [a, b] = await Promise.all([startServer(t, appName), startServer(t, appName)])
  const onA = await connect(t, `ws://127.0.0.1:${a.port}/seq`)
  const onB = await connect(t, `ws://127.0.0.1:${b.port}/seq`)
  t.equal(await onA.next(), 'subscribed')
  t.equal(await onB.next(), 'subscribed')

  const expected = (pid: number) => Array.from({ length: COUNT }, (_, i) => ({ n: i + 1, from: pid }))
  onB.send(`publish ${COUNT}`)
  t.same(await numbers(onA, COUNT), expected(b.child.pid!), 'A heard B\'s 1,000 messages, once each, in order')
  t.same(await numbers(onB, COUNT), expected(b.child.pid!), 'B\'s own subscriber heard them once each, in order')

  onA.send(`publish ${COUNT}`)
  t.same(await numbers(onB, COUNT), expected(a.child.pid!), 'and the other way round')
  t.same(await numbers(onA, COUNT), expected(a.child.pid!))

  // nothing more is coming: a final marker arrives next, not a duplicate
  onA.send('publish 1')
  t.same(JSON.parse((await onB.next()).toString()), { n: 1, from: a.child.pid })
  t.same(JSON.parse((await onA.next()).toString()), { n: 1, from: a.child.pid })
})
