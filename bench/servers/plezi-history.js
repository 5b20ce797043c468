// fastify-plezi for the history scenarios (bench/scenarios-history.js): like servers/plezi.js
// (onOpen subscribes, a "broadcast" message publishes), on the channel `bench/h`, which keeps
// history when BENCH_HISTORY=1 and is a plain channel otherwise: the same code, with and
// without history. Both publish the broadcast as an object, so the frame carries the same JSON
// either way. Extra IPC command: `publish { count, pad }` publishes `count` broadcasts itself
// (the reconnect storm).
import Fastify from 'fastify'
import { runServer } from '../lib/child.js'

const { default: plezi, Controller } = await import(process.env.BENCH_PLEZI_MODULE || 'fastify-plezi')

const CHANNEL = 'bench/h'
const HISTORY = process.env.BENCH_HISTORY === '1'
let connections = 0

class Shootout extends Controller {
  preConnect () { return true }

  onOpen () {
    connections++
    return this.subscribe(CHANNEL)
  }

  onMessage (data) {
    const msg = JSON.parse(data)
    if (msg.type === 'echo') {
      this.write(data)
    } else if (msg.type === 'broadcast') {
      this.publish(CHANNEL, { type: 'broadcast', payload: msg.payload })
      this.write(JSON.stringify({ type: 'broadcastResult', payload: msg.payload }))
    }
  }

  onClose () { connections-- }
}

runServer(async ({ host, redis, prefix }) => {
  const app = Fastify({ logger: { level: 'error' } })
  await app.register(plezi, {
    appName: prefix,
    clientPath: false,
    ...(redis ? { redis } : {}),
    ...(HISTORY ? { history: { channels: ['bench/#'], size: Number(process.env.BENCH_HISTORY_SIZE ?? 1000) } } : {})
  })
  app.plezi.route('/bench', Shootout)
  await app.listen({ host, port: 0 })
  return {
    port: app.server.address().port,
    connections: () => connections,
    commands: {
      async publish ({ count, pad = '' }) {
        let ok = 0
        for (let id = 0; id < count; id++) if (await app.plezi.publish(CHANNEL, { type: 'broadcast', payload: { id, pad } })) ok++
        return { published: ok }
      }
    }
  }
})
