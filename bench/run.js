#!/usr/bin/env node
// npm run bench [-- --quick] — fastify-plezi against bare ws (frame-once),
// bare @fastify/websocket and Socket.IO, and its history and presence against the same
// channels without them; every server in its own process, driven by separate
// load-generator processes, interleaved round by round.
// Writes bench/results/latest.{json,md,svg} and prints the markdown table.
import { parseArgs } from 'node:util'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { resolve, join } from 'node:path'
import { loadavg } from 'node:os'
import { detectPinning, killAll } from './lib/procs.js'
import { ensureRedis } from './lib/redis.js'
import { machine } from './lib/machine.js'
import { buildSnapshot } from './lib/snapshot.js'
import { summarize } from './lib/summary.js'
import { round as roundTo } from './lib/stats.js'
import { writeReport } from './report.js'
import { SERVERS, DEFLATE_SERVERS, ECHO_VARIANTS, broadcastCase, compressionCase, echoCase, memoryCase, scaleOutCase, connectCase } from './scenarios.js'
import { HISTORY_SERVERS, historyCase, historyScaleOutCase, historyStormCase } from './scenarios-history.js'
import { PRESENCE_SERVERS, presenceCase, presenceStormCase, presenceRedisCase } from './scenarios-presence.js'
import { Progress } from './lib/progress.js'

const PRESETS = {
  quick: {
    rounds: 1,
    deadlineS: 220,
    broadcast: { clients: [1000], broadcasts: 100, senders: 4, pad: 200 },
    echo: { clients: 50, seconds: 3, warmSeconds: 0.5, pad: 200 },
    memory: { clients: 2000 },
    scaleout: { clients: 1000, broadcasts: 100, senders: 4, pad: 200 },
    connect: { clients: 1000, concurrency: 100 },
    compression: { clients: 1000, broadcasts: 20, senders: 4, bytes: 4096 },
    history: { clients: 1000, broadcasts: 100, senders: 4, pad: 200 },
    historyScaleout: { clients: 1000, broadcasts: 100, senders: 4, pad: 200 },
    historyStorm: { clients: 500, messages: 100, pad: 200 },
    presence: { clients: 1000, concurrency: 100 },
    presenceStorm: { clients: 500, watchers: 100, concurrency: 100 },
    presenceRedis: { clients: [10, 1000], ttl: 600, periods: 9 }
  },
  full: {
    rounds: 3,
    deadlineS: 32 * 60,
    broadcast: { clients: [1000, 5000, 10000], broadcasts: 100, senders: 4, pad: 200 },
    echo: { clients: 50, seconds: 10, warmSeconds: 1, pad: 200 },
    memory: { clients: 10000 },
    scaleout: { clients: 5000, broadcasts: 100, senders: 4, pad: 200 },
    connect: { clients: 5000, concurrency: 100 },
    compression: { clients: 5000, broadcasts: 20, senders: 4, bytes: 4096 },
    history: { clients: 5000, broadcasts: 100, senders: 4, pad: 200 },
    historyScaleout: { clients: 5000, broadcasts: 100, senders: 4, pad: 200 },
    historyStorm: { clients: 5000, messages: 100, pad: 200 },
    presence: { clients: 5000, concurrency: 100 },
    presenceStorm: { clients: 2000, watchers: 1000, concurrency: 100 },
    presenceRedis: { clients: [10, 5000], ttl: 600, periods: 9 }
  }
}

const SCENARIOS = {
  broadcast: { run: broadcastCase, subjects: Object.keys(SERVERS), params: (c) => c.broadcast.clients.map((clients) => ({ ...c.broadcast, clients })) },
  echo: { run: echoCase, subjects: Object.keys(ECHO_VARIANTS), params: (c) => [c.echo] },
  memory: { run: memoryCase, subjects: Object.keys(SERVERS), params: (c) => [c.memory] },
  scaleout: { run: scaleOutCase, subjects: ['plezi', 'socketio'], params: (c) => [c.scaleout], redis: true },
  connect: { run: connectCase, subjects: Object.keys(SERVERS), params: (c) => [c.connect] },
  compression: { run: compressionCase, subjects: [...Object.keys(DEFLATE_SERVERS), 'plezi'], params: (c) => [c.compression] },
  history: { run: historyCase, subjects: Object.keys(HISTORY_SERVERS), params: (c) => [c.history] },
  'history-scaleout': { run: historyScaleOutCase, subjects: Object.keys(HISTORY_SERVERS), params: (c) => [c.historyScaleout], redis: true },
  'history-storm': { run: historyStormCase, subjects: ['plezi-history'], params: (c) => [c.historyStorm], redis: true },
  presence: { run: presenceCase, subjects: Object.keys(PRESENCE_SERVERS), params: (c) => [c.presence] },
  'presence-storm': { run: presenceStormCase, subjects: ['plezi-presence'], params: (c) => [c.presenceStorm] },
  'presence-redis': { run: presenceRedisCase, subjects: ['plezi-presence'], params: (c) => c.presenceRedis.clients.map((clients) => ({ ...c.presenceRedis, clients })), redis: true }
}

const USAGE = `usage: npm run bench -- [options]
  --quick                 small run, about 3 minutes; its figures are not comparable to the
                          targets (default: full run, 16 to 23 minutes)
  --scenarios=a,b         subset of: ${Object.keys(SCENARIOS).join(', ')}
  --servers=a,b           subset of: ${[...new Set([...Object.keys(SERVERS), ...Object.keys(ECHO_VARIANTS), ...Object.keys(DEFLATE_SERVERS), ...Object.keys(HISTORY_SERVERS), ...Object.keys(PRESENCE_SERVERS)])].join(', ')}
  --rounds=N              interleaved rounds per case (medians are taken over them)
  --clients=N,N           broadcast client counts        --broadcasts=N   broadcasts per case
  --echo-seconds=S        echo duration                  --memory-clients=N
  --scaleout-clients=N    --connect-clients=N            --compression-clients=N
  --history-clients=N     history, history-scaleout and history-storm clients
  --presence-clients=N    presence and presence-storm connections, presence-redis's larger count
  --loadgens=N            load-generator processes
  --no-pin                do not pin with taskset        --out=DIR  (default bench/results)
  --client=raw|ws         websocket client in the load generator (default raw: lean frame parser)
  --cpu-prof              write a V8 CPU profile per server process to OUT/profiles/
  --snapshot              benchmark the committed HEAD, compiled into a temporary directory
                          (immune to rebuilds of dist/ during the run)
  --plezi=PATH            benchmark this build of fastify-plezi (default: dist/lib/index.js)`

function parseCli () {
  const { values } = parseArgs({
    options: Object.fromEntries([
      ['quick', 'boolean'], ['no-pin', 'boolean'], ['help', 'boolean'], ['scenarios', 'string'], ['servers', 'string'],
      ['rounds', 'string'], ['clients', 'string'], ['broadcasts', 'string'], ['echo-seconds', 'string'],
      ['memory-clients', 'string'], ['scaleout-clients', 'string'], ['connect-clients', 'string'], ['compression-clients', 'string'],
      ['history-clients', 'string'], ['presence-clients', 'string'], ['loadgens', 'string'], ['out', 'string'], ['plezi', 'string'], ['client', 'string'], ['cpu-prof', 'boolean'], ['snapshot', 'boolean']
    ].map(([name, type]) => [name, { type }]))
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const mode = values.quick ? 'quick' : 'full'
  const config = structuredClone(PRESETS[mode])
  const int = (name) => {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n <= 0) throw new TypeError(`--${name} must be a positive integer, got ${values[name]}`)
    return n
  }
  if (values.rounds) config.rounds = int('rounds')
  if (values.clients) config.broadcast.clients = values.clients.split(',').map(Number)
  if (values.broadcasts) {
    config.broadcast.broadcasts = config.scaleout.broadcasts = config.compression.broadcasts = int('broadcasts')
    config.history.broadcasts = config.historyScaleout.broadcasts = int('broadcasts')
  }
  if (values['echo-seconds']) config.echo.seconds = Number(values['echo-seconds'])
  if (values['memory-clients']) config.memory.clients = int('memory-clients')
  if (values['scaleout-clients']) config.scaleout.clients = int('scaleout-clients')
  if (values['connect-clients']) config.connect.clients = int('connect-clients')
  if (values['compression-clients']) config.compression.clients = int('compression-clients')
  if (values['history-clients']) config.history.clients = config.historyScaleout.clients = config.historyStorm.clients = int('history-clients')
  if (values['presence-clients']) {
    config.presence.clients = config.presenceStorm.clients = int('presence-clients')
    config.presenceRedis.clients = [config.presenceRedis.clients[0], int('presence-clients')]
  }
  const list = (name, all) => {
    if (!values[name]) return all
    const picked = values[name].split(',')
    for (const p of picked) if (!all.includes(p)) throw new TypeError(`--${name}: unknown "${p}"`)
    return picked
  }
  return {
    mode,
    config,
    scenarios: list('scenarios', Object.keys(SCENARIOS)),
    servers: values.servers ? values.servers.split(',') : null,
    loadgens: values.loadgens ? int('loadgens') : null,
    plezi: values.plezi ? resolve(values.plezi) : null,
    wsClient: list('client', ['raw', 'ws'])[0],
    cpuProf: Boolean(values['cpu-prof']),
    snapshot: Boolean(values.snapshot),
    pin: values['no-pin'] ? null : detectPinning(),
    out: values.out ?? fileURLToPath(new URL('./results', import.meta.url))
  }
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length])

function describe (params) {
  return params.clients ? `${params.clients} clients` : ''
}

// Which build of fastify-plezi, which Redis; notes say what was chosen or skipped.
async function prepare (cli) {
  const notes = []
  const ctx = { pin: cli.pin, loadgens: cli.loadgens, wsClient: cli.wsClient, caseMaxMs: 240_000, phaseTimeoutMs: cli.mode === 'quick' ? 30_000 : 120_000 }
  if (cli.cpuProf) ctx.profileDir = join(cli.out, 'profiles')
  if (cli.snapshot) {
    const snapshot = buildSnapshot(fileURLToPath(new URL('..', import.meta.url)))
    cli.plezi = snapshot.module
    cli.snapshotCommit = snapshot.commit
    notes.push(`fastify-plezi: committed HEAD ${snapshot.commit}, compiled into a private snapshot (--snapshot).`)
  } else if (cli.plezi) {
    notes.push(`fastify-plezi loaded from ${cli.plezi} (--plezi).`)
  }
  if (cli.plezi) process.env.BENCH_PLEZI_MODULE = cli.plezi
  const pleziBuilt = existsSync(cli.plezi ?? fileURLToPath(new URL('../dist/lib/index.js', import.meta.url)))
  if (!pleziBuilt) notes.push('fastify-plezi is not built (dist/lib/index.js missing): run `npm run build` first; plezi cases were skipped.')
  const onRedis = cli.scenarios.filter((s) => SCENARIOS[s].redis)
  if (onRedis.length > 0) {
    const redis = await ensureRedis()
    if (redis) ctx.redisUrl = redis.url
    else notes.push(`No Redis at 127.0.0.1:6379 and none could be started: ${onRedis.join(', ')} skipped.`)
  }
  ctx.wanted = (subject) => (!cli.servers || cli.servers.includes(subject)) && (pleziBuilt || !subject.startsWith('plezi'))
  return { ctx, notes }
}

async function runCase (ctx, cases, progress, item) {
  const { scenario, round, subject, params, run } = item
  const label = `[round ${round}] ${scenario} ${subject} ${describe(params)}`
  const t0 = Date.now()
  ctx.label = `${scenario}-${params.clients}`
  try {
    const result = { ...(await run(ctx, subject, params)), loadAvg1: roundTo(loadavg()[0], 2) }
    // A partial run (stall, timeout) is kept for the record but not in the medians.
    if (result.error) cases.push({ scenario, round, subject, params, error: result.error, partial: result })
    else cases.push({ scenario, round, subject, params, result })
    console.error(`${label}: ${JSON.stringify(result)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  } catch (err) {
    cases.push({ scenario, round, subject, params, error: err.message })
    console.error(`${label}: FAILED ${err.message}`)
  }
  progress.done(item, Date.now() - t0)
}

// Every case of the run, in order: round by round, every scenario, every server, the server
// order rotating.
function plan (cli, ctx) {
  const list = []
  for (let round = 1; round <= cli.config.rounds; round++) {
    for (const scenario of cli.scenarios) {
      const { run, subjects, params: paramsOf, redis } = SCENARIOS[scenario]
      if (redis && !ctx.redisUrl) continue
      for (const params of paramsOf(cli.config)) {
        for (const subject of rotate(subjects.filter(ctx.wanted), round - 1)) list.push({ scenario, round, subject, params, run })
      }
    }
  }
  return list
}

async function runAll (cli, ctx, notes, started, deadline) {
  const cases = []
  const list = plan(cli, ctx)
  const progress = new Progress(list, { started, deadline, log: (line) => console.error(line) })
  progress.start()
  for (const item of list) {
    if (Date.now() > deadline) {
      notes.push(`deadline reached: skipped [round ${item.round}] ${item.scenario} ${item.subject} ${describe(item.params)}`)
      progress.skipped(item)
      continue
    }
    await runCase(ctx, cases, progress, item)
  }
  return cases
}

async function main () {
  const cli = parseCli()
  const started = Date.now()
  const { ctx, notes } = await prepare(cli)
  const machineInfo = machine(cli.pin)
  if (cli.snapshotCommit) machineInfo.commit = `${cli.snapshotCommit} (committed HEAD, snapshot)`
  console.error(`bench: ${cli.mode} mode, ${cli.config.rounds} round(s), scenarios ${cli.scenarios.join(', ')}; ${cli.pin ? 'pinned' : 'not pinned'}`)
  const cases = await runAll(cli, ctx, notes, started, started + cli.config.deadlineS * 1000)
  const argv = process.argv.slice(2)
  const results = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    mode: cli.mode,
    machine: machineInfo,
    config: { ...cli.config, wsClient: cli.wsClient },
    durationS: Math.round((Date.now() - started) / 1000),
    loadAvgAtEnd: loadavg().map((l) => roundTo(l, 2)),
    notes,
    ...summarize(cases, { quick: cli.mode === 'quick' }),
    cases
  }
  mkdirSync(cli.out, { recursive: true })
  const { markdown } = writeReport(results, cli.out)
  console.log(markdown)
}

main().then(() => {
  killAll()
  process.exit(0)
}, (err) => {
  console.error(err)
  killAll()
  process.exit(1)
})
