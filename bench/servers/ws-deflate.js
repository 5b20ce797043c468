// Bare `ws` with permessage-deflate, the way ws compresses: per socket. The broadcast is a
// `send` loop, so ws deflates the same message once for every client, each socket with its own
// zlib stream. Negotiated like fastify-plezi's `compression: { threshold: 1024 }` — no server
// (or client) context takeover, same threshold, zlib defaults — so both put the same bytes on
// the wire and only the way of compressing differs. (ws's default, with server context
// takeover, compresses each message against that socket's previous ones: fewer bytes for
// repetitive traffic, but different bytes per client, and no setting fastify-plezi can offer.)
import { WebSocketServer, WebSocket } from 'ws'
import { runServer } from '../lib/child.js'

const PER_MESSAGE_DEFLATE = { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 1024 }
let wss

function onMessage (data, isBinary) {
  if (isBinary) return
  const msg = JSON.parse(data.toString())
  if (msg.type === 'echo') {
    this.send(data, { binary: false })
  } else if (msg.type === 'broadcast') {
    const text = JSON.stringify({ type: 'broadcast', payload: msg.payload })
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(text)
    }
    this.send(JSON.stringify({ type: 'broadcastResult', payload: msg.payload }))
  }
}

function onConnection (socket) {
  socket.on('message', onMessage)
}

runServer(async ({ host }) => {
  wss = new WebSocketServer({ host, port: 0, perMessageDeflate: PER_MESSAGE_DEFLATE })
  wss.on('connection', onConnection)
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve)
    wss.once('error', reject)
  })
  return { port: wss.address().port, connections: () => wss.clients.size }
})
