// Socket.IO 4, websocket transport only; with BENCH_REDIS_URL set it uses
// @socket.io/redis-adapter (ioredis), keyed by BENCH_PREFIX.
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { runServer } from '../lib/child.js'

async function redisAdapter (url, key) {
  const { Redis } = await import('ioredis')
  const { createAdapter } = await import('@socket.io/redis-adapter')
  const pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 })
  const sub = pub.duplicate()
  await Promise.all([pub.connect(), sub.connect()])
  return createAdapter(pub, sub, { key })
}

runServer(async ({ host, redis, prefix }) => {
  const http = createServer()
  const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false })
  if (redis) io.adapter(await redisAdapter(redis, prefix))

  io.on('connection', (socket) => {
    socket.on('echo', (payload) => socket.emit('echo', payload))
    socket.on('broadcast', (payload) => {
      io.emit('broadcast', payload)
      socket.emit('broadcastResult', payload)
    })
  })

  await new Promise((resolve, reject) => {
    http.once('error', reject)
    http.listen(0, host, resolve)
  })
  return {
    port: http.address().port,
    connections: () => io.engine.clientsCount
  }
})
