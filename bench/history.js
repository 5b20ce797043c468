#!/usr/bin/env node
// node bench/history.js [--quick] [--scenarios=broadcast,scaleout,storm] [--rounds=N]
//   [--clients=N] [--storm-clients=N] [--storm-messages=N] [--no-pin]
// History channels against the same channel without history (issue 10, item 9), each pair in
// the same run, interleaved round by round (the order alternates), ratios per round, medians:
// - broadcast: one server, in-process store, N clients — server CPU per delivery (≤ 1.1×);
// - scaleout: two servers on Redis, clients split — delivered messages/s (≥ 0.8×);
// - storm: N clients of a server killed with SIGKILL reconnect to the other one with
//   `_since_` and recover M messages each — all recovered? time and server CPU.
// Every server and load generator is a process of its own (bench/lib/procs.js). Needs
// `npm run build` (fastify-plezi from dist/) and, for scaleout and storm, Redis at
// 127.0.0.1:6379. Writes bench/results/history.json and prints a markdown table.
import { parseArgs } from 'node:util'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { Child, detectPinning, killAll } from './lib/procs.js'
import { Fanout } from './lib/fanout.js'
import { ensureRedis } from './lib/redis.js'
import { machine } from './lib/machine.js'
import { median, percentile, round } from './lib/stats.js'
import { Redis } from 'ioredis'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const SERVER = here('./servers/plezi-history.js')
const LOADGEN = here('./loadgen/clients.js')
const STORM_LOADGEN = here('./loadgen/history-clients.js')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const PRESETS = {
  quick: { rounds: 1, broadcast: { clients: 500, broadcasts: 50, senders: 4, pad: 200 }, scaleout: { clients: 500, broadcasts: 50, senders: 4, pad: 200 }, storm: { clients: 500, messages: 100, pad: 200 } },
  full: { rounds: 3, broadcast: { clients: 5000, broadcasts: 100, senders: 4, pad: 200 }, scaleout: { clients: 5000, broadcasts: 100, senders: 4, pad: 200 }, storm: { clients: 5000, messages: 100, pad: 200 } }
}

const { values } = parseArgs({
  options: Object.fromEntries([['quick', 'boolean'], ['no-pin', 'boolean'], ['scenarios', 'string'], ['rounds', 'string'],
    ['clients', 'string'], ['storm-clients', 'string'], ['storm-messages', 'string']].map(([name, type]) => [name, { type }]))
})
const config = structuredClone(PRESETS[values.quick ? 'quick' : 'full'])
if (values.rounds) config.rounds = Number(values.rounds)
if (values.clients) config.broadcast.clients = config.scaleout.clients = Number(values.clients)
if (values['storm-clients']) config.storm.clients = Number(values['storm-clients'])
if (values['storm-messages']) config.storm.messages = Number(values['storm-messages'])
const scenarios = values.scenarios ? values.scenarios.split(',') : ['broadcast', 'scaleout', 'storm']
const pin = values['no-pin'] ? null : detectPinning()
const ctx = { pin, caseMaxMs: 240_000, phaseTimeoutMs: values.quick ? 30_000 : 120_000, redisUrl: null }
let caseNumber = 0

async function startServer ({ history, redis = null, prefix }) {
  const child = new Child(`plezi-${history ? 'history' : 'plain'}`, SERVER, {
    cpus: ctx.pin?.server,
    nodeArgs: ['--expose-gc'],
    maxMs: ctx.caseMaxMs,
    env: { BENCH_HISTORY: history ? '1' : '0', BENCH_REDIS_URL: redis, BENCH_PREFIX: prefix ?? `bench_h_${process.pid}_${++caseNumber}`, REDIS_URL: null, PL_REDIS_URL: null, NODE_ENV: 'production' }
  })
  const failed = child.once('failed', 20_000).then((msg) => { throw new Error(`server failed to start: ${msg.error}`) })
  failed.catch(() => {})
  child.port = (await Promise.race([child.once('ready', 20_000), failed])).port
  return child
}

async function startLoadgens (count, script = LOADGEN) {
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const child = new Child(`loadgen-${i}`, script, { cpus: ctx.pin?.loadgen, maxMs: ctx.caseMaxMs })
    await child.once('ready', 10_000)
    return child
  }))
}

async function connectAll (loadgens, args) {
  let offset = 0
  const replies = await Promise.all(loadgens.map((lg, k) => {
    const count = Math.floor(args.total / loadgens.length) + (k < args.total % loadgens.length ? 1 : 0)
    const request = { ...args, count, offset }
    offset += count
    return lg.request('connect', request, ctx.phaseTimeoutMs)
  }))
  const opened = replies.reduce((sum, r) => sum + r.opened, 0)
  if (opened !== args.total) throw new Error(`only ${opened} of ${args.total} clients connected: ${replies.flatMap((r) => r.errors).join('; ')}`)
  return { ms: Math.max(...replies.map((r) => r.ms)) }
}

// Asks the load generators' status until `ready(statuses)`, every 100 ms, within the phase timeout.
async function until (loadgens, ready) {
  const deadline = Date.now() + ctx.phaseTimeoutMs
  for (;;) {
    const statuses = await Promise.all(loadgens.map((lg) => lg.request('status')))
    if (ready(statuses)) return statuses
    if (Date.now() > deadline) throw new Error(`timed out waiting for the clients: ${JSON.stringify(statuses)}`)
    await sleep(100)
  }
}

// The history keys a case's apps (appName `prefix`) leave in Redis: positions live for a day.
async function dropHistoryKeys (prefix) {
  const conn = new Redis(ctx.redisUrl)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await conn.scan(cursor, 'MATCH', `plezi:history:{${prefix}/*`, 'COUNT', 1000)
      if (keys.length > 0) await conn.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    conn.disconnect()
  }
}

const cpuOf = async (children) => (await Promise.all(children.map((c) => c.request('stats', { gc: false })))).reduce((sum, r) => sum + r.cpu, 0)
const stopAll = (children) => Promise.all(children.map((c) => c.stop()))
const loadgensFor = (clients) => Math.max(1, Math.ceil(clients / 5000))

// Broadcast and scale-out: as bench/scenarios.js does it (Fanout: a broadcast counts when every
// client has it), with the servers given.
async function fanout (servers, { clients, broadcasts, senders, pad }) {
  const loadgens = await startLoadgens(loadgensFor(clients))
  const run = new Fanout(loadgens, servers, { broadcasts, senders, pad: 'x'.repeat(pad) })
  try {
    await connectAll(loadgens, { kind: 'raw', urls: servers.map((s) => `ws://127.0.0.1:${s.port}/bench`), total: clients })
    await sleep(300)
    const tracked = await run.track()
    if (tracked !== clients) throw new Error(`${tracked} of ${clients} clients still open`)
    await run.warmUp()
    const cpu0 = await cpuOf(servers)
    const result = await run.measure(ctx.phaseTimeoutMs)
    const cpu1 = await cpuOf(servers)
    const deliveries = result.completed * clients
    return {
      clients,
      broadcasts: result.completed,
      error: result.error ?? undefined,
      p50Ms: percentile(result.latenciesUs, 50) / 1000,
      deliveredPerSec: deliveries / (result.wallMs / 1000),
      serverCpuPerDeliveryUs: (cpu1 - cpu0) / deliveries
    }
  } finally {
    run.dispose()
    await stopAll(loadgens)
  }
}

async function broadcastCase (history, params) {
  const server = await startServer({ history })
  try {
    return await fanout([server], params)
  } finally {
    await server.stop()
  }
}

async function scaleOutCase (history, params) {
  const prefix = `bench_h_${process.pid}_${++caseNumber}`
  const servers = []
  try {
    for (let i = 0; i < 2; i++) servers.push(await startServer({ history, redis: ctx.redisUrl, prefix }))
    return { ...(await fanout(servers, params)), servers: 2 }
  } finally {
    await stopAll(servers)
    await dropHistoryKeys(prefix)
  }
}

// The storm: clients subscribe on A; A is killed; B publishes `messages`; every client
// reconnects to B with its `_since_` at once; timed until each has all of them.
async function stormCase ({ clients, messages, pad }) {
  const prefix = `bench_h_${process.pid}_${++caseNumber}`
  const a = await startServer({ history: true, redis: ctx.redisUrl, prefix })
  const b = await startServer({ history: true, redis: ctx.redisUrl, prefix })
  const loadgens = await startLoadgens(loadgensFor(clients), STORM_LOADGEN)
  try {
    await connectAll(loadgens, { urls: [`ws://127.0.0.1:${a.port}/bench`], total: clients })
    const before = await until(loadgens, (all) => all.reduce((sum, s) => sum + s.seen, 0) === clients)
    const { epoch, offset } = before[0].first
    a.kill()
    await a.exited
    await Promise.all(loadgens.map((lg) => lg.request('close')))
    const { published } = await b.request('publish', { count: messages, pad: 'x'.repeat(pad) }, ctx.phaseTimeoutMs)
    if (published !== messages) throw new Error(`B published ${published} of ${messages}`)
    const since = encodeURIComponent(JSON.stringify({ 'bench/h': [epoch, offset] }))
    const recovered = Promise.all(loadgens.map((lg) => lg.once('recovered', ctx.phaseTimeoutMs)))
    const cpu0 = await cpuOf([b])
    const t0 = Number(process.hrtime.bigint() / 1000n)
    const connect = await connectAll(loadgens, { urls: [`ws://127.0.0.1:${b.port}/bench?_since_=${since}`], total: clients, expect: messages })
    const done = await recovered
    const cpu1 = await cpuOf([b])
    const after = await Promise.all(loadgens.map((lg) => lg.request('status')))
    const recoveredClients = after.reduce((sum, s) => sum + s.recovered, 0)
    const completeClients = after.reduce((sum, s) => sum + s.done, 0)
    const ms = (Math.max(...done.map((d) => d.t)) - t0) / 1000
    return {
      clients,
      messages,
      recoveredClients,
      completeClients,
      allRecovered: recoveredClients === clients && completeClients === clients,
      reconnectMs: connect.ms,
      recoveredInMs: ms,
      serverCpuMs: (cpu1 - cpu0) / 1000,
      serverCpuPerRecoveredMessageUs: (cpu1 - cpu0) / (clients * messages)
    }
  } finally {
    await stopAll([...loadgens, a, b])
    await dropHistoryKeys(prefix)
  }
}

async function main () {
  const started = Date.now()
  if (scenarios.some((s) => s !== 'broadcast')) {
    const redis = await ensureRedis()
    if (redis === null) throw new Error('scaleout and storm need Redis at 127.0.0.1:6379')
    ctx.redisUrl = redis.url
  }
  const rounds = []
  for (let round = 1; round <= config.rounds; round++) {
    const row = { round }
    // with and without history in alternating order, so drift of the machine hits both
    const order = round % 2 === 1 ? [true, false] : [false, true]
    for (const scenario of scenarios) {
      if (scenario === 'storm') {
        row.storm = await stormCase(config.storm)
        console.error(`[round ${round}] storm: ${JSON.stringify(row.storm)}`)
        continue
      }
      const run = scenario === 'broadcast' ? broadcastCase : scaleOutCase
      for (const history of order) {
        const result = await run(history, config[scenario])
        row[`${scenario}${history ? 'History' : 'Plain'}`] = { ...result, loadAvg1: round2(loadavg()[0]) }
        console.error(`[round ${round}] ${scenario} ${history ? 'history' : 'plain'}: ${JSON.stringify(result)}`)
      }
    }
    rounds.push(row)
  }
  const ratios = {
    broadcastCpuPerDelivery: median(rounds.map((r) => r.broadcastHistory && r.broadcastPlain ? r.broadcastHistory.serverCpuPerDeliveryUs / r.broadcastPlain.serverCpuPerDeliveryUs : null)),
    scaleOutDeliveredPerSec: median(rounds.map((r) => r.scaleoutHistory && r.scaleoutPlain ? r.scaleoutHistory.deliveredPerSec / r.scaleoutPlain.deliveredPerSec : null))
  }
  const results = { command: `node bench/history.js ${process.argv.slice(2).join(' ')}`.trim(), machine: machine(pin), config, durationS: Math.round((Date.now() - started) / 1000), ratios, rounds }
  const out = here('./results')
  mkdirSync(out, { recursive: true })
  writeFileSync(`${out}/history.json`, JSON.stringify(results, null, 2) + '\n')
  console.log(report(results))
}

const round2 = (v) => round(v, 2)

function report ({ config, ratios, rounds }) {
  const med = (pick) => round2(median(rounds.map(pick)))
  const lines = ['| scenario | without history | with history | ratio | target |', '| --- | --- | --- | --- | --- |']
  if (rounds[0].broadcastHistory) {
    lines.push(`| broadcast to ${config.broadcast.clients} clients, in-process: server CPU per delivery (µs) | ${med((r) => r.broadcastPlain?.serverCpuPerDeliveryUs)} | ${med((r) => r.broadcastHistory?.serverCpuPerDeliveryUs)} | ${round2(ratios.broadcastCpuPerDelivery)}× | ≤ 1.1× |`)
  }
  if (rounds[0].scaleoutHistory) {
    lines.push(`| scale-out, 2 processes on Redis, ${config.scaleout.clients} clients: delivered messages/s | ${med((r) => r.scaleoutPlain?.deliveredPerSec)} | ${med((r) => r.scaleoutHistory?.deliveredPerSec)} | ${round2(ratios.scaleOutDeliveredPerSec)}× | ≥ 0.8× |`)
  }
  if (rounds[0].storm) {
    const s = config.storm
    lines.push('', '| reconnect storm | median |', '| --- | --- |',
      `| ${s.clients} clients of a killed process reconnect and recover ${s.messages} messages each: all recovered | ${rounds.every((r) => r.storm.allRecovered) ? 'yes, every round' : 'NO'} |`,
      `| time from the first reconnect to the last recovered message (ms) | ${med((r) => r.storm.recoveredInMs)} |`,
      `| of which connecting (ms) | ${med((r) => r.storm.reconnectMs)} |`,
      `| server CPU (ms) | ${med((r) => r.storm.serverCpuMs)} |`,
      `| server CPU per recovered message (µs) | ${med((r) => r.storm.serverCpuPerRecoveredMessageUs)} |`)
  }
  return lines.join('\n')
}

main().then(() => {
  killAll()
  process.exit(0)
}, (err) => {
  console.error(err)
  killAll()
  process.exit(1)
})
