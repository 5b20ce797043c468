// The presence scenarios (issue 11), on the same server code with and without presence
// (servers/plezi-presence.js), clients in load-generator processes (loadgen/clients.js):
// - presence: connect + track + disconnect of N clients against connect + disconnect without
//   presence: server CPU per client;
// - presence-storm: N connections join and leave while M clients subscribe to the room's
//   presence: diff frames delivered per second, server CPU per delivered diff;
// - presence-redis: Redis round trips per refresh period with N entries (on Redis).
import { fileURLToPath } from 'node:url'
import { dropAppKeys } from './lib/redis.js'
import { startServer, startLoadgens, connectAll, kindOf, statsOf, cpuOf, stopAll, casePrefix, sleep } from './scenarios.js'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const SCRIPT = here('./servers/plezi-presence.js')

// `plezi`: connect only, `plezi-presence`: the same, each connection tracked on "room".
export const PRESENCE_SERVERS = {
  plezi: { script: SCRIPT, env: { BENCH_PRESENCE: '0' } },
  'plezi-presence': { script: SCRIPT, env: { BENCH_PRESENCE: '1' } }
}
const POLL_MS = 50
// a diff goes out every `presence.interval` (100 ms): this long without one, the storm is over
const QUIET_MS = 400

const wsUrl = (server, path) => `ws://127.0.0.1:${server.port}${path}`
const nowUs = () => Number(process.hrtime.bigint() / 1000n)

function start (ctx, name, { env = {}, ...opts } = {}) {
  const spec = PRESENCE_SERVERS[name]
  return startServer(ctx, name, { ...opts, spec: { ...spec, env: { ...spec.env, ...env } } })
}

// Asks `ask()` every POLL_MS until `ready(answer)`, within the phase timeout.
async function until (ctx, ask, ready, what) {
  const deadline = Date.now() + ctx.phaseTimeoutMs
  for (;;) {
    const answer = await ask()
    if (ready(answer)) return answer
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(answer)}`)
    await sleep(POLL_MS)
  }
}

// The server's connections and presence entries, in one reply each.
async function serverState (server) {
  const [stats, presence] = await Promise.all([statsOf([server]), server.request('presence')])
  return { conns: stats.conns, entries: presence.entries }
}

// `total` clients of `loadgen` connect to /p (each tracked when the server tracks), then all
// disconnect; resolves once the server has seen them go (and their entries with them).
async function joinAndLeave (ctx, server, loadgen, { total, concurrency, tag, tracked, others = 0 }) {
  const kind = kindOf(ctx, 'plezi')
  const connect = await connectAll([loadgen], { kind, urls: [wsUrl(server, `/p?user=${tag}{i}`)], total, concurrency, timeoutMs: ctx.phaseTimeoutMs })
  await until(ctx, () => serverState(server), (s) => s.conns === total + others && s.entries === (tracked ? total : 0), 'every client to be connected and tracked')
  await loadgen.request('close')
  await until(ctx, () => serverState(server), (s) => s.conns === others && s.entries === 0, 'every client to be gone')
  return connect
}

export async function presenceCase (ctx, name, { clients, concurrency }) {
  const tracked = name === 'plezi-presence'
  const server = await start(ctx, name)
  const [loadgen] = await startLoadgens(ctx, 1)
  try {
    // Warm the upgrade, track and close paths (JIT) with a first batch; not measured.
    await joinAndLeave(ctx, server, loadgen, { total: Math.min(200, clients), concurrency, tag: 'w', tracked })
    const [s0, l0] = await Promise.all([statsOf([server]), cpuOf([loadgen])])
    const t0 = Date.now()
    const connect = await joinAndLeave(ctx, server, loadgen, { total: clients, concurrency, tag: 'u', tracked })
    const ms = Date.now() - t0
    const [s1, l1] = await Promise.all([statsOf([server]), cpuOf([loadgen])])
    return {
      clients,
      concurrency,
      serverCpuPerClientUs: (s1.cpu - s0.cpu) / clients,
      churnMs: ms,
      connectMs: connect.ms,
      loadgenCpuPct: (100 * (l1 - l0)) / (ms * 1000)
    }
  } finally {
    await stopAll([loadgen, server])
  }
}

// The watchers' presence frames once no diff came for QUIET_MS.
async function quiet (ctx, watch) {
  let last = await watch.request('presence')
  const deadline = Date.now() + ctx.phaseTimeoutMs
  for (;;) {
    await sleep(QUIET_MS)
    const now = await watch.request('presence')
    if (now.diffs === last.diffs) return now
    if (Date.now() > deadline) throw new Error('presence diffs did not stop')
    last = now
  }
}

export async function presenceStormCase (ctx, name, { clients, watchers, concurrency }) {
  const server = await start(ctx, name)
  const [watch, storm] = await startLoadgens(ctx, 2)
  try {
    await connectAll([watch], { kind: kindOf(ctx, 'plezi'), urls: [wsUrl(server, '/w')], total: watchers, concurrency, timeoutMs: ctx.phaseTimeoutMs })
    await until(ctx, () => watch.request('presence'), (p) => p.states === watchers, 'every watcher\'s presence state')
    // A small storm first (JIT, the first diffs); not measured.
    await joinAndLeave(ctx, server, storm, { total: Math.min(200, clients), concurrency, tag: 'w', tracked: true, others: watchers })
    const p0 = await quiet(ctx, watch)
    const [s0, l0] = await Promise.all([statsOf([server]), cpuOf([storm, watch])])
    const t0 = nowUs()
    await joinAndLeave(ctx, server, storm, { total: clients, concurrency, tag: 'u', tracked: true, others: watchers })
    const p1 = await quiet(ctx, watch)
    const [s1, l1] = await Promise.all([statsOf([server]), cpuOf([storm, watch])])
    const frames = p1.diffs - p0.diffs
    if (frames === 0) throw new Error('no presence diff reached the watchers')
    const ms = (p1.lastDiffAt - t0) / 1000
    const cpu = s1.cpu - s0.cpu // the joins and leaves included; and QUIET_MS of idling
    return {
      clients,
      watchers,
      diffFrames: frames,
      diffsPerWatcher: frames / watchers,
      diffsPerSec: frames / (ms / 1000),
      stormMs: ms,
      serverCpuMs: cpu / 1000,
      serverCpuPerDiffUs: cpu / frames,
      loadgenCpuPct: (100 * (l1 - l0)) / (ms * 1000)
    }
  } finally {
    await stopAll([watch, storm, server])
  }
}

export async function presenceRedisCase (ctx, name, { clients, ttl, periods }) {
  const prefix = casePrefix()
  const server = await start(ctx, name, { redis: ctx.redisUrl, prefix, env: { BENCH_PRESENCE_TTL: ttl } })
  const [loadgen] = await startLoadgens(ctx, 1)
  try {
    await connectAll([loadgen], { kind: kindOf(ctx, 'plezi'), urls: [wsUrl(server, '/p?user=u{i}')], total: clients, timeoutMs: ctx.phaseTimeoutMs })
    await until(ctx, () => serverState(server), (s) => s.entries === clients, 'every client to be tracked')
    await sleep(ttl / 3) // a refresh after the last track
    const a = await server.request('presence')
    await sleep((periods * ttl) / 3)
    const b = await server.request('presence')
    const refreshes = b.redis.refreshes - a.redis.refreshes
    if (!(refreshes > 0)) throw new Error(`no presence refresh in ${periods} periods`)
    const roundTrips = b.redis.roundTrips - a.redis.roundTrips
    return { clients, ttl, entries: b.entries, refreshes, roundTrips, roundTripsPerRefresh: roundTrips / refreshes }
  } finally {
    await stopAll([loadgen, server])
    await dropAppKeys(ctx.redisUrl, prefix)
  }
}
