// A client that stops reading while 100,000 messages fan out is closed with 1013 once its
// unsent data passes maxBufferedAmount; everyone else gets every message; memory stays bounded.
import t from 'tap'
import { once } from 'node:events'
import WebSocket from 'ws'
import { Controller } from '../lib/index.js'
import { build, deferred, logCapture } from './helpers.js'

const MESSAGES = Number(process.env.SC_MESSAGES ?? 100_000)
// below maxBufferedAmount: a burst a healthy client takes in one turn must not look slow
const BATCH = 500
const HEALTHY = 4
const PAYLOAD = 'x'.repeat(1000)

t.test('slow consumer under fan-out', async (t) => {
  const slowClosed = deferred<void>()
  class Feed extends Controller {
    async onOpen () {
      await this.subscribe('feed')
      this.write('ready')
    }

    onMessage () {}
    onClose () { if (this.params.slow) slowClosed.resolve() }
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) }, { maxBufferedAmount: 1024 * 1024 })

  // healthy clients count what they get and check the order
  const counts = new Array(HEALTHY).fill(0)
  const progress = new (await import('node:events')).EventEmitter()
  let outOfOrder = 0
  const healthy = await Promise.all(Array.from({ length: HEALTHY }, async (_, i) => {
    const ws = new WebSocket(`${wsUrl}/feed`)
    t.teardown(() => ws.terminate())
    await once(ws, 'message') // ready
    ws.on('message', (data: Buffer) => {
      const n = Number(data.subarray(0, data.indexOf(32)).toString())
      if (n !== counts[i]) outOfOrder++
      counts[i]++
      if (counts[i] % BATCH === 0) progress.emit('progress')
    })
    return ws
  }))

  const slow = new WebSocket(`${wsUrl}/feed?slow=1`)
  t.teardown(() => slow.terminate())
  const slowClose = new Promise<number>((resolve) => slow.once('close', (code: number) => resolve(code)))
  await once(slow, 'message')
  const slowSocket = (slow as unknown as { _socket: { pause (): void, resume (): void } })._socket
  slowSocket.pause()

  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    for (let n = sent; n < sent + BATCH; n++) void app.plezi.publish('feed', `${n} ${PAYLOAD}`)
    // pace by the healthy clients, so only the slow one can fall behind
    while (counts.some((c) => c < sent + BATCH)) await once(progress, 'progress')
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  }
  await slowClosed.promise
  slowSocket.resume()

  t.same(counts, new Array(HEALTHY).fill(MESSAGES), 'every healthy client received every message')
  t.equal(outOfOrder, 0, 'in order')
  t.equal(await slowClose, 1006, 'the slow consumer was cut (it never read the 1013 close frame in time)')
  const growth = (rssPeak - rssBefore) / 1024 / 1024
  t.ok(growth < 100, `RSS grew ${growth.toFixed(1)} MiB while 100 MB were published (bound: 100 MiB)`)
  healthy.forEach((ws) => ws.close())
})

t.test('a write whose flush closes a slow consumer returns false, and the consumer is closed once', async (t) => {
  const logs = logCapture('warn')
  const written = deferred<boolean>()
  class Burst extends Controller {
    async onOpen () {
      await this.subscribe('burst')
      this.write('ready')
    }

    onMessage () {
      const big = 'y'.repeat(100 * 1024)
      for (let i = 0; i < 200; i++) void this.publish('burst', big) // 20 MB waiting in the outbox
      written.resolve(this.write('after'))
    }
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/burst', Burst) }, { maxBufferedAmount: 64 * 1024 }, { logger: logs.logger })
  const ws = new WebSocket(`${wsUrl}/burst`)
  t.teardown(() => ws.terminate())
  await once(ws, 'message')
  const socket = (ws as unknown as { _socket: { pause (): void } })._socket
  socket.pause() // never reads again: the kernel's buffers fill, then ws's
  ws.send('go')
  t.equal(await written.promise, false, 'the write after the flush reports the connection closed')
  t.equal(app.plezi.stats().slowConsumersClosed, 1, 'counted once')
  t.equal(logs.lines.filter((l) => /slow consumer/.test(l.msg)).length, 1, 'logged once')
})
