// Load-generator process: holds many client connections and runs one phase at
// a time on command from bench/run.js (connect, track+send broadcasts, echo,
// close; presence frames are counted). Every loop is bounded by a count and a deadline.
import { performance } from 'node:perf_hooks'
import { guard, onCommands, emit, cpuMicros, nowMicros } from '../lib/child.js'
import { connectWs } from './ws-client.js'
import { connectRaw } from './raw-client.js'
import { connectSocketIo } from './socketio-client.js'
import { broadcastText } from '../lib/payload.js'

guard()

const CONNECTORS = { raw: connectRaw, ws: connectWs, socketio: connectSocketIo }

let clients = [] // by index; holes where a connection failed
let counts = new Int32Array(0) // receipts per broadcast id
let expected = 0 // open clients when tracking started
let results = 0
let closed = 0
const waits = new Map() // broadcast id → resolve(done?)
const echo = { phase: 'stop', count: 0, message: null }
// Broadcast frames received: how many, their bytes on the wire (header included), how many
// came compressed; and compressed payloads whose inflated text was not what was sent.
const wire = { frames: 0, bytes: 0, compressed: 0, corrupt: 0, firstCorrupt: null }
let fields = null // the broadcasts' members, to check inflated texts against
// Presence frames received: states (`_presence_`), diffs (`_presence_diff_`), the last diff's time.
const presence = { states: 0, diffs: 0, lastDiffAt: 0 }

const sink = {
  broadcast (id, frameBytes, compressed) {
    wire.frames++
    wire.bytes += frameBytes
    if (compressed) wire.compressed++
    if (id < counts.length && ++counts[id] === expected) emit('complete', { id, t: nowMicros() })
  },
  inflated (plain) {
    const text = plain.toString()
    const id = JSON.parse(text)?.payload?.id
    if (fields !== null && (text === broadcastText(id, fields) || text === broadcastText(id, fields, true))) return
    wire.corrupt++
    wire.firstCorrupt ??= text.slice(0, 200)
  },
  result () { results++ },
  echo (client) {
    if (echo.phase === 'stop') return
    echo.count++
    client.echo(echo.message)
  },
  presence (diff) {
    if (!diff) return void presence.states++
    presence.diffs++
    presence.lastDiffAt = nowMicros()
  },
  closed () { closed++ }
}

function openClients () {
  return clients.filter(Boolean)
}

async function connect ({ kind, urls, count, offset = 0, concurrency = 100, timeoutMs = 10_000, deflate = false }) {
  const open = CONNECTORS[kind]
  const start = performance.now()
  const cpu0 = cpuMicros()
  const errors = []
  let next = 0
  let failed = 0
  const base = clients.length
  async function worker () {
    while (next < count) {
      const i = next++
      try {
        // `{i}` in a URL: the client's index over all load generators (e.g. `?user={i}`)
        const url = urls[(offset + i) % urls.length].replace('{i}', String(offset + i))
        clients[base + i] = await open(url, sink, timeoutMs, { deflate })
      } catch (err) {
        failed++
        if (errors.length < 3) errors.push(String(err?.message ?? err))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  const negotiated = clients.slice(base).filter((c) => c?.deflate).length
  return { opened: count - failed, failed, errors, negotiated, ms: performance.now() - start, cpu: cpuMicros() - cpu0 }
}

function track ({ ids, fields: members = null }) {
  fields = members
  counts = new Int32Array(ids)
  expected = openClients().length
  results = 0
  return { expected }
}

// senders: [[id, id, …], …]; sender j sends from client j, waiting for the
// orchestrator's `done` (every client got it) before its next broadcast.
async function send ({ senders, fields }) {
  const cpu0 = cpuMicros()
  await Promise.all(senders.map(async (ids, j) => {
    const client = clients[j]
    if (!client) throw new Error(`sender ${j} has no connection`)
    for (const id of ids) {
      const t = nowMicros()
      client.broadcast(id, fields)
      emit('sent', { id, t })
      const done = await new Promise((resolve) => waits.set(id, resolve))
      if (!done) return
    }
  }))
  return { cpu: cpuMicros() - cpu0, results }
}

function done ({ bid }) {
  waits.get(bid)?.(true)
  waits.delete(bid)
}

function abort () {
  for (const resolve of waits.values()) resolve(false)
  waits.clear()
  return {}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function runEcho ({ clients: n, mode, pad, seconds, warmSeconds }) {
  const pingers = openClients().slice(0, n)
  echo.message = pingers[0]?.echoMessage(mode, pad)
  echo.phase = 'warm'
  for (const client of pingers) client.echo(echo.message)
  await sleep(warmSeconds * 1000)
  echo.count = 0
  echo.phase = 'measure'
  emit('measuring', {})
  const cpu0 = cpuMicros()
  const start = performance.now()
  await sleep(seconds * 1000)
  const count = echo.count
  const ms = performance.now() - start
  const cpu = cpuMicros() - cpu0
  echo.phase = 'stop'
  await sleep(200) // let the last round trips drain
  return { count, ms, cpu, clients: pingers.length }
}

function close () {
  for (const client of openClients()) client.close()
  clients = []
  return {}
}

onCommands({
  connect,
  track,
  send,
  done,
  abort,
  echo: runEcho,
  cpu: () => ({ cpu: cpuMicros(), open: openClients().length - closed, closed }),
  wire: () => ({ ...wire }),
  presence: () => ({ ...presence }),
  close
})
emit('ready', { pid: process.pid })
