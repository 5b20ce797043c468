// Two processes on the shared Redis: 1,000 numbered messages each way arrive exactly once and
// in order, and each process's own subscribers get its own publishes exactly once.
// The child (test/fixtures/pubsub-child.ts) runs TypeScript through tap's own loader.
import t from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { PubSub } from '../lib/pubsub/pubsub.js'
import { Collector, RecordingLog, REDIS_URL, ciRequiresRedis, redisAnswers, uniqueAppName } from './fixtures/pubsub-helpers.js'
import type { ChildReport, ParentCommand } from './fixtures/pubsub-child.js'

const COUNT = 1000
const numbers = Array.from({ length: COUNT }, (_, i) => i + 1)

/** Reports from the child, kept until a test takes them; rejects if the child dies first. */
class Inbox extends EventEmitter {
  readonly #reports: ChildReport[] = []
  #exited: Error | undefined

  constructor (child: ChildProcess) {
    super()
    child.on('message', (report: ChildReport) => {
      this.#reports.push(report)
      this.emit('report')
    })
    child.on('exit', (code, signal) => {
      this.#exited = new Error(`child exited early (code ${String(code)}, signal ${String(signal)})`)
      this.emit('report')
    })
  }

  async take<T extends ChildReport['type']> (type: T): Promise<Extract<ChildReport, { type: T }>> {
    for (;;) {
      const i = this.#reports.findIndex((r) => r.type === type)
      if (i >= 0) return this.#reports.splice(i, 1)[0] as Extract<ChildReport, { type: T }>
      if (this.#exited !== undefined) throw this.#exited
      await once(this, 'report')
    }
  }
}

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail('Redis is required under CI but does not answer at 127.0.0.1:6379')
const skip = redisUp ? false : 'REDIS NOT RUNNING at 127.0.0.1:6379: the cross-process test is SKIPPED (under CI=true this fails)'

t.test('two processes share channels through Redis', { skip }, async (t) => {
  const appName = uniqueAppName('xproc')
  const pubsub = new PubSub({ appName, redis: REDIS_URL, log: new RecordingLog().log })
  t.teardown(() => pubsub.close())
  await pubsub.ready()
  const fromChild = new Collector()
  const own = new Collector()
  await pubsub.subscribe('to-parent', fromChild)
  await pubsub.subscribe('to-child', own)

  const child = fork(fileURLToPath(new URL('fixtures/pubsub-child.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('@tapjs/typescript/import')],
    env: { ...process.env, PUBSUB_REDIS: REDIS_URL, PUBSUB_APP: appName },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
    await exited
  })
  const inbox = new Inbox(child)
  const command = (c: ParentCommand): void => { child.send(c) }
  // The child subscribed before it reported ready.
  await inbox.take('ready')

  const published = await Promise.all([...numbers.map((n) => pubsub.publish('to-child', n)), pubsub.publish('to-child', 'end')])
  t.ok(published.every(Boolean), 'parent publishes resolved true')
  t.same((await inbox.take('received')).values, [...numbers, 'end'], 'child got the parent\'s messages once each, in order')
  await own.until('end')
  t.same(own.values, [...numbers, 'end'], 'parent\'s own subscriber got its publishes once each, in order')

  command({ type: 'publish', count: COUNT })
  t.equal((await inbox.take('published')).ok, true, 'child publishes resolved true')
  await fromChild.until('end')
  t.same(fromChild.values, [...numbers, 'end'], 'parent got the child\'s messages once each, in order')
  t.same((await inbox.take('own')).values, [...numbers, 'end'], 'child\'s own subscriber got its publishes once each, in order')

  command({ type: 'close' })
  const [code] = await exited
  t.equal(code, 0, 'child closed its PubSub and exited cleanly')
})
