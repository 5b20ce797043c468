// Bare @fastify/websocket with a naive broadcast: `send` in a loop (ws frames
// the message again for every socket). /json echoes JSON.stringify of the parsed message: the
// work auto-dispatch does per event (parse it, serialise the handler's reply), by hand.
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

function onJsonEcho (data, isBinary) {
  if (isBinary) return
  this.send(JSON.stringify(JSON.parse(data.toString())))
}

runServer(async ({ host }) => {
  app = Fastify({ logger: { level: 'error' } })
  await app.register(websocket, { options: { perMessageDeflate: false } })
  app.get('/bench', { websocket: true }, (socket) => {
    socket.on('message', onMessage)
  })
  app.get('/json', { websocket: true }, (socket) => {
    socket.on('message', onJsonEcho)
  })
  await app.listen({ host, port: 0 })
  return {
    port: app.server.address().port,
    connections: () => app.websocketServer.clients.size
  }
})
