// Published frames for one socket are coalesced within a turn of the event loop, and never
// overtake or fall behind the connection's own writes.
import t from 'tap'
import type { Socket } from 'node:net'
import { Controller } from '../lib/index.js'
import { build, connect } from './helpers.js'

type Counted = Socket & { _write: Function, _writev?: Function }

let writes = 0
function countWrites (socket: Counted): void {
  const write = socket._write
  const writev = socket._writev
  socket._write = function (...args: unknown[]) { writes++; return write.apply(this, args) }
  if (writev) socket._writev = function (...args: unknown[]) { writes++; return writev.apply(this, args) }
}

class Feed extends Controller {
  async onOpen () {
    await this.subscribe('feed')
    countWrites(this.request.raw.socket as Counted)
    this.write('ready')
  }

  onMessage (data: string) {
    if (data === 'mix') {
      void this.publish('feed', 'published 1')
      void this.publish('feed', 'published 2')
      this.write('written 3')
      void this.publish('feed', 'published 4')
    }
  }
}

t.test('many publishes in one turn reach a socket in one write, in order', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) })
  const client = await connect(t, `${wsUrl}/feed`)
  t.equal(await client.next(), 'ready')
  writes = 0
  for (let i = 0; i < 50; i++) void app.plezi.publish('feed', `m${i}`)
  const frames = await client.take(50)
  t.same(frames, Array.from({ length: 50 }, (_, i) => `m${i}`))
  t.equal(writes, 1, '50 frames, one write to the socket')
})

t.test('the connection\'s own writes keep their place among published frames', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/feed', Feed) })
  const client = await connect(t, `${wsUrl}/feed`)
  t.equal(await client.next(), 'ready')
  client.send('mix')
  t.same(await client.take(4), ['published 1', 'published 2', 'written 3', 'published 4'])
})
