// Presence as controllers and apps see it (SPEC 12), with the in-process store: track /
// untrack / untrack on close, presence and presenceCount, live presence frames, hostile input,
// options, stats, and a join storm checked against app.plezi.presence().
import t from 'tap'
import Fastify from 'fastify'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { build, connect, type Client } from './helpers.js'
import { Watcher, shape } from './fixtures/presence-watcher.js'

class Room extends Controller {
  static autoDispatch = true
  async onOpen () {
    if (this.params.watch === '1') await this.subscribePresence('room')
    if (typeof this.params.user === 'string') await this.track('room', this.params.user, { tab: String(this.params.tab ?? '') })
    this.write({ event: 'ready' })
  }

  track2 (m: EventMessage) { return this.track(m.channel as string, m.key as string, m.meta as object).then(() => ({ event: 'tracked' })) }
  untrack2 (m: EventMessage) { return this.untrack(m.channel as string).then(() => ({ event: 'untracked' })) }
  async who (m: EventMessage) { return { event: 'who', state: await this.presence(String(m.channel ?? 'room')) } }
  async watch (m: EventMessage) { await this.subscribePresence(String(m.channel)); return { event: 'watching' } }
  unwatch (m: EventMessage) { this.unsubscribePresence(String(m.channel)); return { event: 'unwatched' } }
  echo () { return { event: 'echo' } }
}


async function open (t: { teardown (fn: () => unknown): void }, url: string): Promise<Client> {
  const c = await connect(t, url)
  const ready = await c.json()
  if (ready.event !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`)
  return c
}

t.test('two tabs of one user are one key with two metas; the leave only when the last tab closes', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const watcher = await Watcher.open(t, `${wsUrl}/room?watch=1`)
  const tab1 = await open(t, `${wsUrl}/room?user=ann&tab=1`)
  const tab2 = await open(t, `${wsUrl}/room?user=ann&tab=2`)
  await watcher.until((s) => s.ann?.metas.length === 2)
  const state = await app.plezi.presence('room')
  t.same(shape(state), { ann: ['1', '2'] }, 'one key, two metas')
  t.equal(new Set(state.ann.metas.map((m) => m.conn)).size, 2, 'each meta has its own conn')
  t.same(await app.plezi.presenceCount('room'), { keys: 1, connections: 2 })
  t.same(app.plezi.stats().presence, { channels: 1, entries: 2 })

  await tab1.close()
  await watcher.until((s) => s.ann?.metas.length === 1)
  t.same(shape(await app.plezi.presence('room')), { ann: ['2'] }, 'ann is still here')
  await tab2.close()
  await watcher.until((s) => s.ann === undefined)
  t.same(await app.plezi.presence('room'), {}, 'ann left with her last tab')
  t.same(await app.plezi.presenceCount('room'), { keys: 0, connections: 0 })
  t.same(app.plezi.stats().presence, { channels: 0, entries: 0 })
  t.same(watcher.events.slice(0, 1), ['state'], 'the state came first')
})

t.test('track again updates, untrack removes, this.presence lists; a watcher gets the state once, then diffs', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) }, { presence: { interval: 5 } })
  const a = await open(t, `${wsUrl}/room`)
  a.send({ event: 'track2', channel: 'room', key: 'bob', meta: { tab: 'x' } })
  t.equal((await a.json()).event, 'tracked')
  const w = await open(t, `${wsUrl}/room`)
  w.send({ event: 'watch', channel: 'room' })
  const first = await w.json()
  t.equal(first.event, '_presence_', 'the state first')
  t.same(shape(first.state), { bob: ['x'] })
  t.equal((await w.json()).event, 'watching')

  a.send({ event: 'track2', channel: 'room', key: 'bob', meta: { tab: 'y' } })
  t.equal((await a.json()).event, 'tracked')
  const diff = await w.json()
  t.equal(diff.event, '_presence_diff_')
  t.same(Object.keys(diff.joins), ['bob'])
  t.equal(diff.joins.bob.metas[0].tab, 'y', 'the update is a join of the new meta')
  t.same(diff.leaves, {}, 'no leave: a join replaces the meta of its conn')
  a.send({ event: 'who' })
  t.same(shape((await a.json()).state), { bob: ['y'] }, 'this.presence sees one meta')

  a.send({ event: 'untrack2', channel: 'room' })
  t.equal((await a.json()).event, 'untracked')
  const leave = await w.json()
  t.same({ event: leave.event, joins: leave.joins, leaves: Object.keys(leave.leaves) }, { event: '_presence_diff_', joins: {}, leaves: ['bob'] })

  w.send({ event: 'unwatch', channel: 'room' })
  t.equal((await w.json()).event, 'unwatched')
  a.send({ event: 'track2', channel: 'room', key: 'cy', meta: {} })
  t.equal((await a.json()).event, 'tracked')
  w.send({ event: 'echo' })
  t.equal((await w.json()).event, 'echo', 'no diff after unsubscribePresence')
})

t.test('hostile track input: a TypeError as a 500 _err_; the connection keeps serving', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const c = await open(t, `${wsUrl}/room`)
  const bad = [
    { channel: 'room', key: 'k', meta: { big: 'x'.repeat(5000) } },
    { channel: 'room', key: 'k', meta: 'a string' },
    { channel: 'room', key: 'k', meta: [1, 2] },
    { channel: 'room', key: 42, meta: {} },
    { channel: 'room', key: '', meta: {} },
    { channel: 'room', key: '__proto__', meta: {} },
    { channel: 'rooms/+', key: 'k', meta: {} },
    { channel: 'rooms/#', key: 'k', meta: {} }
  ]
  for (const input of bad) {
    c.send({ event: 'track2', ...input })
    const reply = await c.json()
    t.same(reply, { event: '_err_', status: 500, request: 'track2' }, `refused: ${JSON.stringify(input).slice(0, 60)}`)
  }
  t.same(await app.plezi.presence('room'), {}, 'nothing was tracked')
  // A meta key "__proto__" (from JSON.parse) is data, kept as an own key: nothing is polluted.
  c.send({ event: 'track2', channel: 'other', key: 'k', meta: JSON.parse('{"__proto__":{"polluted":1}}') })
  t.equal((await c.json()).event, 'tracked')
  const [meta] = (await app.plezi.presence('other')).k.metas
  t.same(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, { polluted: 1 }, 'kept as an own data key')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched')
  c.send({ event: 'untrack2', channel: 'other' })
  t.equal((await c.json()).event, 'untracked')
  c.send({ event: 'track2', channel: 'room', key: 'ok', meta: { n: 1 } })
  t.equal((await c.json()).event, 'tracked', 'the connection keeps serving')
  t.same(Object.keys(await app.plezi.presence('room')), ['ok'])
})

t.test('app.plezi.presence and presenceCount refuse wildcard and bad channels at the call', async (t) => {
  const { app } = await build(t, () => {})
  t.throws(() => app.plezi.presence('rooms/+'), { code: 'PLZ_ERR_CHANNEL' })
  t.throws(() => app.plezi.presenceCount('#'), { code: 'PLZ_ERR_CHANNEL' })
  t.throws(() => app.plezi.presence(42 as unknown as string), { code: 'PLZ_ERR_CHANNEL' })
})

t.test('track and subscribePresence need a connection (HTTP has none); presence works from HTTP', async (t) => {
  class Http extends Controller {
    async index () {
      const errors: string[] = []
      try { await this.track('room', 'k') } catch (err) { errors.push((err as { code: string }).code) }
      try { await this.subscribePresence('room') } catch (err) { errors.push((err as { code: string }).code) }
      await this.untrack('room')
      this.unsubscribePresence('room')
      return { errors, state: await this.presence('room') }
    }
  }
  const { url } = await build(t, (app) => { app.plezi.route('/http', Http) })
  const res = await fetch(`${url}/http`)
  t.same(await res.json(), { errors: ['PLZ_ERR_NOT_CONNECTED', 'PLZ_ERR_NOT_CONNECTED'], state: {} })
})

t.test('track after the close tracks nothing (no leak), but still checks its input', async (t) => {
  let controller: Controller | undefined
  let closed!: () => void
  const done = new Promise<void>((resolve) => { closed = resolve })
  class Late extends Controller {
    onOpen () { controller = this }
    onMessage () {}
    onClose () { closed() }
  }
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/late', Late) })
  const c = await connect(t, `${wsUrl}/late`)
  await c.close()
  await done
  await controller!.track('room', 'ghost', {})
  await controller!.subscribePresence('room')
  t.same(await app.plezi.presence('room'), {}, 'nothing tracked')
  t.throws(() => controller!.track('room', '__proto__', {}), { code: 'PLZ_ERR_PRESENCE' })
  t.same(app.plezi.stats().presence, { channels: 0, entries: 0 })
})

t.test('presence options are validated at register, naming the option', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [5, /presence.*expected an object/],
    [{ ttl: 10 }, /presence\.ttl.*>= 30/],
    [{ interval: 0 }, /presence\.interval.*>= 1/],
    [{ interval: 1.5 }, /presence\.interval/],
    [{ tll: 100 }, /presence.*unknown key "tll"/]
  ]
  for (const [presence, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(plezi, { presence } as never).ready() }, { code: 'PLZ_ERR_OPTION', message }, JSON.stringify(presence))
    await app.close()
  }
})

t.test('1,000 connections joining at once with 100 presence subscribers: every state ends equal to app.plezi.presence()', async (t) => {
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) }, { presence: { interval: 20 } })
  const watchers = await Promise.all(Array.from({ length: 100 }, () => Watcher.open(t, `${wsUrl}/room?watch=1`)))
  const users = await Promise.all(Array.from({ length: 1000 }, (_, i) => open(t, `${wsUrl}/room?user=u${i % 400}&tab=${i}`)))
  t.same(await app.plezi.presenceCount('room'), { keys: 400, connections: 1000 })
  const expected = JSON.stringify(shape(await app.plezi.presence('room')))
  await Promise.all(watchers.map((w) => w.until((s) => JSON.stringify(shape(s)) === expected)))
  for (const w of watchers) t.equal(w.events[0], 'state')
  t.pass('all 100 watchers reached the state of app.plezi.presence()')
  // A few hundred leave at once: the watchers follow.
  await Promise.all(users.slice(0, 300).map((c) => c.close()))
  const after = JSON.stringify(shape(await app.plezi.presence('room')))
  t.not(after, expected)
  await Promise.all(watchers.map((w) => w.until((s) => JSON.stringify(shape(s)) === after)))
  const frames = watchers[0].events.length
  t.ok(frames < 1300 / 4, `diffs were coalesced: ${frames} frames for 1,300 changes`)
})

t.test('a graceful close untracks everyone at once, with leaves for presence listeners of the store', async (t) => {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/room', Room)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  await open(t, `ws://127.0.0.1:${port}/room?user=a&tab=1`)
  await open(t, `ws://127.0.0.1:${port}/room?user=b&tab=2`)
  const { contextOf } = await import('../lib/context.js')
  const store = contextOf(app)!.presence.store
  const left: string[] = []
  await store.subscribe('room', (change) => { left.push(...Object.keys(change.leaves)) })
  await app.close()
  t.same(left.sort(), ['a', 'b'], 'both left')
  t.same(await store.list('room'), {}, 'nothing is left in the store')
})
