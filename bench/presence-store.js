#!/usr/bin/env node
// node bench/presence-store.js [--quick] — the presence stores on loopback, bounded, stops by
// itself. Needs `npm run build` (it loads dist/) and redis-server (a private one on a free
// port; without it only the in-process figures are printed).
//   - track + untrack throughput, in-process and Redis
//   - Redis round trips and commands per refresh period at 100 and 10,000 entries
//   - Redis memory per entry (one big room; one room per connection)
//   - clean-up of a SIGKILLed process's 10,000 entries
//   - the diff feed in a join storm: frames built vs written
import { spawn, fork } from 'node:child_process'
import { createServer, createConnection } from 'node:net'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'

const dist = new URL('../dist/lib/presence/', import.meta.url)
if (!existsSync(fileURLToPath(new URL('redis-store.js', dist)))) {
  console.error('bench/presence-store.js loads dist/: run `npm run build` first')
  process.exit(1)
}
const { MemoryPresenceStore } = await import(new URL('memory-store.js', dist))
const { RedisPresenceStore } = await import(new URL('redis-store.js', dist))
const { PresenceFeed } = await import(new URL('diff.js', dist))

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }

// The child: a store that tracks COUNT entries, says so, and waits to be killed.
if (process.argv[2] === '--child') {
  const [,,, url, prefix, ttl, count] = process.argv
  const store = new RedisPresenceStore({ redis: url, prefix, ttl: Number(ttl), log: quiet })
  await store.ready()
  await inBatches(Number(count), (i) => store.track('big', `child-${i}`, `user-${i}`, { name: `user-${i}` }))
  process.send({ processId: store.processId })
  setInterval(() => {}, 1 << 30)
} else {
  await main()
}

async function main () {
  const quick = process.argv.includes('--quick')
  const N = quick ? 2000 : 10_000
  const rows = []
  const row = (what, value) => { rows.push([what, value]); console.error(`${what}: ${value}`) }
  const deadline = setTimeout(() => { console.error('bench deadline (120 s) passed: stopping'); process.exit(2) }, 120_000)

  const memory = new MemoryPresenceStore()
  row('in-process: track + untrack', await throughput(memory, N * 10))
  await memory.close()

  const redis = await privateRedis()
  if (redis === null) {
    row('Redis', 'redis-server not installed: skipped')
  } else {
    try {
      await redisFigures(redis, N, row)
    } finally {
      redis.proc.kill('SIGKILL')
    }
  }
  row('diff feed', await feedFigures())
  clearTimeout(deadline)
  console.log('\n| presence store | figure |\n|---|---|')
  for (const [what, value] of rows) console.log(`| ${what} | ${value} |`)
}

async function redisFigures (redis, N, row) {
  const prefix = `bench:${randomUUID()}:`
  const store = new RedisPresenceStore({ redis: redis.url, prefix, ttl: 600, log: quiet })
  await store.ready()
  row('Redis: track + untrack (1,000 in flight)', await throughput(store, N * 2))

  for (const entries of [100, 10_000]) {
    await inBatches(entries, (i) => store.track('refresh', `r${i}`, `user-${i}`, {}))
    const periods = 5
    await once(store, 'refresh')
    const trips = store.stats.roundTrips
    const before = commandStats(await command(redis.port, 'INFO commandstats'))
    for (let i = 0; i < periods; i++) await once(store, 'refresh')
    const after = commandStats(await command(redis.port, 'INFO commandstats'))
    const sent = ['evalsha', 'eval'].reduce((n, c) => n + (after[c] ?? 0) - (before[c] ?? 0), 0)
    row(`Redis: per refresh period, ${fmt(entries)} entries`, `${(store.stats.roundTrips - trips) / periods} round trip, ${sent / periods} script call (TIME + ZADD + ZRANGEBYSCORE inside Redis)`)
    await inBatches(entries, (i) => store.untrack('refresh', `r${i}`))
  }
  await store.close()

  const meta = { name: 'user-12345' }
  for (const [label, channelOf] of [['one room of 10,000', () => 'lobby'], ['10,000 rooms of one', (i) => `room-${i}`]]) {
    await command(redis.port, 'FLUSHALL')
    const s = new RedisPresenceStore({ redis: redis.url, prefix: `bench:${randomUUID()}:`, log: quiet })
    await s.ready()
    const base = usedMemory(await command(redis.port, 'INFO memory'))
    await inBatches(10_000, (i) => s.track(channelOf(i), randomUUID(), `user-${i}`, meta))
    const used = usedMemory(await command(redis.port, 'INFO memory')) - base
    row(`Redis memory per entry, ${label}`, `${Math.round(used / 10_000)} bytes (36-char conn id, 10-char key, meta ${JSON.stringify(meta)})`)
    await s.close()
  }

  // A process with N entries killed with SIGKILL: how long its clean-up takes, how many trips.
  const ttl = 1500
  const killPrefix = `bench:${randomUUID()}:`
  const survivor = new RedisPresenceStore({ redis: redis.url, prefix: killPrefix, ttl, log: quiet })
  await survivor.ready()
  const child = fork(fileURLToPath(import.meta.url), ['--child', redis.url, killPrefix, String(ttl), String(N)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await once(child, 'message')
  let leaves = 0
  await survivor.subscribe('big', (change) => { for (const k in change.leaves) leaves += change.leaves[k].metas.length })
  const { roundTrips, refreshes } = survivor.stats
  child.kill('SIGKILL')
  const killed = performance.now()
  const [{ entries }] = await once(survivor, 'cleanup')
  const done = performance.now()
  const cleanupTrips = (survivor.stats.roundTrips - roundTrips) - (survivor.stats.refreshes - refreshes)
  row(`Redis: SIGKILLed process with ${fmt(N)} entries (ttl ${ttl} ms)`, `all ${fmt(entries)} removed ${fmt(done - killed)} ms after the kill (${fmt(leaves)} leaves heard), ${cleanupTrips} round trips for the clean-up`)
  await survivor.close()
}

async function feedFigures () {
  const store = new MemoryPresenceStore()
  let built = 0
  let written = 0
  let bytes = 0
  const feed = new PresenceFeed({ store, interval: 100, write: (subs, frame) => { built++; written += subs.length; bytes += frame.length } })
  const subs = Array.from({ length: 1000 }, (_, i) => i)
  for (const sub of subs) await feed.subscribe('storm', sub)
  const stateFrames = built
  const t0 = performance.now()
  for (let i = 0; i < 2000; i++) await store.track('storm', `c${i}`, `user-${i}`, { i })
  for (let i = 0; i < 2000; i += 2) await store.untrack('storm', `c${i}`)
  while (built === stateFrames) await new Promise((resolve) => setTimeout(resolve, 10))
  const cpu = performance.now() - t0
  feed.close()
  await store.close()
  return `2,000 joins + 1,000 leaves with 1,000 subscribers: ${built - stateFrames} diff frame(s) built, ${fmt(written - stateFrames)} written, ${fmt(bytes / 1024)} KB built, ${fmt(cpu)} ms`
}

/** ops/s and this process's CPU µs per op (steadier than wall time on a shared machine). */
async function throughput (store, ops) {
  const half = ops / 2
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  await inBatches(half, (i) => store.track(`ch-${i % 100}`, `c${i}`, `user-${i % 500}`, { i }))
  await inBatches(half, (i) => store.untrack(`ch-${i % 100}`, `c${i}`))
  const cpu = process.cpuUsage(cpu0)
  return `${fmt(ops / ((performance.now() - t0) / 1000))} ops/s, ${((cpu.user + cpu.system) / ops).toFixed(1)} µs CPU per op`
}

async function inBatches (n, fn, batch = 1000) {
  for (let i = 0; i < n; i += batch) {
    const work = []
    for (let j = i; j < Math.min(n, i + batch); j++) work.push(fn(j))
    await Promise.all(work)
  }
}

async function privateRedis () {
  const port = await freePort()
  let proc
  try {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return null
  }
  process.on('exit', () => proc.kill('SIGKILL'))
  const failed = once(proc, 'error').then(() => null)
  let out = ''
  const ready = (async () => {
    for await (const chunk of proc.stdout) {
      out += chunk
      if (out.includes('Ready to accept connections')) return { proc, port, url: `redis://127.0.0.1:${port}` }
    }
    return null
  })()
  const result = await Promise.race([ready, failed])
  proc.stdout.resume()
  return result
}

async function freePort () {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  return port
}

function command (port, line) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let reply = ''
    socket.on('error', reject)
    socket.on('connect', () => socket.write(`${line}\r\nQUIT\r\n`))
    socket.on('data', (chunk) => { reply += chunk })
    socket.on('close', () => resolve(reply))
  })
}

function commandStats (info) {
  const stats = {}
  for (const m of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) stats[m[1]] = Number(m[2])
  return stats
}

function usedMemory (info) {
  return Number(/^used_memory:(\d+)/m.exec(info)[1])
}

function fmt (n) {
  return Math.round(n).toLocaleString('en-US')
}
