// Socket.IO client (websocket transport only, no reconnection) speaking the
// shootout protocol as Socket.IO events.
import { io } from 'socket.io-client'

// The same members as the websocket clients send, as an object (parsed once per text).
let lastFields = null
let lastMembers = null
function membersOf (fields) {
  if (fields !== lastFields) {
    lastMembers = JSON.parse(`{${fields}}`)
    lastFields = fields
  }
  return lastMembers
}

export function connectSocketIo (url, sink, timeoutMs) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: timeoutMs })
    const client = {
      broadcast (id, fields) { socket.emit('broadcast', { id, ...membersOf(fields) }) },
      echo (payload) { socket.emit('echo', payload) },
      echoMessage (mode, pad) { return { pad } },
      close () { socket.disconnect() }
    }
    socket.on('broadcast', (payload) => sink.broadcast(payload.id))
    socket.on('broadcastResult', (payload) => sink.result(payload.id))
    socket.on('echo', () => sink.echo(client))
    socket.once('connect', () => resolve(client))
    socket.once('connect_error', reject)
    socket.once('disconnect', () => sink.closed(client))
  })
}
