// maxBacklog: a client that sends faster than its handlers finish stops being read (TCP
// back-pressure) instead of growing server memory; nothing is dropped, order is kept.
import t from 'tap'
import { Controller } from '../lib/index.js'
import { contextOf } from '../lib/context.js'
import { build, connect, deferred, logCapture } from './helpers.js'

const FRAMES = 30_000
const MAX_BACKLOG = 100
// ws still emits the frames of the chunk it was parsing when reading stopped (1 KB frames, 64 KB reads)
const SLACK = 200

t.test('a flood behind a slow async handler is held in TCP, not in server memory', async (t) => {
  const gate = deferred()
  const seen: number[] = []
  const { lines, logger, waitFor } = logCapture('debug')
  class Slow extends Controller {
    async onMessage (data: string) {
      const n = Number(data.slice(0, 6))
      if (n === 0) await gate.promise
      seen.push(n)
      if (n === FRAMES - 1) this.write('all done')
    }
  }
  class Echo extends Controller {
    onMessage (data: string) { this.write(data) }
  }
  const { app, wsUrl } = await build(t, (app) => {
    app.plezi.route('/slow', Slow)
    app.plezi.route('/echo', Echo)
  }, { maxBacklog: MAX_BACKLOG }, { logger })
  const client = await connect(t, `${wsUrl}/slow`)
  const probe = await connect(t, `${wsUrl}/echo`)
  const [slow] = [...contextOf(app)!.connections]
  const pad = 'x'.repeat(1000)
  for (let i = 0; i < FRAMES; i++) client.ws.send(String(i).padStart(6, '0') + pad)
  await waitFor(/pausing reads/)
  // Many turns of the server's event loop, in which a socket still being read would be read dry.
  for (let i = 0; i < 50; i++) {
    probe.send(`probe ${i}`)
    await probe.next()
  }
  t.ok(slow.queue.waiting < MAX_BACKLOG + SLACK, `${slow.queue.waiting} messages wait in server memory (maxBacklog ${MAX_BACKLOG})`)
  t.ok(client.ws.bufferedAmount > 10 * 1024 * 1024, `the client still holds most of its frames (${client.ws.bufferedAmount} bytes unsent)`)
  gate.resolve()
  t.equal(await client.next(), 'all done')
  t.equal(seen.length, FRAMES, 'nothing dropped')
  t.ok(seen.every((n, i) => n === i), 'in order')
  t.ok(lines.some((l) => /resuming reads/.test(l.msg)), 'reading resumed')
})
