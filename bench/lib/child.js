// Child side of the bench processes (servers and load generators): a bounded
// lifetime, and a tiny request/reply protocol over the IPC channel.
//   parent → child  { cmd, id?, ...args }   (no id: a notification, no reply)
//   child → parent  { reply: id, ok, ...result } | { ev, ...data }

import { writeHeapSnapshot } from 'node:v8'

const MAX_LIFETIME_MS = Number(process.env.BENCH_MAX_MS ?? 600_000)

export function guard () {
  // Never outlive the orchestrator, nor the time it gave us.
  process.on('disconnect', () => process.exit(0))
  setTimeout(() => {
    console.error(`[${process.argv[1]}] lifetime of ${MAX_LIFETIME_MS} ms over, exiting`)
    process.exit(3)
  }, MAX_LIFETIME_MS).unref()
}

export function emit (ev, data) {
  if (process.connected) process.send({ ev, ...data })
}

export function onCommands (handlers) {
  process.on('message', async (msg) => {
    if (msg.cmd === 'exit') process.exit(0) // the kernel closes every socket
    const handler = handlers[msg.cmd]
    if (msg.id === undefined) {
      if (handler) handler(msg)
      return
    }
    try {
      if (!handler) throw new Error(`unknown command ${msg.cmd}`)
      const result = await handler(msg)
      if (process.connected) process.send({ reply: msg.id, ok: true, ...result })
    } catch (err) {
      if (process.connected) process.send({ reply: msg.id, ok: false, error: String(err?.stack ?? err) })
    }
  })
}

export function cpuMicros () {
  const { user, system } = process.cpuUsage()
  return user + system
}

export function nowMicros () {
  // CLOCK_MONOTONIC: comparable across processes on the same machine.
  return Number(process.hrtime.bigint() / 1000n)
}

async function collectGarbage () {
  if (!globalThis.gc) return
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

export function serverStats (connections) {
  return async ({ gc }) => {
    if (gc) await collectGarbage()
    const mem = process.memoryUsage()
    return { cpu: cpuMicros(), rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, conns: connections() }
  }
}

// Every server script calls this: start() listens on 127.0.0.1 and returns
// { port, connections(), commands? } (commands: extra IPC handlers, e.g. `publish`); the
// parent is told the port once it listens.
export async function runServer (start) {
  guard()
  const options = {
    host: '127.0.0.1',
    redis: process.env.BENCH_REDIS_URL || undefined,
    prefix: process.env.BENCH_PREFIX || `bench_${process.pid}`
  }
  try {
    const { port, connections, commands = {} } = await start(options)
    onCommands({
      ...commands,
      stats: serverStats(connections),
      // bench/heap.js: what the open connections keep alive
      heapSnapshot: async ({ path }) => {
        await collectGarbage()
        return { path: writeHeapSnapshot(path), conns: connections() }
      }
    })
    emit('ready', { port, pid: process.pid })
  } catch (err) {
    emit('failed', { error: String(err?.stack ?? err) })
    setImmediate(() => process.exit(1))
  }
}
