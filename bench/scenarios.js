// One function per scenario case: start the server process(es) and load
// generators, run one measurement, stop everything. bench/run.js interleaves
// the cases and takes medians.
import { fileURLToPath } from 'node:url'
import { Child } from './lib/procs.js'
import { Fanout } from './lib/fanout.js'
import { percentile } from './lib/stats.js'
import { padFields, chatFields } from './lib/payload.js'
import { dropAppKeys } from './lib/redis.js'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))

export const SERVERS = {
  'ws-frame-once': { script: here('./servers/ws-frame-once.js'), client: 'ws', path: '/bench' },
  'fastify-websocket': { script: here('./servers/fastify-websocket.js'), client: 'ws', path: '/bench' },
  socketio: { script: here('./servers/socketio.js'), client: 'socketio', path: '' },
  plezi: { script: here('./servers/plezi.js'), client: 'ws', path: '/bench' }
}

// The compression scenario's subjects (not part of the other scenarios).
export const COMPRESSION_THRESHOLD = 1024
export const DEFLATE_SERVERS = {
  'plezi-deflate': { script: here('./servers/plezi.js'), client: 'ws', path: '/bench', env: { BENCH_COMPRESSION: COMPRESSION_THRESHOLD } },
  'ws-deflate': { script: here('./servers/ws-deflate.js'), client: 'ws', path: '/bench' }
}
const ALL_SERVERS = { ...SERVERS, ...DEFLATE_SERVERS }

// Echo variants: which server, which endpoint, which message shape.
export const ECHO_VARIANTS = {
  plezi: { server: 'plezi', path: '/bench', mode: 'type' },
  'plezi-auto': { server: 'plezi', path: '/auto', mode: 'event' },
  'plezi-request': { server: 'plezi', path: '/auto', mode: 'request' },
  'fastify-websocket': { server: 'fastify-websocket', path: '/bench', mode: 'type' },
  // the protocol work of auto-dispatch (parse the message, serialise the reply), done by hand
  'fastify-websocket-json': { server: 'fastify-websocket', path: '/json', mode: 'type' },
  socketio: { server: 'socketio', path: '', mode: 'type' }
}

const LOADGEN = here('./loadgen/clients.js')
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let caseNumber = 0
/** A Redis key prefix (appName) of its own for a case. */
export const casePrefix = () => `bench_${process.pid}_${++caseNumber}`

// `spec` ({ script, env }): a server that is not one of ALL_SERVERS (history, presence).
export async function startServer (ctx, name, { redis = null, prefix, spec = ALL_SERVERS[name] } = {}) {
  const number = ++caseNumber
  // --cpu-prof: one V8 profile per server process, for `node --cpu-prof` style digging.
  const profile = ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${String(number).padStart(3, '0')}-${ctx.label ?? 'case'}-${name}.cpuprofile`] : []
  const child = new Child(name, spec.script, {
    cpus: ctx.pin?.server,
    nodeArgs: ['--expose-gc', ...profile],
    maxMs: ctx.caseMaxMs,
    env: {
      BENCH_REDIS_URL: redis,
      BENCH_PREFIX: prefix ?? `bench_${process.pid}_${number}`,
      // In-process pub/sub unless the scenario asks for Redis.
      REDIS_URL: null,
      PL_REDIS_URL: null,
      NODE_ENV: 'production',
      ...spec.env
    }
  })
  const failed = child.once('failed', 20_000).then((msg) => { throw new Error(`${name} failed to start: ${msg.error}`) })
  const ready = await Promise.race([child.once('ready', 20_000), failed])
  failed.catch(() => {})
  child.port = ready.port
  return child
}

export async function startLoadgens (ctx, count, script = LOADGEN) {
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const child = new Child(`loadgen-${i}`, script, { cpus: ctx.pin?.loadgen, maxMs: ctx.caseMaxMs })
    await child.once('ready', 10_000)
    return child
  }))
}

export function url (name, port, path = ALL_SERVERS[name].path) {
  return `${ALL_SERVERS[name].client === 'ws' ? 'ws' : 'http'}://127.0.0.1:${port}${path}`
}

// Websocket servers are driven by the lean raw client unless --client=ws.
export function kindOf (ctx, name) {
  const kind = ALL_SERVERS[name].client
  return kind === 'ws' ? ctx.wsClient : kind
}

export function loadgensFor (ctx, clients) {
  return ctx.loadgens ?? Math.max(1, Math.ceil(clients / 5000))
}

// Split `total` connections over the load generators; client i (global index)
// goes to urls[i % urls.length]. `extra`: more arguments for the load generator's connect.
export async function connectAll (loadgens, { kind, urls, total, concurrency = 100, timeoutMs, deflate = false, ...extra }) {
  let offset = 0
  const replies = await Promise.all(loadgens.map((lg, k) => {
    const count = Math.floor(total / loadgens.length) + (k < total % loadgens.length ? 1 : 0)
    const args = { ...extra, kind, urls, count, offset, concurrency, deflate }
    offset += count
    return lg.request('connect', args, timeoutMs)
  }))
  const opened = replies.reduce((sum, r) => sum + r.opened, 0)
  const errors = replies.flatMap((r) => r.errors)
  if (opened !== total) throw new Error(`only ${opened} of ${total} clients connected: ${errors.join('; ')}`)
  return {
    ms: Math.max(...replies.map((r) => r.ms)),
    cpu: replies.reduce((sum, r) => sum + r.cpu, 0),
    negotiated: replies.reduce((sum, r) => sum + (r.negotiated ?? 0), 0)
  }
}

async function wireOf (loadgens) {
  const replies = await Promise.all(loadgens.map((lg) => lg.request('wire')))
  return replies.reduce((acc, r) => ({
    frames: acc.frames + r.frames,
    bytes: acc.bytes + r.bytes,
    compressed: acc.compressed + r.compressed,
    corrupt: acc.corrupt + r.corrupt,
    firstCorrupt: acc.firstCorrupt ?? r.firstCorrupt
  }), { frames: 0, bytes: 0, compressed: 0, corrupt: 0, firstCorrupt: null })
}

export async function cpuOf (children) {
  const replies = await Promise.all(children.map((c) => c.request('cpu')))
  return replies.reduce((sum, r) => sum + r.cpu, 0)
}

export async function statsOf (servers, gc = false) {
  const replies = await Promise.all(servers.map((s) => s.request('stats', { gc }, 30_000)))
  return replies.reduce((acc, r) => ({
    cpu: acc.cpu + r.cpu,
    rss: acc.rss + r.rss,
    heapUsed: acc.heapUsed + r.heapUsed,
    conns: acc.conns + r.conns
  }), { cpu: 0, rss: 0, heapUsed: 0, conns: 0 })
}

export async function stopAll (children) {
  await Promise.all(children.map((c) => c.stop()))
}

// Broadcast (and scale-out, and compression): connect, warm up, measure B broadcasts.
// `fields`: the broadcast's members; `deflate`: clients offer permessage-deflate, and the
// result says what came over the wire and the server's memory after the run.
export async function fanoutCase (ctx, servers, urls, kind, { clients, broadcasts, senders, pad }, { fields = padFields(pad), deflate = false } = {}) {
  const loadgens = await startLoadgens(ctx, loadgensFor(ctx, clients))
  const fanout = new Fanout(loadgens, servers, { broadcasts, senders, fields })
  try {
    const base = deflate ? await statsOf(servers, true) : null
    const connect = await connectAll(loadgens, { kind, urls, total: clients, timeoutMs: ctx.phaseTimeoutMs, deflate })
    await sleep(300)
    const tracked = await fanout.track()
    if (tracked !== clients) throw new Error(`${tracked} of ${clients} clients still open`)
    // a warm-up broadcast may take seconds where the server compresses for every socket
    await fanout.warmUp(deflate ? 20_000 : 3000)
    const [s0, l0, w0] = await Promise.all([statsOf(servers), cpuOf(loadgens), deflate ? wireOf(loadgens) : null])
    const run = await fanout.measure(ctx.phaseTimeoutMs)
    const [s1, l1, w1] = await Promise.all([statsOf(servers), cpuOf(loadgens), deflate ? wireOf(loadgens) : null])
    const deliveries = run.completed * clients
    const ms = (us) => us / 1000
    const result = {
      clients,
      broadcasts: run.completed,
      error: run.error ?? undefined,
      p50Ms: ms(percentile(run.latenciesUs, 50)),
      p95Ms: ms(percentile(run.latenciesUs, 95)),
      maxMs: ms(Math.max(...run.latenciesUs)),
      deliveries,
      deliveredPerSec: deliveries / (run.wallMs / 1000),
      serverCpuPerDeliveryUs: (s1.cpu - s0.cpu) / deliveries,
      serverCpuPct: (100 * (s1.cpu - s0.cpu)) / (run.wallMs * 1000) / servers.length,
      loadgenCpuPct: (100 * (l1 - l0)) / (run.wallMs * 1000),
      loadgens: loadgens.length,
      connectMs: connect.ms
    }
    if (!deflate) return result
    const frames = w1.frames - w0.frames
    if (w1.corrupt > 0) result.error ??= `${w1.corrupt} compressed broadcasts did not inflate to what was sent: ${w1.firstCorrupt}`
    if (frames !== deliveries) result.error ??= `${frames} broadcast frames received for ${deliveries} deliveries`
    // after the run, so that per-socket compressors (ws) exist; after GC, like `memory`
    const after = await statsOf(servers, true)
    return {
      ...result,
      negotiated: connect.negotiated,
      payloadBytes: Buffer.byteLength(`{"type":"broadcast","payload":{"id":${broadcasts},${fields}}}`),
      wireBytesPerDelivery: (w1.bytes - w0.bytes) / frames,
      compressedShare: (w1.compressed - w0.compressed) / frames,
      rssMB: after.rss / 2 ** 20,
      rssPerConnKB: (after.rss - base.rss) / clients / 1024,
      baseRssMB: base.rss / 2 ** 20
    }
  } finally {
    fanout.dispose()
    await stopAll(loadgens)
  }
}

export async function broadcastCase (ctx, name, params) {
  const server = await startServer(ctx, name)
  try {
    return await fanoutCase(ctx, [server], [url(name, server.port)], kindOf(ctx, name), params)
  } finally {
    await server.stop()
  }
}

// A realistic 4 KB JSON message to clients that all offer permessage-deflate: fastify-plezi
// compressing once per publish, `ws` compressing per socket, and fastify-plezi uncompressed.
// Always the raw client: it is the one that can count compressed bytes.
export async function compressionCase (ctx, name, params) {
  const server = await startServer(ctx, name)
  try {
    const result = await fanoutCase(ctx, [server], [url(name, server.port)], 'raw', params, { fields: chatFields(params.bytes), deflate: true })
    const wanted = name === 'plezi' ? 0 : params.clients
    if (result.negotiated !== wanted) result.error ??= `${result.negotiated} of ${params.clients} clients negotiated permessage-deflate, expected ${wanted}`
    return result
  } finally {
    await server.stop()
  }
}

export async function scaleOutCase (ctx, name, params) {
  const prefix = casePrefix()
  const servers = []
  try {
    for (let i = 0; i < 2; i++) servers.push(await startServer(ctx, name, { redis: ctx.redisUrl, prefix }))
    const urls = servers.map((s) => url(name, s.port))
    return { ...(await fanoutCase(ctx, servers, urls, kindOf(ctx, name), params)), servers: 2 }
  } finally {
    await stopAll(servers)
    await dropAppKeys(ctx.redisUrl, prefix)
  }
}

export async function echoCase (ctx, variantName, { clients, seconds, warmSeconds, pad }) {
  const variant = ECHO_VARIANTS[variantName]
  const server = await startServer(ctx, variant.server)
  const [loadgen] = await startLoadgens(ctx, 1)
  try {
    await connectAll([loadgen], { kind: kindOf(ctx, variant.server), urls: [url(variant.server, server.port, variant.path)], total: clients, timeoutMs: ctx.phaseTimeoutMs })
    let s0 = null
    const onPhase = () => { s0 = statsOf([server]) }
    loadgen.on('measuring', onPhase)
    const run = await loadgen.request('echo', { clients, seconds, warmSeconds, mode: variant.mode, pad: 'x'.repeat(pad) }, (seconds + warmSeconds) * 1000 + 10_000)
    const s1 = await statsOf([server])
    const serverCpu = s1.cpu - (await s0).cpu // includes ~200 ms of drain: an upper bound
    return {
      clients,
      messagesPerSec: run.count / (run.ms / 1000),
      serverCpuPerMessageUs: serverCpu / run.count,
      loadgenCpuPct: (100 * run.cpu) / (run.ms * 1000)
    }
  } finally {
    await stopAll([loadgen, server])
  }
}

export async function memoryCase (ctx, name, { clients }) {
  const server = await startServer(ctx, name)
  const loadgens = await startLoadgens(ctx, loadgensFor(ctx, clients))
  try {
    const before = await statsOf([server], true)
    await connectAll(loadgens, { kind: kindOf(ctx, name), urls: [url(name, server.port)], total: clients, timeoutMs: ctx.phaseTimeoutMs })
    await sleep(1000)
    const after = await statsOf([server], true)
    if (after.conns !== clients) throw new Error(`server counts ${after.conns} connections, expected ${clients}`)
    return {
      clients,
      rssPerConnKB: (after.rss - before.rss) / clients / 1024,
      heapPerConnKB: (after.heapUsed - before.heapUsed) / clients / 1024,
      rssMB: after.rss / 2 ** 20,
      baseRssMB: before.rss / 2 ** 20
    }
  } finally {
    await stopAll(loadgens)
    await server.stop()
  }
}

export async function connectCase (ctx, name, { clients, concurrency }) {
  const server = await startServer(ctx, name)
  const [loadgen] = await startLoadgens(ctx, 1)
  try {
    // Warm the upgrade path (JIT) with a first batch, closed again; not measured.
    await connectAll([loadgen], { kind: kindOf(ctx, name), urls: [url(name, server.port)], total: Math.min(200, clients), concurrency, timeoutMs: ctx.phaseTimeoutMs })
    await loadgen.request('close')
    await sleep(200)
    const s0 = await statsOf([server])
    const run = await connectAll([loadgen], { kind: kindOf(ctx, name), urls: [url(name, server.port)], total: clients, concurrency, timeoutMs: ctx.phaseTimeoutMs })
    const s1 = await statsOf([server])
    return {
      clients,
      concurrency,
      upgradesPerSec: clients / (run.ms / 1000),
      serverCpuPerUpgradeUs: (s1.cpu - s0.cpu) / clients,
      loadgenCpuPct: (100 * run.cpu) / (run.ms * 1000)
    }
  } finally {
    await stopAll([loadgen, server])
  }
}
