// History across real server processes on one Redis: a client recovers on a second process
// after the first was killed with SIGKILL; 200 clients recover at once while two processes
// publish continuously — no gap, no duplicate, each publisher's order kept.
import t from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Client, connect } from './helpers.js'
import { REDIS_URL } from './fixtures/pubsub-helpers.js'
import { nextSub, pubs, range, type PubFrame, type SubFrame, historyRedis } from './fixtures/history-helpers.js'

const { skip, appNameFor } = await historyRedis(t, 'hproc')

interface Server { child: ChildProcess, port: number, url: string }

async function startServer (t: { teardown (fn: () => unknown): void }, appName: string, name: string, size = 100): Promise<Server> {
  const child = fork(fileURLToPath(new URL('./fixtures/history-server.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('@tapjs/typescript/import')],
    env: { ...process.env, SERVER_REDIS: REDIS_URL, SERVER_APP: appName, SERVER_NAME: name, HISTORY_SIZE: String(size) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.disconnect()
      await once(child, 'exit')
    }
  })
  const [message] = await once(child, 'message') as [{ port: number }]
  return { child, port: message.port, url: `ws://127.0.0.1:${message.port}/room?channels=chat/1` }
}

async function command<T> (server: Server, message: object): Promise<T> {
  const reply = once(server.child, 'message') as Promise<[T]>
  server.child.send(message)
  return (await reply)[0]
}

const since = (epoch: string | null, offset: number): string => `&_since_=${encodeURIComponent(JSON.stringify({ 'chat/1': [epoch, offset] }))}`

t.test('a client recovers on a second process after the first was killed with SIGKILL', { skip }, async (t) => {
  const appName = appNameFor()
  const [a, b] = await Promise.all([startServer(t, appName, 'a'), startServer(t, appName, 'b')])
  const client = await connect(t, a.url)
  const { epoch, offset } = await nextSub(client)
  t.equal(offset, 0)
  await command(a, { publish: 5 })
  t.same((await pubs(client, 5)).map((m) => m.offset), range(1, 5))

  a.child.kill('SIGKILL')
  await once(a.child, 'exit')
  await client.closed
  await command(b, { publish: 5 })

  const back = await connect(t, b.url + since(epoch, 5))
  t.same(await nextSub(back), { event: '_sub_', channel: 'chat/1', epoch, offset: 5, recovered: true, wasRecovering: true })
  const recovered = await pubs(back, 5)
  t.same(recovered.map((m) => [m.offset, m.data]), range(6, 10).map((n, i) => [n, { from: 'b', n: i + 1 }]), 'offsets 6–10 from Redis, once, in order')
  await command(b, { publish: 1 })
  t.match(await pubs(back, 1), [{ offset: 11 }], 'then live')
})

t.test('200 clients recover at once while two processes publish: no gap, no duplicate, per-publisher order', { skip }, async (t) => {
  const appName = appNameFor()
  const [a, b] = await Promise.all([startServer(t, appName, 'a', 10_000), startServer(t, appName, 'b', 10_000)])
  const watcher = await connect(t, a.url)
  const { epoch } = await nextSub(watcher)
  const pumpedA = command<{ pumped: number }>(a, { pump: true })
  const pumpedB = command<{ pumped: number }>(b, { pump: true })
  // Start from a position some messages back, so each client has history to replay.
  const early = await pubs(watcher, 50)
  const from = early[early.length - 1].offset!

  // In four waves of 50, a few live messages apart: recoveries from one position at different
  // moments, each racing the live messages of both publishers.
  const clients: Client[] = []
  const waves: Array<Promise<SubFrame>> = []
  for (let wave = 0; wave < 4; wave++) {
    for (let i = 0; i < 50; i++) {
      const client = new Client((i % 2 === 0 ? a : b).url + since(epoch, from))
      t.teardown(() => { client.ws.terminate() })
      clients.push(client)
      waves.push(client.opened.then(() => nextSub(client)))
    }
    await pubs(watcher, 5)
  }
  const subs = await Promise.all(waves)
  t.ok(subs.every((s) => s.recovered && s.wasRecovering && s.offset === from), 'every client recovered from its position')
  await pubs(watcher, 100) // live traffic goes on for a while after the recoveries

  a.child.send({ pump: false })
  b.child.send({ pump: false })
  const [{ pumped: sentA }, { pumped: sentB }] = await Promise.all([pumpedA, pumpedB])
  const { published } = await command<{ published: number }>(a, { publish: 1 })
  const total = published + sentB // every message of the channel, the final one from a included

  let gaps = 0
  let orderBroken = 0
  for (const [i, client] of clients.entries()) {
    const got: PubFrame[] = await pubs(client, total - from)
    const offsets = got.map((m) => m.offset)
    if (offsets.some((o, k) => o !== from + k + 1)) gaps++
    const last: Record<string, number> = {}
    for (const m of got) {
      const { from: who, n } = m.data as { from: string, n: number }
      if (last[who] !== undefined && n !== last[who] + 1) orderBroken++
      last[who] = n
    }
    if (i === 0) t.same(offsets, range(from + 1, total), `client 0: every offset from ${from + 1} to ${total}, once, in order`)
  }
  t.equal(gaps, 0, `all 200 clients got every offset ${from + 1}–${total} once, in order`)
  t.equal(orderBroken, 0, 'each publisher\'s messages in its order, none missing')
  t.ok(sentA > 0 && sentB > 0, `both processes published meanwhile (${sentA} and ${sentB})`)
})
