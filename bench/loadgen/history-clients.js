// Load generator for the reconnect storm (history-storm, bench/scenarios-history.js): many `ws`
// clients of a history channel. Each records its `_sub_` (parsed) and counts its `_pub_` frames
// (recognised by one byte, not parsed); once every client of the batch has `expect` of them,
// 'recovered' is emitted with the time. Commands: connect, status, close.
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { guard, onCommands, emit, cpuMicros, nowMicros } from '../lib/child.js'

guard()

let clients = []
let batch = { expect: 0, count: 0, done: 0 }
const subs = { seen: 0, recovered: 0, wasRecovering: 0, first: null }

// `{"event":"_pub_"…` and `{"event":"_sub_"…`: the byte after `{"event":"_`.
const KIND_AT = 11
const PUB = 0x70 // p
const SUB = 0x73 // s

function open (url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: timeoutMs })
    const client = { ws, received: 0 }
    ws.on('message', (data) => {
      const kind = data[KIND_AT]
      if (kind === PUB) {
        if (++client.received === batch.expect && ++batch.done === batch.count) emit('recovered', { t: nowMicros() })
      } else if (kind === SUB) {
        const sub = JSON.parse(data)
        subs.seen++
        if (sub.recovered) subs.recovered++
        if (sub.wasRecovering) subs.wasRecovering++
        subs.first ??= { epoch: sub.epoch, offset: sub.offset }
      }
    })
    ws.once('open', () => resolve(client))
    ws.once('error', reject)
  })
}

async function connect ({ urls, count, offset = 0, concurrency = 100, expect = 0, timeoutMs = 10_000 }) {
  batch = { expect, count, done: 0 }
  const start = performance.now()
  const cpu0 = cpuMicros()
  const errors = []
  let next = 0
  let failed = 0
  async function worker () {
    while (next < count) {
      const i = next++
      try {
        clients.push(await open(urls[(offset + i) % urls.length], timeoutMs))
      } catch (err) {
        failed++
        if (errors.length < 3) errors.push(String(err?.message ?? err))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return { opened: count - failed, failed, errors, ms: performance.now() - start, cpu: cpuMicros() - cpu0 }
}

function status () {
  return { ...subs, done: batch.done, count: batch.count, cpu: cpuMicros() }
}

function close () {
  for (const { ws } of clients) ws.terminate()
  clients = []
  subs.seen = subs.recovered = subs.wasRecovering = 0
  subs.first = null
  return {}
}

onCommands({ connect, status, close, cpu: () => ({ cpu: cpuMicros() }) })
emit('ready', { pid: process.pid })
