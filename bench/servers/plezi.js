// fastify-plezi, the Plezi way: onOpen subscribes the connection to a channel,
// onMessage publishes to it. /auto is the JSON auto-dispatch variant (echo).
// With BENCH_REDIS_URL set the pub/sub engine is Redis, scoped by BENCH_PREFIX;
// with BENCH_COMPRESSION=N, `compression: { threshold: N }` (permessage-deflate,
// each published message deflated once for all its subscribers).
import Fastify from 'fastify'
import { runServer } from '../lib/child.js'

// `npm run bench -- --plezi=PATH` benchmarks another build (e.g. a branch).
const { default: plezi, Controller } = await import(process.env.BENCH_PLEZI_MODULE || 'fastify-plezi')

const CHANNEL = 'bench/broadcast'
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
      this.publish(CHANNEL, JSON.stringify({ type: 'broadcast', payload: msg.payload }))
      this.write(JSON.stringify({ type: 'broadcastResult', payload: msg.payload }))
    }
  }

  onClose () { connections-- }
}

class AutoEcho extends Controller {
  static autoDispatch = true

  onOpen () { connections++ }
  onClose () { connections-- }

  echo (message) { return message }
}

runServer(async ({ host, redis, prefix }) => {
  const app = Fastify({ logger: { level: 'error' } })
  const threshold = Number(process.env.BENCH_COMPRESSION)
  await app.register(plezi, {
    appName: prefix,
    clientPath: false,
    ...(redis ? { redis } : {}),
    ...(threshold > 0 ? { compression: { threshold } } : {})
  })
  app.plezi.route('/bench', Shootout)
  app.plezi.route('/auto', AutoEcho)
  await app.listen({ host, port: 0 })
  return {
    port: app.server.address().port,
    connections: () => connections
  }
})
