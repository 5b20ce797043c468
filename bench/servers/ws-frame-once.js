// Reference: bare `ws`, broadcast framed ONCE with WebSocket.Sender.frame,
// header and payload joined into one buffer, the same bytes written to every
// socket (one write syscall per socket).
import { WebSocketServer, WebSocket, Sender } from 'ws'
import { runServer } from '../lib/child.js'

const FRAME_OPTIONS = { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: true }
let wss

function frameOnce (text) {
  const parts = Sender.frame(Buffer.from(text), FRAME_OPTIONS)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

function onMessage (data, isBinary) {
  if (isBinary) return
  const msg = JSON.parse(data.toString())
  if (msg.type === 'echo') {
    this.send(data, { binary: false })
  } else if (msg.type === 'broadcast') {
    const frame = frameOnce(JSON.stringify({ type: 'broadcast', payload: msg.payload }))
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client._socket.write(frame)
    }
    this.send(JSON.stringify({ type: 'broadcastResult', payload: msg.payload }))
  }
}

function onConnection (socket) {
  socket.on('message', onMessage)
}

runServer(async ({ host }) => {
  wss = new WebSocketServer({ host, port: 0, perMessageDeflate: false })
  wss.on('connection', onConnection)
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve)
    wss.once('error', reject)
  })
  return { port: wss.address().port, connections: () => wss.clients.size }
})
