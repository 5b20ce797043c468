// Changes on their way to other processes: one message per channel per turn, in order, never
// more than 500 metas in one, a big change split with its leaves first.
import t from 'tap'
import { Outgoing } from '../lib/presence/outgoing.js'
import { decodeChanges, type PresenceTransport } from '../lib/presence/transport.js'
import { applyChange, changeOf, emptyState, listedMeta } from '../lib/presence/state.js'
import type { PresenceChange } from '../lib/presence/store.js'
import { RecordingLog } from './fixtures/pubsub-helpers.js'

function recording (): { transport: PresenceTransport, sent: Array<{ channel: string, payload: string }> } {
  const sent: Array<{ channel: string, payload: string }> = []
  return {
    sent,
    transport: {
      publish: async (channel, payload) => { sent.push({ channel, payload }) },
      subscribe: async () => () => {}
    }
  }
}

const metas = (payload: string): number => decodeChanges('x', payload)!.changes.reduce((n, c) => n + Object.values(c.joins).concat(Object.values(c.leaves)).reduce((m, e) => m + e.metas.length, 0), 0)

t.test('one message per channel per turn, in order', async (t) => {
  const { transport, sent } = recording()
  const out = new Outgoing('me', transport, new RecordingLog().log)
  const turn = [
    out.send(changeOf('a', 'alice', listedMeta({}, 'c1'), undefined)),
    out.send(changeOf('b', 'bob', listedMeta({}, 'c2'), undefined)),
    out.send(changeOf('a', 'alice', undefined, listedMeta({}, 'c1')))
  ]
  await Promise.all(turn)
  t.same(sent.map((m) => m.channel), ['a', 'b'], 'two channels: two messages')
  const a = decodeChanges('a', sent[0].payload)!
  t.equal(a.origin, 'me')
  t.same(a.changes.map((c) => [Object.keys(c.joins), Object.keys(c.leaves)]), [[['alice'], []], [[], ['alice']]], 'the join, then the leave')
  await out.send(changeOf('a', 'alice', listedMeta({}, 'c3'), undefined))
  t.equal(sent.length, 3, 'a later turn: a new message')
})

t.test('a big change is split into messages of at most 500 metas, leaves first', async (t) => {
  const { transport, sent } = recording()
  const out = new Outgoing('me', transport, new RecordingLog().log)
  const big: PresenceChange = { channel: 'a', joins: emptyState(), leaves: emptyState() }
  for (let i = 0; i < 1200; i++) (big.leaves[`k${i % 50}`] ??= { metas: [] }).metas.push(listedMeta({ i }, `old${i}`))
  for (let i = 0; i < 300; i++) (big.joins[`k${i % 50}`] ??= { metas: [] }).metas.push(listedMeta({ i }, `new${i}`))
  const before = emptyState()
  for (let i = 0; i < 1200; i++) (before[`k${i % 50}`] ??= { metas: [] }).metas.push(listedMeta({ i }, `old${i}`))
  const small = changeOf('a', 'z', listedMeta({}, 'z1'), undefined)
  await Promise.all([out.send(small), out.send(big), out.send(changeOf('a', 'z', undefined, listedMeta({}, 'z1')))])
  t.ok(sent.every((m) => metas(m.payload) <= 500), `no message over 500 metas (${sent.map((m) => metas(m.payload)).join(', ')})`)
  t.equal(sent.reduce((n, m) => n + metas(m.payload), 0), 1502, 'every meta sent once')
  const state = before
  for (const m of sent) for (const change of decodeChanges('a', m.payload)!.changes) applyChange(state, change)
  t.same(Object.values(state).flatMap((e) => e.metas.map((meta) => meta.conn)).sort(), Array.from({ length: 300 }, (_, i) => `new${i}`).sort(), 'applied in order they give the same state')
})

t.test('a transport that fails is logged, and the send still resolves', async (t) => {
  const log = new RecordingLog()
  const out = new Outgoing('me', { publish: async () => { throw new Error('down') }, subscribe: async () => () => {} }, log.log)
  await out.send(changeOf('a', 'alice', listedMeta({}, 'c1'), undefined))
  await log.waitFor('warn', 'could not be sent')
  t.pass()
})
