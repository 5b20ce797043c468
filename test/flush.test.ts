// One flush rule: a published frame waiting for the end of the turn is never dropped by a
// state change of its connection — close(), a graceful shutdown, a broadcast from onShutdown.
import t from 'tap'
import { Controller } from '../lib/index.js'
import { build, connect, type Client } from './helpers.js'

class Room extends Controller {
  async onOpen () {
    await this.subscribe('room')
    this.write('ready')
  }

  onMessage (data: string) {
    if (data === 'publish, write, publish, close') {
      void this.publish('room', 'published 1')
      this.write('written 2')
      void this.publish('room', 'published 3')
      this.close(4000, 'done')
    }
  }

  onShutdown () {
    void this.publish('room', `goodbye from ${String(this.params.id)}`)
  }
}

async function ready (client: Client): Promise<Client> {
  if (await client.next() !== 'ready') throw new Error('no ready')
  return client
}

t.test('close() right after publishes: every frame goes out before the close frame', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const client = await ready(await connect(t, `${wsUrl}/room`))
  client.send('publish, write, publish, close')
  t.same(await client.take(3), ['published 1', 'written 2', 'published 3'])
  t.same(await client.closed, { code: 4000, reason: 'done' })
})

t.test('await publish, then await app.close(): the message arrives before the 1001', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const clients = await Promise.all([1, 2, 3].map(async (id) => ready(await connect(t, `${wsUrl}/room/${id}`))))
  // onShutdown publishes too: take it apart from the message under test
  t.equal(await app.plezi.publish('room', 'last words'), true)
  await app.close()
  for (const client of clients) {
    t.equal(await client.next(), 'last words')
    t.equal((await client.closed).code, 1001)
  }
})

t.test('a broadcast from onShutdown reaches every connection before its 1001', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const ids = [1, 2, 3, 4, 5]
  const clients = await Promise.all(ids.map(async (id) => ready(await connect(t, `${wsUrl}/room/${id}`))))
  await app.close()
  for (const client of clients) {
    const { code } = await client.closed
    t.equal(code, 1001)
    t.same([...client.frames.slice(1)].sort(), ids.map((id) => `goodbye from ${id}`).sort(), 'every goodbye, then the close')
  }
})
