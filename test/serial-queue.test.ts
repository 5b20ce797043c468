import t from 'tap'
import { SerialQueue } from '../lib/websocket/serial-queue.js'

t.test('tasks run in order, one at a time, sync ones at once', async (t) => {
  const errors: unknown[] = []
  const queue = new SerialQueue({ taskFailed: (err) => errors.push(err) })
  const order: string[] = []
  queue.push(() => { order.push('sync 1') })
  t.same(order, ['sync 1'], 'an idle queue runs a task at once')
  let release!: () => void
  queue.push(() => new Promise<void>((resolve) => { order.push('async start'); release = resolve }).then(() => { order.push('async end') }))
  queue.push(function (this: { name: string }, arg: string) { order.push(`${this.name} ${arg}`) }, { name: 'self' }, 'arg')
  queue.push(() => { throw new Error('sync boom') })
  queue.push(async () => { throw new Error('async boom') })
  queue.push(() => {
    order.push('re-entrant outer')
    queue.push(() => { order.push('re-entrant inner') })
    order.push('outer done')
  })
  const idle = queue.idle()
  t.same(order, ['sync 1', 'async start'], 'nothing overtakes the pending async task')
  release()
  await idle
  t.same(order, ['sync 1', 'async start', 'async end', 'self arg', 're-entrant outer', 'outer done', 're-entrant inner'])
  t.same(errors.map((e) => (e as Error).message), ['sync boom', 'async boom'])
  await queue.idle()
  queue.push(() => { order.push('after idle') })
  t.equal(order.at(-1), 'after idle')
})
