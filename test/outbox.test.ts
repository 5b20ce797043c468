// Published frames for one socket are coalesced within a turn of the event loop (and across
// the slices of a long sweep), and never overtake or fall behind the connection's own writes.
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

t.test('sockets getting the same frames in a turn share one joined buffer, written once each', async (t) => {
  const chunks = new Map<string, unknown[][]>()
  class Spied extends Controller {
    async onOpen () {
      await this.subscribe('feed')
      const socket = this.request.raw.socket as Counted
      const name = String(this.params.name)
      const calls: unknown[][] = []
      chunks.set(name, calls)
      const write = socket._write
      const writev = socket._writev
      // observes each write the stream hands to the TCP handle, then lets it through
      socket._write = function (chunk: unknown, ...rest: unknown[]) { calls.push([chunk]); return write.call(this, chunk, ...rest) }
      if (writev) socket._writev = function (list: Array<{ chunk: unknown }>, ...rest: unknown[]) { calls.push(list.map((c) => c.chunk)); return writev.call(this, list, ...rest) }
      this.write('ready')
    }

    onMessage () {}
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/spied', Spied) })
  const a = await connect(t, `${wsUrl}/spied?name=a`)
  const b = await connect(t, `${wsUrl}/spied?name=b`)
  t.equal(await a.next(), 'ready')
  t.equal(await b.next(), 'ready')
  chunks.get('a')!.length = 0
  chunks.get('b')!.length = 0
  for (const text of ['one', 'two', 'three']) void app.plezi.publish('feed', text)
  t.same(await a.take(3), ['one', 'two', 'three'])
  t.same(await b.take(3), ['one', 'two', 'three'])
  const [writesA, writesB] = [chunks.get('a')!, chunks.get('b')!]
  t.equal(writesA.length, 1, 'one write for a')
  t.equal(writesB.length, 1, 'one write for b')
  t.equal(writesA[0].length, 1, 'of one buffer, not a writev of three frames')
  t.equal(writesA[0][0], writesB[0][0], 'the same buffer for both sockets: joined once')
  writesA.length = 0
  writesB.length = 0
  const big = ['x', 'y', 'z'].map((c) => c.repeat(8 * 1024))
  for (const text of big) void app.plezi.publish('feed', text)
  t.same(await a.take(3), big)
  t.same(await b.take(3), big)
  t.same([writesA.length, writesA[0].length], [1, 3], 'large frames for one socket: written corked, no copy')
  t.same([writesB.length, writesB[0].length], [1, 1], 'joined for the next socket with the same frames, whose copy then pays')
})

t.test('a long sweep yields to the event loop, and what is published meanwhile joins the sockets it has not reached', async (t) => {
  const sockets = 3000
  class Swept extends Controller {
    async onOpen () {
      await this.subscribe('sweep')
      countWrites(this.request.raw.socket as Counted)
      this.write('ready')
    }

    onMessage () {}
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/sweep', Swept) })
  const clients = []
  for (let i = 0; i < sockets; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, sockets - i) }, async () => await connect(t, `${wsUrl}/sweep`)))
    clients.push(...batch)
  }
  t.same(await Promise.all(clients.map(async (c) => await c.next())), clients.map(() => 'ready'))
  writes = 0
  void app.plezi.publish('sweep', 'A')
  // the first immediate after the sweep's first slice: some sockets have A, the others wait
  await new Promise<void>((resolve) => {
    const check = (): void => { if (writes > 0) resolve(); else setImmediate(check) }
    setImmediate(check)
  })
  const writtenBeforeB = writes
  t.ok(writtenBeforeB < sockets, `the sweep let the event loop run after ${writtenBeforeB} of ${sockets} sockets`)
  void app.plezi.publish('sweep', 'B')
  t.same(await Promise.all(clients.map(async (c) => await c.take(2))), clients.map(() => ['A', 'B']), 'every socket got A then B, once each')
  t.equal(writes, sockets + writtenBeforeB, 'sockets reached before B got two writes; every other one got A and B in one')
})
