// Bare @fastify/websocket with a naive broadcast: `send` in a loop (ws frames
// the message again for every socket).
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { runServer } from '../lib/child.js'

let app

function onMessage (data, isBinary) {
  if (isBinary) return
  const msg = JSON.parse(data.toString())
  if (msg.type === 'echo') {
    this.send(data, { binary: false })
  } else if (msg.type === 'broadcast') {
    const text = JSON.stringify({ type: 'broadcast', payload: msg.payload })
    for (const client of app.websocketServer.clients) {
      if (client.readyState === 1) client.send(text)
    }
    this.send(JSON.stringify({ type: 'broadcastResult', payload: msg.payload }))
  }
}

runServer(async ({ host }) => {
  app = Fastify({ logger: { level: 'error' } })
  await app.register(websocket, { options: { perMessageDeflate: false } })
  app.get('/bench', { websocket: true }, (socket) => {
    socket.on('message', onMessage)
  })
  await app.listen({ host, port: 0 })
  return {
    port: app.server.address().port,
    connections: () => app.websocketServer.clients.size
  }
})
