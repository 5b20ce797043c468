#!/usr/bin/env node
// node bench/presence.js [--clients=N] [--watchers=N] [--storm=N] — presence smoke benchmarks
// (issue 11, item 6), each server a process of its own, load from this process. Needs
// `npm run build`; the Redis figures need Redis at 127.0.0.1:6379.
// - connect + track + disconnect of N clients vs connect + disconnect without presence:
//   server CPU ratio (target ≤ 1.3×);
// - join/leave storm of N connections with M presence subscribers: diff frames delivered per
//   second and server CPU per delivered diff;
// - Redis round trips per refresh period at two connection counts (must not grow).
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

const { values } = parseArgs({ options: { clients: { type: 'string' }, watchers: { type: 'string' }, storm: { type: 'string' } } })
const CLIENTS = Number(values.clients ?? 1000)
const WATCHERS = Number(values.watchers ?? 100)
const STORM = Number(values.storm ?? 500)
const SERVER = fileURLToPath(new URL('./servers/plezi-presence.js', import.meta.url))

async function server (env) {
  const child = fork(SERVER, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [{ port }] = await once(child, 'message')
  const ask = async (cmd) => { child.send(cmd); return (await once(child, 'message'))[0] }
  const cpu = async () => { const { cpu } = await ask('cpu'); return (cpu.user + cpu.system) / 1000 }
  return { url: `ws://127.0.0.1:${port}`, ask, cpu, stop: async () => { child.disconnect(); await once(child, 'exit') } }
}

function open (url, onMessage) {
  const ws = new WebSocket(url)
  if (onMessage) ws.on('message', onMessage)
  return once(ws, 'open').then(() => ws)
}

/** Opens `n` clients 100 at a time. */
async function openAll (url, n, onMessage) {
  const out = []
  for (let i = 0; i < n; i += 100) out.push(...await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => open(`${url}?user=u${i + j}`, onMessage))))
  return out
}
const closeAll = (clients) => Promise.all(clients.map((ws) => { ws.close(); return once(ws, 'close') }))

async function churn (presence) {
  const s = await server({ PRESENCE: presence ? '1' : '0' })
  await closeAll(await openAll(`${s.url}/p`, 200)) // warm-up
  const before = await s.cpu()
  await closeAll(await openAll(`${s.url}/p`, CLIENTS))
  const ms = await s.cpu() - before
  await s.stop()
  return ms
}

async function storm () {
  const s = await server({ PRESENCE: '1' })
  let frames = 0
  await openAll(`${s.url}/w`, WATCHERS, () => { frames++ })
  frames = 0
  const start = Date.now()
  const before = await s.cpu()
  await closeAll(await openAll(`${s.url}/p`, STORM))
  await new Promise((resolve) => setTimeout(resolve, 300)) // the last coalesced diff (interval 100)
  const cpu = await s.cpu() - before
  const seconds = (Date.now() - start) / 1000
  await s.stop()
  return { frames, perSecond: Math.round(frames / seconds), cpuPerDiffUs: Math.round(cpu * 1000 / Math.max(frames, 1)) }
}

async function roundTrips () {
  const ttl = 600
  const out = []
  for (const n of [10, CLIENTS]) {
    const s = await server({ PRESENCE: '1', REDIS: 'redis://127.0.0.1:6379', APP: `bench-${randomBytes(3).toString('hex')}`, TTL: String(ttl) })
    const clients = await openAll(`${s.url}/p`, n)
    const a = await s.ask('redis')
    await new Promise((resolve) => setTimeout(resolve, 3 * ttl)) // a few refresh periods
    const b = await s.ask('redis')
    const refreshes = b.redis.refreshes - a.redis.refreshes
    out.push({ entries: b.entries, refreshes, roundTripsPerRefresh: round((b.redis.roundTrips - a.redis.roundTrips) / Math.max(refreshes, 1)) })
    await closeAll(clients)
    await s.stop()
  }
  return out
}
const round = (x) => Math.round(x * 100) / 100

const without = await churn(false)
const withPresence = await churn(true)
console.log(`connect + disconnect of ${CLIENTS} clients, server CPU: ${round(without)} ms without presence, ${round(withPresence)} ms with track: ${round(withPresence / without)}× (target ≤ 1.3×)`)
const st = await storm()
console.log(`join/leave storm of ${STORM} connections, ${WATCHERS} presence subscribers: ${st.frames} diff frames delivered, ${st.perSecond}/s, ${st.cpuPerDiffUs} µs server CPU (the joins and leaves included) per delivered diff`)
try {
  for (const r of await roundTrips()) console.log(`Redis: ${r.entries} entries, ${r.refreshes} refreshes, ${r.roundTripsPerRefresh} round trips per refresh`)
} catch (err) {
  console.log('Redis figures skipped:', err.message)
}
