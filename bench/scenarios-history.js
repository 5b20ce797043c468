// The history scenarios (issue 10): a channel that keeps history against the same channel
// without it, on the same server code (servers/plezi-history.js), and a reconnect storm.
// - history: broadcast to N clients, in-process store: server CPU per delivery;
// - history-scaleout: two server processes on Redis, clients split: delivered messages/s;
// - history-storm: N clients of a server killed with SIGKILL reconnect to the other one with
//   `_since_` and recover M messages each: all recovered? time and server CPU.
import { fileURLToPath } from 'node:url'
import { dropAppKeys } from './lib/redis.js'
import { startServer, startLoadgens, connectAll, fanoutCase, kindOf, loadgensFor, statsOf, stopAll, casePrefix, sleep } from './scenarios.js'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const SCRIPT = here('./servers/plezi-history.js')
const STORM_LOADGEN = here('./loadgen/history-clients.js')

// `plezi`: the plain channel, `plezi-history`: the same channel keeping history.
export const HISTORY_SERVERS = {
  plezi: { script: SCRIPT, env: { BENCH_HISTORY: '0' } },
  'plezi-history': { script: SCRIPT, env: { BENCH_HISTORY: '1' } }
}
const PATH = '/bench'
const wsUrl = (server, query = '') => `ws://127.0.0.1:${server.port}${PATH}${query}`
const start = (ctx, name, opts = {}) => startServer(ctx, name, { ...opts, spec: HISTORY_SERVERS[name] })

export async function historyCase (ctx, name, params) {
  const server = await start(ctx, name)
  try {
    return await fanoutCase(ctx, [server], [wsUrl(server)], kindOf(ctx, 'plezi'), params)
  } finally {
    await server.stop()
  }
}

export async function historyScaleOutCase (ctx, name, params) {
  const prefix = casePrefix()
  const servers = []
  try {
    for (let i = 0; i < 2; i++) servers.push(await start(ctx, name, { redis: ctx.redisUrl, prefix }))
    return { ...(await fanoutCase(ctx, servers, servers.map((s) => wsUrl(s)), kindOf(ctx, 'plezi'), params)), servers: 2 }
  } finally {
    await stopAll(servers)
    await dropAppKeys(ctx.redisUrl, prefix)
  }
}

// Asks the load generators' status until `ready(statuses)`, every 100 ms, within the phase timeout.
async function until (ctx, loadgens, ready) {
  const deadline = Date.now() + ctx.phaseTimeoutMs
  for (;;) {
    const statuses = await Promise.all(loadgens.map((lg) => lg.request('status')))
    if (ready(statuses)) return statuses
    if (Date.now() > deadline) throw new Error(`timed out waiting for the clients: ${JSON.stringify(statuses)}`)
    await sleep(100)
  }
}

// Each load generator's 'recovered' (every client of its batch has all the messages), or null
// once the phase is over: a storm that does not recover is a "no", not a failed case.
const recoveredOrNull = (ctx, lg) => lg.once('recovered', ctx.phaseTimeoutMs).catch(() => null)

// The storm: clients subscribe on A; A is killed; B publishes `messages`; every client
// reconnects to B with its `_since_` at once; timed until each has all of them.
export async function historyStormCase (ctx, name, { clients, messages, pad }) {
  const prefix = casePrefix()
  const a = await start(ctx, name, { redis: ctx.redisUrl, prefix })
  const b = await start(ctx, name, { redis: ctx.redisUrl, prefix })
  const loadgens = await startLoadgens(ctx, loadgensFor(ctx, clients), STORM_LOADGEN)
  try {
    await connectAll(loadgens, { urls: [wsUrl(a)], total: clients, timeoutMs: ctx.phaseTimeoutMs })
    const before = await until(ctx, loadgens, (all) => all.reduce((sum, s) => sum + s.seen, 0) === clients)
    const { epoch, offset } = before[0].first
    a.kill()
    await a.exited
    await Promise.all(loadgens.map((lg) => lg.request('close')))
    const { published } = await b.request('publish', { count: messages, pad: 'x'.repeat(pad) }, ctx.phaseTimeoutMs)
    if (published !== messages) throw new Error(`B published ${published} of ${messages}`)
    const since = encodeURIComponent(JSON.stringify({ 'bench/h': [epoch, offset] }))
    const recovered = Promise.all(loadgens.map((lg) => recoveredOrNull(ctx, lg)))
    const cpu0 = (await statsOf([b])).cpu
    const t0 = Number(process.hrtime.bigint() / 1000n)
    const connect = await connectAll(loadgens, { urls: [wsUrl(b, `?_since_=${since}`)], total: clients, expect: messages, timeoutMs: ctx.phaseTimeoutMs })
    const done = await recovered
    const cpu1 = (await statsOf([b])).cpu
    const after = await Promise.all(loadgens.map((lg) => lg.request('status')))
    const recoveredClients = after.reduce((sum, s) => sum + s.recovered, 0)
    const completeClients = after.reduce((sum, s) => sum + s.done, 0)
    const allRecovered = done.every(Boolean) && recoveredClients === clients && completeClients === clients
    return {
      clients,
      messages,
      recoveredClients,
      completeClients,
      allRecovered,
      reconnectMs: connect.ms,
      recoveredInMs: allRecovered ? (Math.max(...done.map((d) => d.t)) - t0) / 1000 : null,
      serverCpuMs: (cpu1 - cpu0) / 1000,
      serverCpuPerRecoveredMessageUs: (cpu1 - cpu0) / (clients * messages)
    }
  } finally {
    await stopAll([...loadgens, a, b])
    await dropAppKeys(ctx.redisUrl, prefix)
  }
}
