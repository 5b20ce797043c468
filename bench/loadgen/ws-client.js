// Raw websocket client (the `ws` package, permessage-deflate off) speaking the
// websocket-shootout protocol. Incoming broadcasts are recognised without
// JSON.parse, so one process can keep up with thousands of sockets.
import WebSocket from 'ws'

const BROADCAST = Buffer.from('broadcast')
const ID_KEY = Buffer.from('"id":')
const R = 0x52 // 'R' of broadcastResult

function readId (buf, at) {
  let id = 0
  for (let i = at; i < buf.length; i++) {
    const c = buf[i] - 48
    if (c < 0 || c > 9) break
    id = id * 10 + c
  }
  return id
}

// Recognise a shootout message from its bytes; shared with raw-client.js.
// sink: { broadcast(id), result(id), echo(client), closed(client) }
export function classify (data, sink, client) {
  const i = data.indexOf(BROADCAST)
  if (i < 0) return sink.echo(client)
  const id = readId(data, data.indexOf(ID_KEY, i) + ID_KEY.length)
  if (data[i + BROADCAST.length] === R) sink.result(id)
  else sink.broadcast(id)
}

export function connectWs (url, sink, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: timeoutMs })
    const client = {
      send (text) { ws.send(text) },
      broadcast (id, pad) { ws.send(`{"type":"broadcast","payload":{"id":${id},"pad":"${pad}"}}`) },
      echo (text) { ws.send(text) },
      echoMessage (mode, pad) {
        return mode === 'event'
          ? `{"event":"echo","payload":{"pad":"${pad}"}}`
          : `{"type":"echo","payload":{"pad":"${pad}"}}`
      },
      close () { ws.terminate() }
    }
    ws.on('message', (data) => classify(data, sink, client))
    ws.once('open', () => resolve(client))
    ws.once('error', reject)
    ws.once('close', () => sink.closed(client))
  })
}
