#!/usr/bin/env node
// node bench/heap.js [--servers=plezi,fastify-websocket] [--clients=2000] [--out=DIR]
// What an idle connection keeps alive: for each server, a heap snapshot before the first
// connection and one with N idle connections (both after GC), then the objects that grew,
// grouped by constructor, per connection. The .heapsnapshot files stay in OUT for Chrome
// DevTools (Memory tab, "Comparison" view) when the summary is not enough.
import { parseArgs } from 'node:util'
import { readFileSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SERVERS, startServer, startLoadgens, connectAll, url, stopAll } from './scenarios.js'
import { detectPinning, killAll } from './lib/procs.js'

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'plezi,fastify-websocket' },
    clients: { type: 'string', default: '2000' },
    out: { type: 'string', default: fileURLToPath(new URL('./results/tmp/heap', import.meta.url)) },
    top: { type: 'string', default: '25' }
  }
})
const clients = Number(values.clients)
const out = resolve(values.out)
mkdirSync(out, { recursive: true })

// Count and self size per "type:name" (constructor name for objects, "(closure) fn" for closures).
function census (path) {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'))
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta
  const width = fields.length
  const at = (f) => fields.indexOf(f)
  const [TYPE, NAME, SIZE] = [at('type'), at('name'), at('self_size')]
  const { nodes, strings } = snapshot
  const groups = new Map()
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + TYPE]]
    let name = strings[nodes[i + NAME]]
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)'
    else if (type === 'number') name = '(heap numbers)'
    else if (type === 'code' || type === 'hidden') name = `(${type})`
    else if (type === 'array') name = `(array) ${name}`
    else if (type === 'closure') name = `(closure) ${name || 'anonymous'}`
    else if (type !== 'object' && type !== 'native') name = `(${type}) ${name}`
    const key = name.length > 90 ? name.slice(0, 90) + '…' : name
    const g = groups.get(key) ?? { count: 0, size: 0 }
    g.count++
    g.size += nodes[i + SIZE]
    groups.set(key, g)
  }
  return groups
}

function growth (before, after) {
  const rows = []
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 }
    const count = a.count - b.count
    const size = a.size - b.size
    if (size > 0 || count > 0) rows.push({ key, perConn: count / clients, bytesPerConn: size / clients })
  }
  return rows.sort((x, y) => y.bytesPerConn - x.bytesPerConn)
}

async function measure (name) {
  const ctx = { pin: detectPinning(), caseMaxMs: 600_000, wsClient: 'raw' }
  const server = await startServer(ctx, name)
  const loadgens = await startLoadgens(ctx, Math.max(1, Math.ceil(clients / 5000)))
  try {
    const before = join(out, `${name}-0.heapsnapshot`)
    const after = join(out, `${name}-${clients}.heapsnapshot`)
    await server.request('heapSnapshot', { path: before }, 120_000)
    await connectAll(loadgens, { kind: 'raw', urls: [url(name, server.port)], total: clients, timeoutMs: 60_000 })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const taken = await server.request('heapSnapshot', { path: after }, 120_000)
    if (taken.conns !== clients) throw new Error(`${name}: ${taken.conns} connections, expected ${clients}`)
    return { before, after }
  } finally {
    await stopAll(loadgens)
    await server.stop()
  }
}

const names = values.servers.split(',')
for (const name of names) if (!SERVERS[name]) throw new TypeError(`unknown server ${name}`)
for (const name of names) {
  const { before, after } = await measure(name)
  const rows = growth(census(before), census(after))
  const total = rows.reduce((sum, r) => sum + r.bytesPerConn, 0)
  console.log(`\n${name}: ${clients} idle connections, V8 heap objects that grew: ${(total / 1024).toFixed(2)} KB per connection (self sizes)`)
  console.log('  bytes/conn  objects/conn  what')
  for (const r of rows.slice(0, Number(values.top))) {
    console.log(`  ${r.bytesPerConn.toFixed(0).padStart(10)}  ${r.perConn.toFixed(2).padStart(12)}  ${r.key}`)
  }
  console.log(`  snapshots: ${before}, ${after}`)
}
killAll()
process.exit(0)
