// PleziClient's presence helper (ES module) against the real plugin: state, onjoin / onleave
// per key (first meta / last meta, after the whole frame), list(), diffs before the state.
import t from 'tap'
import { PleziClient, Presence, type PresenceEntry } from '../client/index.js'
import { Controller, type EventMessage } from '../lib/index.js'
import { build, connect } from './helpers.js'

class Room extends Controller {
  static autoDispatch = true
  async onOpen () {
    if (typeof this.params.user === 'string') await this.track('room', this.params.user, { tab: String(this.params.tab) })
    this.write({ event: 'ready' })
  }

  async watch (m: EventMessage) { await this.subscribePresence(String(m.channel)); return { event: 'watching' } }
}

const tabs = (e: PresenceEntry | undefined): string[] => (e?.metas ?? []).map((m) => String(m.tab)).sort()

t.test('client.presence: state, onjoin on the first meta, onleave on the last, list()', async (t) => {
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) }, { presence: { interval: 5 } })
  const ann1 = await connect(t, `${wsUrl}/room?user=ann&tab=1`)
  await ann1.json()
  const client = new PleziClient(`${wsUrl}/room`)
  t.teardown(() => client.close())
  const presence = client.presence('room')
  t.type(presence, Presence)
  const calls: string[] = []
  let wake = (): void => {}
  presence.onjoin = (key, current, joined) => { calls.push(`join ${key} ${tabs(current)} +${tabs(joined)}`); wake() }
  presence.onleave = (key, current, left) => { calls.push(`leave ${key} ${tabs(current)} -${tabs(left)}`); wake() }
  const called = (n: number): Promise<void> => new Promise((resolve) => {
    wake = () => { if (calls.length >= n) resolve() }
    wake()
  })
  await new Promise<void>((resolve) => { client.onopen = () => resolve() })
  t.same((await client.request({ event: 'watch', channel: 'room' })).event, 'watching')
  await called(1)
  t.same(calls, ['join ann 1 +1'], 'the state joins its keys')
  t.same(tabs(presence.list().ann), ['1'])

  const ann2 = await connect(t, `${wsUrl}/room?user=ann&tab=2`)
  await ann2.json()
  const bob = await connect(t, `${wsUrl}/room?user=bob&tab=3`)
  await bob.json()
  await called(2)
  t.same(calls.slice(1), ['join bob 3 +3'], 'a second tab of ann is no join; bob is')
  t.same(tabs(presence.list().ann), ['1', '2'])

  await ann1.close()
  await bob.close()
  await called(3)
  t.same(calls.slice(2), ['leave bob  -3'], 'closing one of two tabs is no leave')
  t.same(Object.keys(presence.list()), ['ann'])
  t.same(tabs(presence.list().ann), ['2'])
  await ann2.close()
  await called(4)
  t.same(calls[3], 'leave ann  -2', 'the last tab leaves')
  t.same(presence.list(), {})
})

t.test('the helper ignores diffs from before its state (they would undo a newer state), skips malformed entries, and fires after the whole frame', (t) => {
  const listeners = new Map<string, (msg: any) => unknown>()
  const source = { on: (e: string, fn: (msg: any) => unknown) => listeners.set(e, fn), off: (e: string) => listeners.delete(e) }
  const p = new Presence(source, 'room')
  const seen: string[] = []
  p.onjoin = (key) => { seen.push(`join ${key} (${Object.keys(p.list()).sort().join(',')})`) }
  p.onleave = (key) => { seen.push(`leave ${key}`) }
  const m = (conn: string, extra = {}) => ({ conn, ...extra })
  listeners.get('_presence_diff_')!({ event: '_presence_diff_', channel: 'room', joins: { cy: { metas: [m('c')] } }, leaves: { ann: { metas: [m('a')] } } })
  listeners.get('_presence_diff_')!({ event: '_presence_diff_', channel: 'other', joins: { zed: { metas: [m('z')] } }, leaves: {} })
  t.same(seen, [], 'nothing before the state')
  t.same(p.list(), {})
  listeners.get('_presence_')!({ event: '_presence_', channel: 'room', state: { ann: { metas: [m('a')] }, bob: { metas: [m('b')] } } })
  t.same(seen, ['join ann (ann,bob)', 'join bob (ann,bob)'], 'the state as it is: the earlier diff (cy joins, ann leaves) is not replayed onto it')
  seen.length = 0
  listeners.get('_presence_diff_')!({ event: '_presence_diff_', channel: 'room', joins: { cy: { metas: [m('c')] }, bad: { metas: 'x' }, worse: null, noconn: { metas: [{}] } }, leaves: { ann: { metas: [m('a')] }, bob: {} } })
  t.same(seen, ['leave ann', 'join cy (bob,cy)'], 'a diff after the state applies; malformed entries are skipped')
  t.same(Object.keys(p.list()).sort(), ['bob', 'cy'])
  // An update (a join for a conn already there) replaces its meta: no callback.
  seen.length = 0
  listeners.get('_presence_diff_')!({ event: '_presence_diff_', channel: 'room', joins: { bob: { metas: [m('b', { away: true })] } }, leaves: {} })
  t.same(seen, [])
  t.same(p.list().bob.metas, [{ conn: 'b', away: true }])
  // A fresh state (a reconnect): keys gone leave, new ones join, kept ones say nothing.
  listeners.get('_presence_')!({ event: '_presence_', channel: 'room', state: { bob: { metas: [m('b')] }, dee: { metas: [m('d')] } } })
  t.same(seen, ['leave cy', 'join dee (bob,dee)'])
  p.close()
  t.equal(listeners.size, 0, 'close removes its listeners')
  t.end()
})
