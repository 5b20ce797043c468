// A server for bench/presence.js: fastify-plezi from dist/, port 0, reports it over IPC.
// `/p?user=K` tracks K on "room" when PRESENCE=1 (else only connects); `/w` subscribes to the
// room's presence. IPC: 'cpu' → process.cpuUsage(), 'redis' → the Redis store's counters.
import Fastify from 'fastify'
import plezi, { Controller } from '../../dist/lib/index.js'
import { contextOf } from '../../dist/lib/context.js'

const tracking = process.env.PRESENCE === '1'
class P extends Controller {
  onOpen () { if (tracking) return this.track('room', String(this.params.user), { n: 1 }) }
  onMessage () {}
}
class W extends Controller {
  onOpen () { return this.subscribePresence('room') }
  onMessage () {}
}
const app = Fastify()
await app.register(plezi, { pingInterval: 0, clientPath: false, ...(process.env.REDIS ? { redis: process.env.REDIS, appName: process.env.APP } : {}), presence: { ttl: Number(process.env.TTL ?? 30000) } })
app.plezi.route('/p', P)
app.plezi.route('/w', W)
await app.listen({ port: 0, host: '127.0.0.1' })
process.on('message', (cmd) => {
  if (cmd === 'cpu') process.send({ cpu: process.cpuUsage() })
  if (cmd === 'redis') process.send({ redis: { ...contextOf(app).presence.store.stats }, entries: app.plezi.stats().presence.entries })
})
process.on('disconnect', () => { app.close().then(() => process.exit(0)) })
process.send({ port: app.server.address().port })
