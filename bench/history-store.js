#!/usr/bin/env node
// node --expose-gc bench/history-store.js [--quick] — appends/s, read latency and memory per
// channel of both history stores; Redis at 127.0.0.1:6379 (loopback), under a prefix of its
// own that is deleted at the end. Needs `npm run build` (it measures dist/). Fixed counts and a
// deadline: it stops by itself. Progress on stderr, the figures as JSON on stdout.
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import { Redis } from 'ioredis'
import { MemoryHistoryStore } from '../dist/lib/pubsub/history/memory-store.js'
import { RedisHistoryStore } from '../dist/lib/pubsub/history/redis-store.js'
import { recover } from '../dist/lib/pubsub/history/store.js'
import { PUBLISH_CONNECTION } from '../dist/lib/pubsub/engine.js'
import { median, percentile, round } from './lib/stats.js'

// mqemitter-redis's own encoder, for the baseline packet.
const require = createRequire(import.meta.url)
const msgpack = createRequire(require.resolve('mqemitter-redis'))('msgpack-lite')

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
const SCALE = args.quick ? 0.2 : 1
const ROUNDS = args.quick ? 3 : 5
const REDIS_URL = 'redis://127.0.0.1:6379'
const DEADLINE = Date.now() + (args.quick ? 60_000 : 180_000)
const PAYLOAD = JSON.stringify({ event: 'chat', text: 'x'.repeat(80) }) // ~100 bytes
const msg = { kind: 'json', data: PAYLOAD }
const rows = []

const n = (count) => Math.max(1, Math.round(count * SCALE))

function checkDeadline () {
  if (Date.now() > DEADLINE) throw new Error('bench deadline passed: stopping')
}

function record (store, what, value, unit) {
  rows.push({ store, what, value: round(value, 2), unit })
  console.error(`${store.padEnd(6)} ${what.padEnd(58)} ${String(round(value, 2)).padStart(12)} ${unit}`)
}

/** Runs `op` count times, `concurrency` in flight; returns ops/s. */
async function throughput (count, concurrency, op) {
  let i = 0
  const started = performance.now()
  const worker = async () => { while (i < count) await op(i++) }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count / ((performance.now() - started) / 1000)
}

/** One op at a time; returns per-op latencies in µs. */
async function latencies (count, op) {
  const out = new Array(count)
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await op(i)
    out[i] = (performance.now() - t0) * 1000
  }
  return out
}

function heapAfterGc () {
  globalThis.gc()
  globalThis.gc()
  return process.memoryUsage().heapUsed
}

async function memoryBench () {
  const store = new MemoryHistoryStore({ size: 100 })
  for (const channels of [1, 1000]) {
    const count = n(500_000)
    const names = Array.from({ length: channels }, (_, c) => `m/${c}`)
    const started = performance.now()
    for (let i = 0; i < count; i++) store.appendSync(names[i % channels], msg)
    record('memory', `appendSync, ${channels} channel(s)`, count / ((performance.now() - started) / 1000), 'appends/s')
  }
  record('memory', 'append, awaited one by one', await throughput(n(300_000), 1, () => store.append('m/0', msg)), 'appends/s')
  checkDeadline()
  const { epoch, offset } = await store.latest('m/0')
  for (const [what, op] of [
    ['read last 100 of a full channel', () => store.read('m/0')],
    ['read since, 10 behind', () => store.read('m/0', { since: offset - 10 })],
    ['latest', () => store.latest('m/0')],
    ['recover 100 behind', () => recover(store, 'm/0', { epoch, offset: offset - 100 })]
  ]) {
    const lat = await latencies(n(50_000), op)
    record('memory', `${what}: mean`, lat.reduce((a, b) => a + b, 0) / lat.length, 'µs')
  }
  await store.close()
  checkDeadline()

  if (globalThis.gc === undefined) {
    console.error('memory: run with node --expose-gc for bytes per channel')
    return
  }
  const idle = new MemoryHistoryStore({ size: 100 })
  const channels = n(100_000)
  const names = Array.from({ length: channels }, (_, i) => `idle/${i.toString().padStart(8, '0')}`)
  const base = heapAfterGc()
  for (const name of names) await idle.latest(name)
  record('memory', 'heap per channel seen once (name not counted)', (heapAfterGc() - base) / channels, 'bytes')
  await idle.close()
  const full = new MemoryHistoryStore({ size: 100 })
  const fullChannels = n(2_000)
  const base2 = heapAfterGc()
  // A string of its own per message, as publishes make.
  for (let c = 0; c < fullChannels; c++) for (let i = 0; i < 100; i++) full.appendSync(`full/${c}`, { kind: 'json', data: `${PAYLOAD.slice(0, -2)}${c}"}` })
  record('memory', `heap per full channel (100 × ${PAYLOAD.length} B)`, (heapAfterGc() - base2) / fullChannels, 'bytes')
  await full.close()
}

async function redisBench () {
  const prefix = `bench:history:${randomBytes(4).toString('hex')}:`
  const conn = new Redis(REDIS_URL, PUBLISH_CONNECTION)
  const admin = new Redis(REDIS_URL)
  conn.on('error', () => {})
  admin.on('error', () => {})
  const withPublish = new RedisHistoryStore({ redis: conn, prefix, size: 100, metaTtl: 600_000, publish: { topicPrefix: `${prefix}topic/`, origin: 'bench' } })
  const bare = new RedisHistoryStore({ redis: conn, prefix: `${prefix}bare:`, size: 100, metaTtl: 600_000 })
  try {
    await Promise.all([withPublish.ready(), bare.ready()])
    // What mqemitter-redis sends for the same message without history: the baseline.
    const packet = msgpack.encode({ id: 'x'.repeat(20), msg: { topic: `${prefix}topic/plain`, origin: 'bench', kind: 'json', data: PAYLOAD } })
    const plain = () => conn.publish(`${prefix}topic/plain`, packet)
    const names = Array.from({ length: 100 }, (_, c) => `r/${c}`)
    // Interleaved rounds and medians: the machine is shared, one pass is noise.
    for (const concurrency of [1, 64]) {
      const count = n(concurrency === 1 ? 3_000 : 30_000)
      const runs = { base: [], ours: [], bare: [] }
      for (let r = 0; r < ROUNDS; r++) {
        runs.base.push(await throughput(count, concurrency, plain))
        runs.ours.push(await throughput(count, concurrency, (i) => withPublish.append(names[i % 100], msg)))
        runs.bare.push(await throughput(count, concurrency, (i) => bare.append(names[i % 100], msg)))
        checkDeadline()
      }
      record('redis', `PUBLISH of the same packet, ${concurrency} in flight`, median(runs.base), 'ops/s')
      record('redis', `append + publish, ${concurrency} in flight`, median(runs.ours), 'appends/s')
      record('redis', `  ratio to PUBLISH (median of rounds), ${concurrency} in flight`, median(runs.ours.map((v, i) => v / runs.base[i])), '×')
      record('redis', `append without publish, ${concurrency} in flight`, median(runs.bare), 'appends/s')
    }
    const lat = await latencies(n(10_000), () => withPublish.append('r/lat', msg))
    record('redis', 'append + publish latency p50', percentile(lat, 50), 'µs')
    record('redis', 'append + publish latency p99', percentile(lat, 99), 'µs')
    const { epoch, offset } = await withPublish.latest('r/lat')
    for (const [what, op] of [
      ['PING (the round trip alone)', () => conn.ping()],
      ['read last 100 of a full channel', () => withPublish.read('r/lat')],
      ['read since, 10 behind', () => withPublish.read('r/lat', { since: offset - 10 })],
      ['latest', () => withPublish.latest('r/lat')],
      ['recover 100 behind', () => recover(withPublish, 'r/lat', { epoch, offset: offset - 100 })]
    ]) {
      const l = await latencies(n(5_000), op)
      record('redis', `${what}: p50`, percentile(l, 50), 'µs')
      record('redis', `${what}: p99`, percentile(l, 99), 'µs')
      checkDeadline()
    }
    const keys = withPublish.keys('r/lat')
    const idle = withPublish.keys('r/idle')
    await withPublish.latest('r/idle')
    const fullBytes = await admin.memory('USAGE', keys.meta) + await admin.memory('USAGE', keys.stream, 'SAMPLES', 0)
    record('redis', `MEMORY USAGE full channel (meta + stream, 100 × ${PAYLOAD.length} B)`, fullBytes, 'bytes')
    record('redis', 'MEMORY USAGE channel seen once (meta only)', await admin.memory('USAGE', idle.meta), 'bytes')
  } finally {
    await withPublish.close()
    await bare.close()
    let cursor = '0'
    do {
      const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (found.length > 0) await admin.del(...found)
      cursor = next
    } while (cursor !== '0')
    conn.disconnect()
    admin.disconnect()
  }
}

console.error(`history stores, node ${process.version}${args.quick ? ', --quick' : ''}, load average ${loadavg()[0].toFixed(1)}`)
await memoryBench()
try {
  await redisBench()
} catch (err) {
  console.error(`redis part stopped: ${err.message}`)
}
console.log(JSON.stringify({ quick: args.quick, loadAverage: loadavg(), payloadBytes: PAYLOAD.length, rows }, null, 2))
