// fastify-plezi for the presence scenarios (bench/scenarios-presence.js). `/p?user=K` tracks K
// on "room" when BENCH_PRESENCE=1 and only connects otherwise: the same code, with and without
// presence. `/w` subscribes to the room's presence (`_presence_`, then `_presence_diff_`).
// With BENCH_REDIS_URL the engine, and so the presence store, is Redis, scoped by BENCH_PREFIX;
// BENCH_PRESENCE_TTL sets `presence.ttl` (refresh every ttl / 3). Extra IPC command:
// `presence` → this process's entries and the Redis store's counters (round trips, refreshes).
import Fastify from 'fastify'
import { pathToFileURL } from 'node:url'
import { runServer } from '../lib/child.js'

const moduleUrl = process.env.BENCH_PLEZI_MODULE ? pathToFileURL(process.env.BENCH_PLEZI_MODULE).href : import.meta.resolve('fastify-plezi')
const { default: plezi, Controller } = await import(moduleUrl)
// the store's counters are not public: read them next to the build under test
const { contextOf } = await import(new URL('./context.js', moduleUrl).href)

const tracking = process.env.BENCH_PRESENCE === '1'

class Tracked extends Controller {
  preConnect () { return true }
  onOpen () { if (tracking) return this.track('room', String(this.params.user), { n: 1 }) }
  onMessage () {}
}

class Watcher extends Controller {
  preConnect () { return true }
  onOpen () { return this.subscribePresence('room') }
  onMessage () {}
}

runServer(async ({ host, redis, prefix }) => {
  const app = Fastify({ logger: { level: 'error' } })
  const ttl = Number(process.env.BENCH_PRESENCE_TTL ?? 30_000)
  await app.register(plezi, { appName: prefix, clientPath: false, pingInterval: 0, ...(redis ? { redis } : {}), presence: { ttl } })
  app.plezi.route('/p', Tracked)
  app.plezi.route('/w', Watcher)
  await app.listen({ host, port: 0 })
  return {
    port: app.server.address().port,
    connections: () => app.plezi.stats().connections,
    commands: {
      presence: () => ({ entries: app.plezi.stats().presence.entries, redis: { ...(contextOf(app).presence.store.stats ?? {}) } })
    }
  }
})
